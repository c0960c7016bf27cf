"""Kernel-specific suppression (docs/baselines.md) on a planted two-kernel layer with two objects in one clip."""

import json

import numpy as np
import pytest
import torch
import torch.nn as nn

from kernelvis.baselines.suppression import SuppressConfig, map_ssim, suppress, suppression_metrics
from kernelvis.cli import main
from kernelvis.io import read_video, save_npz
from kernelvis.models.loaded import LoadedModel
from kernelvis.models.preprocessing import Preprocessing

BACKGROUND = 0.5
STEPS = 120


def two_colour_layer() -> LoadedModel:
    """Layer ``0``: kernel 0 = red-opponent box filter, kernel 1 = green-opponent; both 0 on grey."""
    conv = nn.Conv3d(3, 2, 3, padding=1, bias=False)
    with torch.no_grad():
        conv.weight.fill_(-0.5 / 27)
        conv.weight[0, 0] = 1 / 27
        conv.weight[1, 1] = 1 / 27
    return LoadedModel("two-colours", nn.Sequential(conv), Preprocessing(frames=8, size=24))


def two_object_clip(frames=8, size=24):
    """A red square moving right (top) and a green square moving left (bottom) on grey; their masks."""
    video = np.full((frames, size, size, 3), BACKGROUND, np.float32)
    masks = np.zeros((2, frames, size, size), bool)
    for t in range(frames):
        masks[0, t, 3:9, 2 + t:8 + t] = True
        masks[1, t, 14:20, 14 - t:20 - t] = True
    video[masks[0]] = (1.0, 0.0, 0.0)
    video[masks[1]] = (0.0, 1.0, 0.0)
    return video, masks


def _energy(video, mask):
    """Mean squared deviation from the background inside an object's mask."""
    return float(((video - BACKGROUND) ** 2).sum(-1)[mask].mean())


@pytest.fixture(scope="module")
def results():
    model, (clip, masks) = two_colour_layer(), two_object_clip()
    config = SuppressConfig(steps=STEPS)
    return {kernel: suppress(model, "0", kernel, clip, config) for kernel in (0, 1)}, clip, masks


@pytest.mark.parametrize("kernel", [0, 1])
def test_keeps_the_target_object_and_removes_the_other(results, kernel):
    by_kernel, clip, masks = results
    result, other = by_kernel[kernel], 1 - kernel
    # Pixel energy: the target object stays, the other object fades to the background.
    assert _energy(result.video, masks[kernel]) > 0.9 * _energy(clip, masks[kernel])
    assert _energy(result.video, masks[other]) < 0.1 * _energy(clip, masks[other])
    # Activations: target map preserved, the other kernel silenced.
    metrics = result.metrics
    assert metrics["target_activation_after"] == pytest.approx(metrics["target_activation_before"], rel=0.05)
    assert metrics["preservation_ssim"] > 0.95
    assert metrics["rest_remaining_fraction"] < 0.05
    assert metrics["rest_ssim_to_zero"] > 0.9
    assert result.video.min() >= 0 and result.video.max() <= 1


def test_the_suppression_term_alone_removes_the_other_object():
    # No grey prior, no TV: only L_rest can remove the green square.
    model, (clip, masks) = two_colour_layer(), two_object_clip()
    result = suppress(model, "0", 0, clip, SuppressConfig(steps=60, gamma=0.0, spatial_tv=0.0, temporal_tv=0.0))
    assert _energy(result.video, masks[1]) < 0.5 * _energy(clip, masks[1])
    assert result.metrics["rest_remaining_fraction"] < 0.05
    assert np.abs(result.video - clip)[masks[0]].max() < 0.01  # nothing asks for a change on the red square


def test_without_the_preservation_term_the_target_object_is_lost_too():
    model, (clip, masks) = two_colour_layer(), two_object_clip()
    result = suppress(model, "0", 0, clip, SuppressConfig(steps=STEPS, alpha=0.0))
    assert _energy(result.video, masks[0]) < 0.5 * _energy(clip, masks[0])
    # ...and suppressing kernel 1 overshoots into red where the green square was: the map is not kept.
    assert result.metrics["preservation_ssim"] < 0.5


def test_best_iterate_is_kept_and_runs_are_deterministic(results):
    result = results[0][0]
    assert result.history[result.best_step] == pytest.approx(result.history.min(), rel=1e-6)
    model, (clip, _) = two_colour_layer(), two_object_clip()
    first = suppress(model, "0", 0, clip, SuppressConfig(steps=5))
    second = suppress(model, "0", 0, clip, SuppressConfig(steps=5))
    np.testing.assert_array_equal(first.video, second.video)


def test_metrics_on_known_maps():
    rng = np.random.default_rng(0)
    before = np.abs(rng.normal(size=(3, 2, 8, 8))).astype(np.float32)
    before[0, :, :4] = 0  # target silent on the top half: the others are judged there
    identical = suppression_metrics(before, before, kernel=0)
    assert identical["preservation_ssim"] == pytest.approx(1.0)
    assert identical["preservation_rmse"] == 0.0 and identical["rest_remaining_fraction"] == pytest.approx(1.0)
    assert identical["rest_ssim_to_zero"] < 0.5
    silenced = before.copy()
    silenced[1:] = 0
    ideal = suppression_metrics(before, silenced, kernel=0)
    assert ideal["rest_remaining_fraction"] == 0.0 and ideal["rest_ssim_to_zero"] == pytest.approx(1.0)
    assert map_ssim(before[0], np.zeros_like(before[0]), 1.0) < 0.2


def _two_colour_model_file(tmp_path):
    """:func:`two_colour_layer` as a model file the CLI loads (``--model FILE:build``)."""
    model_file = tmp_path / "two.py"
    model_file.write_text("import torch, torch.nn as nn\n"
                          "def build():\n"
                          "    conv = nn.Conv3d(3, 2, 3, padding=1, bias=False)\n"
                          "    with torch.no_grad():\n"
                          "        conv.weight.fill_(-0.5 / 27); conv.weight[0, 0] = 1 / 27; conv.weight[1, 1] = 1 / 27\n"
                          "    return nn.Sequential(conv)\n")
    return model_file


def test_cli_writes_suppressed_clip_and_metrics(tmp_path, monkeypatch):
    clip, _ = two_object_clip()
    save_npz(tmp_path / "clips.npz", clips=np.stack([clip, clip[:, ::-1]]))
    model_file = _two_colour_model_file(tmp_path)
    out = tmp_path / "out"
    args = ["suppress", "--model", f"{model_file}:build", "--layer", "0", "--kernel", "1", "--clips",
            str(tmp_path / "clips.npz"), "--index", "0", "--out", str(out), "--steps", "30"]
    assert main(args) == 0
    assert sorted(p.name for p in out.iterdir()) == ["comparison.gif", "suppressed.gif", "suppressed.npz",
                                                     "suppression.json"]
    record = json.loads((out / "suppression.json").read_text())
    assert record["kernel"] == 1 and record["rest_remaining_fraction"] < 0.5
    assert read_video(out / "suppressed.npz").shape == clip.shape  # what `kernelvis decompose` reads
    # Bad input: --index past the clip set, not a number, kernel out of range; nothing written.
    assert main(args[:-6] + ["--index", "9", "--out", str(tmp_path / "bad"), "--steps", "3"]) == 1
    assert main(args[:-6] + ["--index", "first", "--out", str(tmp_path / "bad"), "--steps", "3"]) == 1
    assert main(["suppress", "--model", f"{model_file}:build", "--layer", "0", "--kernel", "2", "--clips",
                 str(tmp_path / "clips.npz"), "--index", "0", "--out", str(tmp_path / "bad")]) == 1
    assert not (tmp_path / "bad").exists()


@pytest.mark.parametrize("kernel, expected_index", [(0, 2), (1, 3)])
def test_index_best_runs_each_kernel_on_the_clip_it_responds_to_most(tmp_path, kernel, expected_index):
    """A clip set where the red kernel's strongest clip (2: a saturated red square) and the green kernel's (3: a
    saturated green square) are known, beside a grey clip and dimmer squares; `--index best` must pick them (the
    clip whose map reaches the highest value), with and without the dataset examples file."""
    frames, size = 8, 24
    grey = np.full((frames, size, size, 3), BACKGROUND, np.float32)

    def square(colour, side):
        clip = grey.copy()
        clip[:, 4:4 + side, 4:4 + side] = colour
        return clip

    clips = np.stack([grey, square((0.8, 0.0, 0.0), 12), square((1.0, 0.0, 0.0), 6), square((0.0, 1.0, 0.0), 6),
                      square((0.0, 0.7, 0.0), 12)])
    save_npz(tmp_path / "clips.npz", clips=clips)
    model_file = _two_colour_model_file(tmp_path)
    target = ["--model", f"{model_file}:build", "--layer", "0", "--kernel", str(kernel)]
    scanned = tmp_path / "scanned"
    assert main(["suppress", *target, "--clips", str(tmp_path / "clips.npz"), "--index", "best",
                 "--out", str(scanned), "--steps", "2"]) == 0
    assert json.loads((scanned / "suppression.json").read_text())["clip_index"] == expected_index
    # From the dataset examples file: its top-1 is taken as it is (here a planted ranking that disagrees with the
    # scan, so reading the file is what is tested).
    examples = tmp_path / "examples.npz"
    save_npz(examples, indices=np.array([4, expected_index]), activations=np.array([9.0, 1.0]))
    from_file = tmp_path / "from_file"
    assert main(["suppress", *target, "--clips", str(tmp_path / "clips.npz"), "--index", "best",
                 "--examples", str(examples), "--out", str(from_file), "--steps", "2"]) == 0
    assert json.loads((from_file / "suppression.json").read_text())["clip_index"] == 4
