"""Texture and motion optimization against planted kernels with a known preferred texture and motion."""

import json
import sys

import numpy as np
import pytest
import torch

from kernelvis.analysis.refine import RefineConfig, refine, refined_arrays, render
from kernelvis.data.synthetic import drifting_grating, smooth_noise_texture
from kernelvis.geometry import angular_difference_deg, unit_velocity
from kernelvis.models.planted import PlantedUnit, planted_model
from kernelvis.models.activation import kernel_activation

FRAMES, SIZE, MARGIN = 16, 24, 16
SPATIAL_FREQ, TEMPORAL_FREQ = 0.125, 0.125  # planted speed 1 px/frame
DIRECTIONS_DEG = (30.0, 225.0)


@pytest.fixture(scope="module")
def model():
    return planted_model([PlantedUnit("drift", d, SPATIAL_FREQ, TEMPORAL_FREQ) for d in DIRECTIONS_DEG],
                         frames=FRAMES, size=SIZE)


def grating_canvas(direction_deg):
    return drifting_grating(1, SIZE + 2 * MARGIN, direction_deg, SPATIAL_FREQ, TEMPORAL_FREQ).video[0]


def translation(direction_deg, speed_px_per_frame):
    """D_t = -v t: the texture moves at v (V_t(p) = I(p - v t))."""
    vx, vy = unit_velocity(direction_deg)
    t = np.arange(FRAMES, dtype=np.float32)[:, None, None]
    displacement = np.zeros((FRAMES, SIZE, SIZE, 2), np.float32)
    displacement[..., 0], displacement[..., 1] = -vx * speed_px_per_frame * t, -vy * speed_px_per_frame * t
    return displacement


def activation_of(model, kernel, canvas, displacement):
    with torch.no_grad():
        clip = render(torch.from_numpy(canvas), torch.from_numpy(displacement), MARGIN)
        return float(kernel_activation(model, "energy", clip, kernel)[0])


def test_refinement_never_lowers_the_start_activation(model):
    # Start at the kernel's optimum with steps far too large: the iterates overshoot and fall, the result must not.
    canvas, displacement = grating_canvas(DIRECTIONS_DEG[0]), translation(DIRECTIONS_DEG[0], 1.0)
    config = RefineConfig(steps=4, texture_lr=0.5, motion_lr_px=2.0)
    result = refine(model, "energy", 0, canvas, displacement, MARGIN, config)
    assert result.history.min() < 0.9 * result.activation_start  # the optimizer did go downhill
    assert result.activation_final >= result.activation_start
    assert [entry["phase"] for entry in result.phase_log] == ["texture", "motion"]
    for entry in result.phase_log:
        assert entry["activation_end"] >= entry["activation_start"]
    # The kept arrays are the ones that produced the reported activation, and the run is deterministic.
    assert activation_of(model, 0, result.static_canvas, result.displacement) == pytest.approx(result.activation_final, rel=1e-5)
    again = refine(model, "energy", 0, canvas, displacement, MARGIN, config)
    np.testing.assert_array_equal(again.static_canvas, result.static_canvas)
    np.testing.assert_array_equal(again.displacement, result.displacement)


@pytest.mark.parametrize("kernel", [0, 1])
def test_motion_refinement_moves_the_texture_in_the_planted_direction(model, kernel):
    # The kernel's texture at rest: the motion must come from the kernel alone.
    start = grating_canvas(DIRECTIONS_DEG[kernel]), translation(0.0, 0.0)
    result = refine(model, "energy", kernel, *start, MARGIN, RefineConfig(steps=25, phases=("motion",)))
    assert result.activation_final > 3 * result.activation_start
    np.testing.assert_array_equal(result.static_canvas, np.clip(start[0], 0, 1))  # texture untouched
    _, scalars = refined_arrays(result)
    assert angular_difference_deg(scalars["refined_direction_deg"], DIRECTIONS_DEG[kernel]) < 20
    assert 0.5 < scalars["refined_speed_px_per_frame"] < 1.5  # planted: 1 px/frame
    assert scalars["refine_activation_r1_motion"] == result.activation_final


def test_texture_refinement_finds_the_planted_grating(model):
    # Noise moving the preferred way; the kernel should turn it into its grating (orientation and frequency).
    canvas, displacement = smooth_noise_texture(SIZE + 2 * MARGIN, seed=2), translation(DIRECTIONS_DEG[0], 1.0)
    result = refine(model, "energy", 0, canvas, displacement, MARGIN,
                    RefineConfig(steps=25, phases=("texture",), texture_lr=0.05))
    assert result.activation_final > 20 * result.activation_start
    np.testing.assert_array_equal(result.displacement, displacement)  # motion untouched
    luminance = result.static.mean(-1) - result.static.mean()
    spectrum = np.abs(np.fft.fft2(luminance))
    row, col = np.unravel_index(spectrum.argmax(), spectrum.shape)
    fy, fx = np.fft.fftfreq(SIZE)[row], np.fft.fftfreq(SIZE)[col]
    assert abs(np.hypot(fx, fy) - SPATIAL_FREQ) < 1.5 / SIZE  # within the FFT's bin spacing
    orientation_deg = np.degrees(np.arctan2(-fy, fx)) % 180.0
    assert angular_difference_deg(orientation_deg, DIRECTIONS_DEG[0] % 180.0) < 15


def _planted_file(tmp_path):
    source = tmp_path / "planted_two.py"
    source.write_text(
        "from kernelvis.models.planted import PlantedUnit, planted_model\n"
        "def build():\n"
        f"    return planted_model([PlantedUnit('drift', {DIRECTIONS_DEG[0]}), PlantedUnit('static', {DIRECTIONS_DEG[0]})],"
        f" frames={FRAMES}, size={SIZE}).module\n")
    return f"{source}:build"


def _save_stage_inputs(optimal_dir, decomposition_dir):
    """optimal.npz and decomposition.npz of kernel 0's preferred grating moving its way, as stages 1 and 2 write them."""
    from kernelvis.io import save_npz

    canvas, displacement = grating_canvas(DIRECTIONS_DEG[0]), translation(DIRECTIONS_DEG[0], 1.0)
    with torch.no_grad():
        video = render(torch.from_numpy(canvas), torch.from_numpy(displacement), MARGIN)[0].permute(1, 2, 3, 0).numpy()
    save_npz(optimal_dir / "optimal.npz", video=video, activation=np.float32(0.0))
    save_npz(decomposition_dir / "decomposition.npz", static=canvas[MARGIN:-MARGIN, MARGIN:-MARGIN],
             static_canvas=canvas, margin_px=np.int64(MARGIN), displacement=displacement,
             velocity=np.zeros_like(displacement), recon=video)


def test_refine_command_writes_outputs_and_its_stage_record(tmp_path, capsys):
    from kernelvis.cli import main

    kernel_dir = tmp_path / "kernel_0000"
    spec = _planted_file(tmp_path)
    arguments = ["refine", "--model", spec, "--layer", "energy", "--kernel", "0", "--out", str(kernel_dir), "--steps", "3"]
    assert main(arguments) == 1  # nothing to refine yet: one clear line, no output
    assert "optimal.npz" in capsys.readouterr().err and not kernel_dir.exists()
    kernel_dir.mkdir()
    _save_stage_inputs(kernel_dir, kernel_dir)
    assert main(arguments + ["--kernel", "7"]) == 1  # out of range
    assert not (kernel_dir / "refined.npz").exists()
    assert main(arguments) == 0
    for name in ("refined.npz", "texture.png", "motion_refined.gif"):
        assert (kernel_dir / name).stat().st_size > 0
    summary = json.loads((kernel_dir / "stage_refine.json").read_text())
    assert summary["refine_activation"] >= summary["refine_activation_start"] > 0
    assert summary["refine_activation_r1_texture"] <= summary["refine_activation_r1_motion"] == summary["refine_activation"]
    assert summary["motion_reliance"] > 0.6 and summary["direction_reversal_drop"] > 0.8
    assert angular_difference_deg(summary["refined_direction_deg"], DIRECTIONS_DEG[0]) < 20
    with np.load(kernel_dir / "refined.npz") as refined:
        assert refined["displacement"].shape == (FRAMES, SIZE, SIZE, 2)
        assert refined["static"].shape == (SIZE, SIZE, 3) and refined["history"].shape == (6,)
    # the record is the stage's own (stage_refine.json, what the workflow merges), replaced by each run
    assert main(arguments + ["--kernel", "1"]) == 0
    stage = json.loads((kernel_dir / "stage_refine.json").read_text())
    assert stage["kernel"] == 1 and stage["motion_reliance"] < 0.2
    assert not (kernel_dir / "summary.json").exists()


def test_refine_reads_explicit_inputs_and_writes_into_out(tmp_path):
    """--optimal and --decomposition name the inputs wherever they are (here two other directories); every
    output goes to --out, which holds no inputs, and nothing is written beside the inputs."""
    from kernelvis.cli import main

    optimal_dir, decomposition_dir, out = tmp_path / "stage1", tmp_path / "stage2", tmp_path / "refined"
    optimal_dir.mkdir()
    decomposition_dir.mkdir()
    _save_stage_inputs(optimal_dir, decomposition_dir)
    assert main(["refine", "--model", _planted_file(tmp_path), "--layer", "energy", "--kernel", "0", "--out", str(out),
                 "--optimal", str(optimal_dir / "optimal.npz"), "--decomposition",
                 str(decomposition_dir / "decomposition.npz"), "--steps", "1"]) == 0
    assert sorted(path.name for path in out.iterdir()) == ["motion_refined.gif", "refined.npz", "stage_refine.json",
                                                           "texture.png"]
    assert [path.name for path in optimal_dir.iterdir()] == ["optimal.npz"]
    assert [path.name for path in decomposition_dir.iterdir()] == ["decomposition.npz"]
    summary = json.loads((out / "stage_refine.json").read_text())
    # the refinement started from the given decomposition: the planted grating moving the kernel's way
    assert summary["kernel"] == 0 and summary["refine_activation"] >= summary["refine_activation_start"] > 0
    with np.load(out / "refined.npz") as refined, np.load(decomposition_dir / "decomposition.npz") as given:
        assert refined["displacement"].shape == given["displacement"].shape == (FRAMES, SIZE, SIZE, 2)
        assert refined["static"].shape == given["static"].shape


def test_after_stages_one_and_two_the_planted_motion_is_recovered():
    """End to end on a planted pair (drift and static at 90°): stage 1 finds each kernel's optimal input,
    stage 2 decomposes it, refinement and the reliance indices must recover what was planted."""
    from kernelvis.analysis.reliance import reliance_activations, reliance_indices
    from kernelvis.decompose.fit import DecomposeConfig, decompose_videos
    from kernelvis.optimize.api import OptimizeConfig, optimize_kernels

    direction_deg = 90.0
    model = planted_model([PlantedUnit("drift", direction_deg), PlantedUnit("static", direction_deg)], frames=FRAMES, size=24)
    optimal = optimize_kernels(model, "energy", [0, 1], OptimizeConfig(steps=40, lr=0.05, restarts=1, seed=0))
    decompositions = decompose_videos(np.stack([o.video for o in optimal]),
                                      DecomposeConfig(steps=20, flow_steps=10, flow_levels=2))
    indices = []
    for kernel, decomposition in enumerate(decompositions):
        result = refine(model, "energy", kernel, decomposition.static_canvas, decomposition.displacement,
                        decomposition.margin_px, RefineConfig(steps=10))
        assert result.activation_final >= result.activation_start
        arrays, scalars = refined_arrays(result)
        activations = reliance_activations(model, "energy", kernel, optimal[kernel].video, result.static_canvas,
                                           result.displacement, result.margin_px)
        indices.append(reliance_indices(activations))
        if kernel == 0:
            assert angular_difference_deg(scalars["refined_direction_deg"], direction_deg) < 20
            normal_speed = float((arrays["velocity"][1:] @ np.array(unit_velocity(direction_deg))).mean())
            assert 0.5 < normal_speed < 1.5  # planted: 1 px/frame along its direction
    drift, static = indices
    assert drift["motion_reliance"] > 0.6 and drift["direction_reversal_drop"] > 0.8
    assert static["motion_reliance"] < 0.2 and abs(static["direction_reversal_drop"]) < 0.05
