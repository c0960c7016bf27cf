"""The demo motion task: labels match the planted motion, symmetry augmentation maps labels
correctly, training is deterministic (whatever the caller's thread count; the commands that train cap
torch at AVX2 and record it) and a reduced model reaches >= 90 % held-out accuracy."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from kernelvis.cli import main
from kernelvis.data.motion_task import (MOTION_CLASSES, MotionTaskConfig, apply_symmetry, augmentation_table,
                                        motion_clip, motion_clips)
from kernelvis.numerics import PORTABLE_ISA_ENVIRONMENT, request_portable_isa
from kernelvis.training import train_motion_model
from kernelvis.errors import BadInputError
from kernelvis.geometry import angular_difference_deg, summarize_direction
from kernelvis.models.demo import DEMO_NUM_CLASSES, DemoNet
from test_synthetic import backward_warp  # tests/ is on sys.path (pytest rootdir-relative import)

CARDINAL = ("translate_000", "translate_090", "translate_180", "translate_270")


def class_of_velocity(velocity: np.ndarray) -> str:
    """The motion class a [H, W, 2] velocity field shows (translation, rotation, scaling or none)."""
    size = velocity.shape[0]
    dy, dx = np.mgrid[0:size, 0:size] - (size - 1) / 2.0
    vx, vy = velocity[..., 0], velocity[..., 1]
    curl = float(np.mean(dx * vy - dy * vx))  # y down: counter-clockwise on screen is negative
    divergence = float(np.mean(dx * vx + dy * vy))
    mean_speed = float(np.hypot(vx, vy).mean())
    if mean_speed < 1e-6:
        return "static"
    summary = summarize_direction(velocity)
    if summary.direction_strength > 0.9:
        return f"translate_{int(45 * round(summary.direction_deg / 45.0)) % 360:03d}"
    if abs(curl) > abs(divergence):
        return "rotate_ccw" if curl < 0 else "rotate_cw"
    return "expand" if divergence > 0 else "contract"


def transformed_velocity(velocity: np.ndarray, operation: str) -> np.ndarray:
    """How each symmetry acts on a [T, H, W, 2] velocity field (positions and components)."""
    moved = np.array(apply_symmetry(velocity, operation))
    if operation == "hflip":
        moved[..., 0] *= -1
    elif operation == "vflip":
        moved[..., 1] *= -1
    elif operation == "transpose":
        moved = moved[..., ::-1]
    else:  # played backwards, every point retraces its path
        moved = -moved
    return moved


def test_every_class_shows_its_motion_and_the_demo_has_one_output_per_class():
    assert len(MOTION_CLASSES) == DEMO_NUM_CLASSES == 13
    config = MotionTaskConfig(frames=3, size=24, textures=("noise", "camera"))
    for index, name in enumerate(MOTION_CLASSES):
        stimulus = motion_clip(name, config, np.random.default_rng(index))
        assert class_of_velocity(stimulus.velocity[0]) == name
        if name.startswith("translate_"):
            direction = summarize_direction(stimulus.velocity[0]).direction_deg
            assert angular_difference_deg(direction, float(name[-3:])) <= config.direction_jitter_deg + 1e-6


@pytest.mark.parametrize("operation", ["hflip", "vflip", "transpose", "reverse"])
def test_symmetry_augmentation_maps_each_label_to_the_class_of_the_transformed_motion(operation):
    table = augmentation_table(MOTION_CLASSES)
    config = MotionTaskConfig(frames=3, size=24, textures=("noise",), direction_jitter_deg=0.0)
    for index, name in enumerate(MOTION_CLASSES):
        stimulus = motion_clip(name, config, np.random.default_rng(index))
        velocity = transformed_velocity(stimulus.velocity, operation)
        assert class_of_velocity(velocity[0]) == MOTION_CLASSES[table[operation][index]], (name, operation)
        if operation != "reverse":  # the transformed pixels move with the transformed velocity
            video = np.array(apply_symmetry(stimulus.video, operation))
            predicted_next = backward_warp(video[0], velocity[0])
            assert np.abs(predicted_next - video[1])[4:-4, 4:-4].mean() < 0.01
    assert augmentation_table(("translate_000", "static")) is None  # not closed under the symmetries


def test_clip_sets_are_reproducible_by_seed():
    config = MotionTaskConfig(frames=3, size=16)
    first, labels = motion_clips(config, 1, seed=4)
    again, _ = motion_clips(config, 1, seed=4)
    other, _ = motion_clips(config, 1, seed=5)
    assert first.dtype == np.uint8 and first.shape == (13, 3, 16, 16, 3) and list(labels) == list(range(13))
    assert np.array_equal(first, again) and not np.array_equal(first, other)
    with pytest.raises(BadInputError, match="unknown motion classes"):
        MotionTaskConfig(classes=("translate_010",))


REDUCED = MotionTaskConfig(classes=CARDINAL, frames=8, size=24, textures=("noise",), train_clips_per_class=24,
                           heldout_clips_per_class=16, train_frames=8, epochs=12, batch_size=16, lr=5e-3, seed=0)
"""4 cardinal directions on noise, 8×24×24 clips, widths (16, 16, 24, 24): ~4 s of one CPU core."""


def test_reduced_motion_model_generalizes_to_held_out_clips():
    torch.manual_seed(0)
    model, metrics = train_motion_model(DemoNet(len(CARDINAL), (16, 16, 24, 24)), REDUCED)
    assert metrics.heldout_clips == 64 and metrics.train_clips == 96
    assert metrics.heldout_accuracy >= 0.9, metrics
    assert metrics.epoch_loss[-1] < 0.5 * metrics.epoch_loss[0]
    assert not model.training


def test_training_is_deterministic_for_a_seed():
    config = MotionTaskConfig(classes=CARDINAL, frames=4, size=16, textures=("noise",), train_clips_per_class=4,
                              heldout_clips_per_class=1, epochs=2, batch_size=8)
    states = []
    for _ in range(2):
        torch.manual_seed(1)
        model, _ = train_motion_model(DemoNet(4, (4, 4, 4, 4)), config)
        states.append(model.state_dict())
    assert all(torch.equal(states[0][key], states[1][key]) for key in states[0])


def test_training_runs_on_one_thread_whatever_the_caller_has_so_the_weights_do_not_depend_on_the_cores():
    config = MotionTaskConfig(classes=CARDINAL, frames=4, size=16, textures=("noise",), train_clips_per_class=4,
                              heldout_clips_per_class=1, epochs=2, batch_size=8)
    previous = torch.get_num_threads()
    states = []
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            torch.manual_seed(1)
            model, metrics = train_motion_model(DemoNet(4, (4, 4, 4, 4)), config)
            assert metrics.threads == 1 and metrics.numerics["threads"] == 1
            assert torch.get_num_threads() == threads  # the caller's setting is restored
            states.append(model.state_dict())
    finally:
        torch.set_num_threads(previous)
    assert all(torch.equal(states[0][key], states[1][key]) for key in states[0])


def _cpu_has_avx2() -> bool:
    try:
        return " avx2 " in Path("/proc/cpuinfo").read_text().replace("\n", " ")
    except OSError:
        return False


@pytest.mark.slow  # two fresh processes, each importing torch and training: 19 s
@pytest.mark.skipif(not _cpu_has_avx2(), reason="the portable setting caps at AVX2; this CPU has less")
def test_train_demo_in_a_fresh_process_caps_torch_at_avx2_and_records_it_and_a_user_setting_is_kept(tmp_path):
    command = [sys.executable, "-m", "kernelvis", "train-demo", "--epochs", "1", "--clips-per-class", "1",
               "--heldout-per-class", "1", "--quiet"]
    environment = {name: value for name, value in os.environ.items() if name not in PORTABLE_ISA_ENVIRONMENT}
    portable = tmp_path / "portable.pt"
    done = subprocess.run(command + ["--out-file", str(portable)], env=environment, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    numerics = json.loads(portable.with_suffix(".json").read_text())["numerics"]
    assert numerics["portable"] and numerics["cpu_capability"] == "AVX2" and numerics["threads"] == 1
    assert numerics["environment"] == PORTABLE_ISA_ENVIRONMENT
    assert "not the portable" not in done.stdout
    native = tmp_path / "native.pt"
    done = subprocess.run(command + ["--out-file", str(native)], env={**environment, "ATEN_CPU_CAPABILITY": "default"},
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    numerics = json.loads(native.with_suffix(".json").read_text())["numerics"]
    assert not numerics["portable"] and numerics["cpu_capability"] == "DEFAULT"
    assert "not the portable AVX2 setting" in done.stdout


def test_the_isa_cap_is_not_requested_once_torch_is_loaded():
    environment = {}
    assert request_portable_isa(environment) is False and environment == {}


def test_train_demo_command_writes_a_zoo_loadable_checkpoint_and_metrics(tmp_path, capsys):
    out = tmp_path / "demo" / "demo_model.pt"
    code = main(["train-demo", "--out-file", str(out), "--epochs", "1", "--clips-per-class", "1",
                 "--heldout-per-class", "1", "--seed", "3"])
    assert code == 0 and "held-out accuracy" in capsys.readouterr().out
    metrics = json.loads(out.with_suffix(".json").read_text())
    assert metrics["heldout_clips"] == 13 and 0.0 <= metrics["heldout_accuracy"] <= 1.0
    from kernelvis.models.zoo import load_model

    loaded = load_model("demo", weights=out)
    assert loaded.module.fc.out_features == 13
    failing = tmp_path / "fail" / "demo_model.pt"
    code = main(["train-demo", "--out-file", str(failing), "--epochs", "1", "--clips-per-class", "1",
                 "--heldout-per-class", "1", "--min-accuracy", "1.01"])
    assert code == 1 and not failing.exists() and not failing.with_suffix(".json").exists()
