"""Direction tuning against planted motion-energy kernels with a known preferred direction."""

import json

import numpy as np
import pytest

from kernelvis.analysis.tuning import (TuningConfig, direction_selectivity_index, summarize_tuning, sweep_conditions,
                                       tune_kernels, vector_average)
from kernelvis.geometry import angular_difference_deg
from kernelvis.models.planted import PlantedUnit, planted_model

# Non-multiples of 45° so the answer is not a sampled grid direction.
PLANTED_DIRECTIONS_DEG = (0.0, 30.0, 100.0, 200.0, 333.0)
SWEEP = TuningConfig(directions=16, spatial_freqs=(0.0625, 0.125, 0.25), temporal_freqs=(0.125, 0.25),
                     dot_speeds_px_per_frame=(), frames=12, size=40, batch_size=48)


@pytest.fixture(scope="module")
def planted_tunings():
    units = [PlantedUnit("drift", d) for d in PLANTED_DIRECTIONS_DEG]
    units += [PlantedUnit("flicker", 60.0), PlantedUnit("static", 20.0), PlantedUnit("drift", 70.0, 0.25, 0.25)]
    model = planted_model(units, frames=12, size=40)
    return units, tune_kernels(model, "energy", range(len(units)), SWEEP)


def test_planted_drift_direction_within_5_deg_and_dsi_high(planted_tunings):
    units, tunings = planted_tunings
    for unit, tuning in zip(units, tunings):
        if unit.kind != "drift":
            continue
        error = angular_difference_deg(tuning.preferred_direction_deg, unit.direction_deg)
        assert error < 5.0, (unit, tuning.preferred_direction_deg)
        assert tuning.dsi > 0.8, (unit, tuning.dsi)


def test_non_directional_kernels_have_low_dsi(planted_tunings):
    units, tunings = planted_tunings
    for unit, tuning in zip(units, tunings):
        if unit.kind in ("flicker", "static"):
            assert tuning.dsi < 0.2, (unit, tuning.dsi)


def test_speed_and_frequency_preference_match_the_planted_unit(planted_tunings):
    units, tunings = planted_tunings
    # Both prefer 1 px/frame, but at different spatial/temporal frequencies: the sweep must tell them apart.
    slow = tunings[0]
    assert slow.preferred_spatial_freq == 0.125 and slow.preferred_temporal_freq == 0.125
    assert slow.preferred_speed_px_per_frame == pytest.approx(1.0)
    fine = tunings[-1]
    assert fine.preferred_spatial_freq == 0.25 and fine.preferred_temporal_freq == 0.25
    # The static kernel prefers the slowest drift on offer (it likes no motion at all).
    static = tunings[6]
    assert static.preferred_temporal_freq == min(SWEEP.temporal_freqs)


def test_blank_baseline_is_subtracted_and_responses_clipped():
    config = TuningConfig(directions=8, spatial_freqs=(0.1,), temporal_freqs=(0.1,), dot_speeds_px_per_frame=(),
                          plaid_freqs=())
    conditions = sweep_conditions(config)
    assert [c.stimulus for c in conditions] == ["blank"] + ["grating"] * 8
    # A constant offset of 10 (e.g. a bias) on a curve peaking at 90° with nothing at 270°; one stimulus suppresses.
    curve = np.array([1.0, 2.0, 5.0, 2.0, 1.0, 0.5, -3.0, 0.5])
    tuning = summarize_tuning(3, conditions, np.concatenate([[10.0], 10.0 + curve]))
    assert tuning.baseline_activation == 10.0
    assert tuning.preferred_direction_deg == pytest.approx(90.0, abs=1e-6)
    assert tuning.dsi == pytest.approx(1.0)  # the null response (−3 below baseline) counts as 0
    assert tuning.best_grating_activation == 15.0
    assert tuning.best_curve.min() == 0.0
    assert tuning.best_stimulus_activation == 15.0 and tuning.best_stimulus == "grating 90° sf 0.1 tf 0.1"


def test_the_sweep_has_plaids_and_the_best_stimulus_is_over_all_kinds():
    config = TuningConfig(directions=4, spatial_freqs=(0.1,), temporal_freqs=(0.1,), dot_speeds_px_per_frame=(1.0,),
                          plaid_freqs=((0.125, 0.125),))
    conditions = sweep_conditions(config)
    assert [c.stimulus for c in conditions] == ["blank"] + ["grating"] * 4 + ["dots"] * 4 + ["plaid"] * 4
    responses = np.zeros(len(conditions))
    responses[-2] = 7.0  # a plaid at 180°
    tuning = summarize_tuning(0, conditions, responses)
    assert tuning.best_stimulus_activation == 7.0 and tuning.best_stimulus.startswith("plaid 180°")
    assert tuning.best_grating_activation == 0.0


def test_dsi_and_vector_average_on_known_curves():
    directions = np.arange(12) * 30.0
    two_lobes = np.where(np.isin(directions, [60.0, 240.0]), 1.0, 0.0)
    assert direction_selectivity_index(directions, two_lobes) == pytest.approx(0.0)
    assert vector_average(directions, two_lobes)[1] == pytest.approx(0.0, abs=1e-12)
    half = np.where(directions == 60.0, 3.0, 0.0) + np.where(directions == 240.0, 1.0, 0.0)
    assert direction_selectivity_index(directions, half) == pytest.approx(0.5)
    # Equal responses at 30° and 60°: the vector average lies between them, screen-up is 90°.
    assert vector_average(directions, np.isin(directions, [30.0, 60.0]).astype(float))[0] == pytest.approx(45.0)
    assert vector_average(directions, (directions == 90.0).astype(float))[0] == pytest.approx(90.0)
    assert direction_selectivity_index(directions, np.zeros(12)) == 0.0


def test_random_dots_recover_direction_and_chunking_does_not_change_responses():
    unit = PlantedUnit("drift", 120.0, 0.125, 0.125)
    model = planted_model([unit], frames=10, size=32)
    config = TuningConfig(directions=12, spatial_freqs=(0.125,), temporal_freqs=(0.125,), dot_speeds_px_per_frame=(1.0,),
                          frames=10, size=32, batch_size=5)
    (chunked,) = tune_kernels(model, "energy", [0], config)
    (whole,) = tune_kernels(model, "energy", [0], TuningConfig(**{**config.__dict__, "batch_size": 64}))
    np.testing.assert_allclose(chunked.responses, whole.responses, rtol=1e-5)
    assert angular_difference_deg(chunked.dots["preferred_direction_deg"], 120.0) < 15.0
    assert chunked.dots["dsi"] > 0.8


def test_tuning_command_writes_csv_json_plot_and_its_stage_record(tmp_path, monkeypatch):
    import kernelvis.models.zoo as zoo
    from kernelvis.cli import main

    monkeypatch.setattr(zoo, "load_model", lambda spec, weights=None: planted_model(
        [PlantedUnit("drift", 250.0), PlantedUnit("flicker", 0.0)], frames=10, size=32))
    out = tmp_path / "kernel_0000"
    code = main(["tuning", "--model", "planted", "--layer", "energy", "--kernel", "0", "--out", str(out),
                 "--directions", "12", "--spatial-freqs", "0.125", "--temporal-freqs", "0.125", "--dot-speeds",
                 "--plaid-freqs"])
    assert code == 0
    record = json.loads((out / "tuning.json").read_text())
    assert angular_difference_deg(record["preferred_direction_deg"], 250.0) < 5.0
    lines = (out / "tuning.csv").read_text().splitlines()
    assert lines[0] == "direction_deg,spatial_freq,temporal_freq,speed_px_per_frame,stimulus,response"
    assert len(lines) == 1 + 1 + 12
    assert (out / "tuning_polar.png").stat().st_size > 1000
    stage = json.loads((out / "stage_tuning.json").read_text())
    assert stage["dsi"] == pytest.approx(record["dsi"]) and stage["kernel"] == 0
    assert stage["tuning_objective"] == "channel"  # no stage 1 in the directory: the sweep's own objective
    assert record["provenance"]["stage"] == "tuning"


def test_tuning_command_rejects_bad_kernel(tmp_path, monkeypatch, capsys):
    import kernelvis.models.zoo as zoo
    from kernelvis.cli import main

    monkeypatch.setattr(zoo, "load_model", lambda spec, weights=None: planted_model([PlantedUnit()], frames=8, size=24))
    out = tmp_path / "never"
    assert main(["tuning", "--model", "planted", "--layer", "energy", "--kernel", "3", "--out", str(out)]) == 1
    assert "out of range" in capsys.readouterr().err
    assert not out.exists()
