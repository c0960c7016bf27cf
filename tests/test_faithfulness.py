"""Faithfulness tables: tuning beside visualized motion, per kernel and per layer, on known answers."""

import csv
import json
import math

import numpy as np
import pytest
import torch

from kernelvis.analysis.faithfulness import (best_clip_activations, build_faithfulness, fit_clips, layer_agreement,
                                             save_faithfulness)
from kernelvis.data.synthetic import drifting_grating
from kernelvis.errors import BadInputError
from kernelvis.geometry import angular_difference_deg
from kernelvis.models.planted import PlantedUnit, planted_model
from kernelvis.models.activation import kernel_activation


def _kernel(results, layer, kernel, summary=None, tuning=None):
    directory = results / "toy" / layer / f"kernel_{kernel:04d}"
    directory.mkdir(parents=True)
    if summary is not None:
        (directory / "summary.json").write_text(json.dumps(summary))
    if tuning is not None:
        (directory / "tuning.json").write_text(json.dumps(tuning))


@pytest.fixture()
def toy_results(tmp_path):
    results = tmp_path / "results"
    # layer conv2: selective and agreeing across the 0/360 wrap (error 20°), selective but opposite (180°),
    # not selective (DSI 0.1, ignored), and one with no tuning yet.
    _kernel(results, "conv2", 0, {"direction_deg": 350.0, "direction_strength": 0.9, "activation": 4.0},
            {"preferred_direction_deg": 10.0, "dsi": 0.9, "best_grating_activation": 2.0})
    _kernel(results, "conv2", 1, {"direction_deg": 90.0, "direction_strength": 0.8, "activation": 1.0},
            {"preferred_direction_deg": 270.0, "dsi": 0.5, "best_grating_activation": 4.0})
    _kernel(results, "conv2", 2, {"direction_deg": 0.0, "direction_strength": 0.2, "activation": 1.0},
            {"preferred_direction_deg": 120.0, "dsi": 0.1, "best_grating_activation": 1.0})
    _kernel(results, "conv2", 3, {"direction_deg": 0.0, "activation": 1.0})
    # layer conv10 sorts after conv2 (natural order): one agreeing kernel.
    _kernel(results, "conv10", 5, {"direction_deg": 44.0, "activation": 3.0},
            {"preferred_direction_deg": 60.0, "dsi": 0.31, "best_grating_activation": 3.0})
    (results / "toy" / "conv2" / "notes").mkdir()  # not a kernel directory: ignored
    return results


def test_rows_and_layer_agreement_on_known_answers(toy_results):
    rows, agreement = build_faithfulness(toy_results, "toy")
    assert [(row["layer"], row["kernel"]) for row in rows] == [("conv2", 0), ("conv2", 1), ("conv2", 2), ("conv2", 3), ("conv10", 5)]
    first, opposite, weak, untuned, deep = rows
    assert first["angular_error_deg"] == pytest.approx(20.0)
    assert first["agrees"] == 1 and first["activation_vs_best_grating"] == pytest.approx(2.0)
    assert opposite["angular_error_deg"] == pytest.approx(180.0) and opposite["direction_selective"] == 1
    assert opposite["agrees"] == 0
    assert weak["direction_selective"] == 0
    assert math.isnan(untuned["dsi"]) and untuned["direction_selective"] == 0
    assert math.isnan(first["best_clip_activation"])
    by_layer = {entry["layer"]: entry for entry in agreement}
    assert [entry["layer"] for entry in agreement] == ["conv2", "conv10"]
    assert (by_layer["conv2"]["kernels"], by_layer["conv2"]["selective"], by_layer["conv2"]["agreeing"]) == (4, 2, 1)
    assert by_layer["conv2"]["agreement"] == pytest.approx(0.5)
    assert by_layer["conv2"]["median_error_deg"] == pytest.approx(100.0)
    assert by_layer["conv10"]["agreement"] == pytest.approx(1.0)


def test_layer_without_selective_kernels_has_undefined_agreement():
    rows = [{"model": "m", "layer": "a", "direction_selective": 0, "agrees": 0, "angular_error_deg": 5.0}]
    (entry,) = layer_agreement(rows)
    assert entry["selective"] == 0 and math.isnan(entry["agreement"])


def test_save_writes_both_csvs(toy_results, tmp_path):
    rows, agreement = build_faithfulness(toy_results, "toy")
    out = tmp_path / "out" / "faithfulness.csv"
    save_faithfulness(rows, agreement, out)
    with open(out) as handle:
        table = list(csv.DictReader(handle))
    assert len(table) == 5 and float(table[0]["angular_error_deg"]) == pytest.approx(20.0)
    assert table[3]["dsi"] == ""  # missing, not a made-up number
    with open(out.with_name("faithfulness_layers.csv")) as handle:
        layers = list(csv.DictReader(handle))
    assert [row["layer"] for row in layers] == ["conv2", "conv10"] and float(layers[0]["agreement"]) == 0.5


def test_missing_model_is_a_clear_error(tmp_path):
    with pytest.raises(BadInputError, match="no results for model"):
        build_faithfulness(tmp_path, "nothing")


def test_best_clip_activation_is_the_response_to_the_best_clip():
    units = [PlantedUnit("drift", 45.0), PlantedUnit("drift", 225.0)]
    model = planted_model(units, frames=8, size=24)
    # Clips stored larger than the model's input (as sampled clips are): 12 frames of 32x40.
    clips = np.stack([drifting_grating(12, 40, direction, 0.125, 0.125).video[:, 4:36] for direction in (45.0, 225.0, 0.0)])
    best = best_clip_activations(model, "energy", [0, 1], clips, batch_size=2)
    fitted = torch.from_numpy(fit_clips(clips, 8, 24)).permute(0, 4, 1, 2, 3)
    assert fitted.shape == (3, 3, 8, 24, 24)
    for kernel, own_clip in ((0, 0), (1, 1)):
        expected = kernel_activation(model, "energy", fitted, kernel)
        assert int(expected.argmax()) == own_clip  # each unit likes the grating moving its way best
        assert best[kernel] == pytest.approx(float(expected.max()), rel=1e-5)


def test_faithfulness_command_writes_tables_and_figure(toy_results, capsys):
    from kernelvis.cli import main

    assert main(["faithfulness", "--model", "toy", "--results", str(toy_results)]) == 0
    out_dir = toy_results / "toy"
    assert (out_dir / "faithfulness.csv").is_file() and (out_dir / "faithfulness_layers.csv").is_file()
    assert (out_dir / "figures" / "faithfulness.png").stat().st_size > 1000
    assert (out_dir / "figures" / "faithfulness.pdf").is_file()
    assert "| conv2 | 4 | 2 | 1 | 50 % |" in capsys.readouterr().out


def test_faithfulness_command_with_explicit_summaries_as_the_workflow_calls_it(toy_results, tmp_path, capsys):
    from kernelvis.cli import main

    summaries = [str(toy_results / "toy" / "conv10" / "kernel_0005" / "summary.json"),
                 str(toy_results / "toy" / "conv2" / "kernel_0001" / "summary.json")]
    out, figure = tmp_path / "f.csv", tmp_path / "fig" / "f.png"
    assert main(["faithfulness", "--model", "demo", "--model-name", "toy", "--summaries", *summaries,
                 "--out-file", str(out), "--figure", str(figure)]) == 0
    with open(out) as handle:
        table = list(csv.DictReader(handle))
    assert [(row["layer"], row["kernel"], row["agrees"]) for row in table] == [("conv10", "5", "1"), ("conv2", "1", "0")]
    assert figure.is_file() and figure.with_suffix(".pdf").is_file()


class _GeometricMean(torch.nn.Module):
    def forward(self, energy):
        return torch.sqrt(energy[:, 0::2] * energy[:, 1::2] + 1e-6)


class _PatternMotionNet(torch.nn.Module):
    """Planted pattern-motion units: unit k is the geometric mean of two planted drift energy units whose
    gratings (normals at θ_k ± 45°) both move with one velocity of ``speed`` px/frame toward θ_k.

    A plain drift unit's optimal input is a 1D grating, whose motion is only defined across its stripes
    (the aperture problem); the geometric mean makes the optimum a plaid, a 2D pattern with one true
    velocity, so the direction of the visualized motion has a ground truth.
    """

    def __init__(self, directions_deg, speed=1.0, spatial_freq=0.125, half_angle_deg=45.0):
        super().__init__()
        component_tf = spatial_freq * speed * np.cos(np.radians(half_angle_deg))  # normal speed of each grating
        units = [PlantedUnit("drift", theta + sign * half_angle_deg, spatial_freq, component_tf)
                 for theta in directions_deg for sign in (1, -1)]
        from kernelvis.models.planted import PlantedEnergyNet

        self.components = PlantedEnergyNet(units, frames=5, size=11)
        self.pattern = _GeometricMean()

    def forward(self, x):
        return self.pattern(self.components(x))


def test_end_to_end_tuning_optimize_decompose_agree_on_planted_pattern_units():
    from kernelvis.analysis.faithfulness import faithfulness_row
    from kernelvis.analysis.tuning import TuningConfig, tune_kernels
    from kernelvis.decompose.fit import DecomposeConfig, decompose_videos
    from kernelvis.decompose.stats import motion_summary
    from kernelvis.models.loaded import LoadedModel
    from kernelvis.models.preprocessing import Preprocessing
    from kernelvis.optimize.api import OptimizeConfig, optimize_kernels
    from kernelvis.optimize.transforms import TransformConfig

    directions = (20.0, 110.0, 200.0, 290.0)
    model = LoadedModel("pattern", _PatternMotionNet(directions), Preprocessing(frames=10, size=32))
    kernels = list(range(len(directions)))
    tunings = tune_kernels(model, "pattern", kernels, TuningConfig(
        directions=16, spatial_freqs=(0.125,), temporal_freqs=(0.125,), dot_speeds_px_per_frame=(1.0,)))
    optimal = optimize_kernels(model, "pattern", kernels, OptimizeConfig(
        steps=30, lr=0.2, param="pixel", seed=0, transforms=TransformConfig(jitter_px=2.0, scale_range=(1.0, 1.0))))
    videos = np.stack([result.video for result in optimal])
    # 32-px clips of an 8-px-period plaid: two pyramid levels (a coarser one would alias the pattern).
    decompositions = decompose_videos(videos, DecomposeConfig(steps=30, flow_levels=2))
    for theta, tuning, result, video, decomposition in zip(directions, tunings, optimal, videos, decompositions):
        summary = {"activation": result.activation, **motion_summary(video, decomposition)}
        assert float(angular_difference_deg(summary["direction_deg"], theta)) < 20.0, (theta, summary)
        # Random dots drive both components of a pattern unit: the probe finds the planted direction too.
        assert float(angular_difference_deg(tuning.dots["preferred_direction_deg"], theta)) < 20.0, (theta, tuning.dots)
        row = faithfulness_row("pattern", "pattern", tuning.kernel, summary,
                               {**tuning.summary(), "preferred_direction_deg": tuning.dots["preferred_direction_deg"],
                                "dsi": tuning.dots["dsi"]})
        assert row["direction_selective"] == 1 and row["agrees"] == 1, row
        assert row["activation_vs_best_grating"] > 1.0  # the optimum beats every single grating


def test_faithfulness_command_measures_best_natural_clip_from_uint8_clip_set(tmp_path, monkeypatch):
    import kernelvis.models.zoo as zoo
    from kernelvis.cli import main
    from kernelvis.io import save_npz, to_uint8

    model = planted_model([PlantedUnit("drift", 0.0), PlantedUnit("drift", 180.0)], frames=8, size=24)
    monkeypatch.setattr(zoo, "load_model", lambda spec, weights=None: model)
    results = tmp_path / "results"
    for kernel in (0, 1):
        directory = results / "planted" / "energy" / f"kernel_{kernel:04d}"
        directory.mkdir(parents=True)
        (directory / "summary.json").write_text(json.dumps({"direction_deg": 0.0, "activation": 50.0}))
    clips = to_uint8(np.stack([drifting_grating(8, 24, 0.0, 0.125, 0.125, contrast=c).video for c in (0.5, 1.0)]))
    save_npz(tmp_path / "clips.npz", clips=clips, labels=np.array([0, 1]))
    assert main(["faithfulness", "--model", "planted", "--results", str(results), "--clips", str(tmp_path / "clips.npz")]) == 0
    with open(results / "planted" / "faithfulness.csv") as handle:
        table = list(csv.DictReader(handle))
    video = torch.from_numpy(clips.astype(np.float32) / 255.0).permute(0, 4, 1, 2, 3)
    for row, kernel in zip(table, (0, 1)):
        expected = float(kernel_activation(model, "energy", video, kernel).max())
        assert float(row["best_clip_activation"]) == pytest.approx(expected, rel=1e-5)
        assert float(row["activation_vs_best_clip"]) == pytest.approx(50.0 / expected, rel=1e-5)
    # The rightward grating drives the rightward unit far more than the leftward one.
    assert float(table[0]["best_clip_activation"]) > 10 * float(table[1]["best_clip_activation"])


def test_tuning_keys_merged_into_summary_are_used_when_tuning_json_is_absent(tmp_path):
    _kernel(tmp_path, "conv1", 0, {"direction_deg": 100.0, "preferred_direction_deg": 80.0, "dsi": 0.7})
    (row,), (entry,) = build_faithfulness(tmp_path, "toy")
    assert row["angular_error_deg"] == pytest.approx(20.0) and row["agrees"] == 1
    assert entry["agreement"] == 1.0


@pytest.mark.slow  # 23 s (stage 1 of planted units, stage 2 from both motion starts)
def test_end_to_end_optimize_decompose_recovers_planted_drift_directions():
    """Issue 8's end-to-end check on plain drifting-Gabor energy units: their optimal input is a grating,
    whose motion is only defined across its stripes; stage 2 must report that normal direction."""
    from kernelvis.decompose.fit import DecomposeConfig, decompose_videos
    from kernelvis.decompose.stats import motion_summary
    from kernelvis.optimize.api import OptimizeConfig, optimize_kernels
    from kernelvis.optimize.transforms import TransformConfig

    directions = (30.0, 150.0, 260.0, 335.0)
    model = planted_model([PlantedUnit("drift", theta, 0.125, 0.125) for theta in directions], frames=12, size=32)
    optimal = optimize_kernels(model, "energy", list(range(len(directions))), OptimizeConfig(
        steps=40, lr=0.2, param="pixel", seed=0, progress=False,
        transforms=TransformConfig(jitter_px=2, jitter_frames=0, scale_range=(1.0, 1.0))))
    videos = np.stack([result.video for result in optimal])
    decompositions = decompose_videos(videos, DecomposeConfig(steps=30, flow_levels=2))
    for theta, video, decomposition in zip(directions, videos, decompositions):
        summary = motion_summary(video, decomposition)
        assert float(angular_difference_deg(summary["direction_deg"], theta)) < 20.0, (theta, summary)
        assert 0.7 < summary["speed_px_per_frame"] < 1.5, (theta, summary)  # planted: 1 px/frame


def test_texture_conditioned_agreement_per_layer_and_the_kernels_where_gratings_and_texture_disagree():
    from kernelvis.analysis.faithfulness import faithfulness_row, format_agreement_table, layer_agreement

    def row(kernel, visualized, grating, texture):
        summary = {"direction_deg": visualized, "texture_preferred_direction_deg": texture, "texture_dsi": 0.8}
        return faithfulness_row("m", "conv2", kernel, summary, {"preferred_direction_deg": grating, "dsi": 0.9})

    rows = [row(0, 194.0, 247.0, 190.0),   # stripes: gratings 53° off, its own texture agrees -> a finding
            row(1, 90.0, 95.0, 100.0),     # all agree
            row(2, 10.0, 10.0, 200.0)]     # the texture wants the opposite direction: the picture is wrong
    assert [r["texture_agrees"] for r in rows] == [1, 1, 0] and [r["agrees"] for r in rows] == [0, 1, 1]
    (layer,) = layer_agreement(rows)
    assert (layer["texture_selective"], layer["texture_agreeing"]) == (3, 2)
    assert layer["texture_agreement"] == pytest.approx(2 / 3) and layer["agreement"] == pytest.approx(2 / 3)
    assert layer["grating_texture_disagreeing"] == "0 2"
    assert "| 0 2 |" in format_agreement_table([layer])


def test_the_layer_counts_the_texture_tunings_own_verdict_and_its_refined_texture():
    """The recorded verdict wins over the bare peak: a plateau agreement (peak 40° off) counts, a curve without a
    verdict (no measurable modulation) is not selective, the strict peak count is reported beside it, and the
    refined texture is judged against the refined motion."""
    from kernelvis.analysis.faithfulness import faithfulness_row, format_agreement_table, layer_agreement

    def row(kernel, peak, agrees, peak_agrees, refined_agrees=None, excited=True):
        summary = {"direction_deg": 100.0, "texture_preferred_direction_deg": peak, "texture_dsi": 0.7,
                   "texture_agrees": agrees, "texture_peak_agrees": peak_agrees, "texture_drive": 0.4,
                   "texture_excited": excited,
                   "refined_direction_deg": 90.0, "refined_texture_preferred_direction_deg": 95.0,
                   "refined_texture_dsi": 0.6, "refined_texture_agrees": refined_agrees}
        return faithfulness_row("m", "conv1", kernel, summary, {})

    rows = [row(0, 140.0, True, False, True), row(1, 105.0, True, True, False), row(2, 300.0, None, None),
            row(3, 280.0, False, False, True), row(4, 230.0, None, None, excited=False)]
    assert [r["texture_direction_selective"] for r in rows] == [1, 1, 0, 1, 0]
    assert [r["texture_inhibited"] for r in rows] == [0, 0, 0, 0, 1]  # no verdict because no motion excites it
    assert [r["texture_agrees"] for r in rows] == [1, 1, 0, 0, 0]
    (layer,) = layer_agreement(rows)
    assert (layer["texture_selective"], layer["texture_agreeing"], layer["texture_peak_agreeing"]) == (3, 2, 1)
    assert layer["texture_inhibited"] == 1
    assert (layer["refined_texture_selective"], layer["refined_texture_agreeing"]) == (3, 2)
    assert layer["texture_median_drive"] == pytest.approx(0.4)
    assert "| 2 (1) |" in format_agreement_table([layer]) and "| 2 / 3 |" in format_agreement_table([layer])
