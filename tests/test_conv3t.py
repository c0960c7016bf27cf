"""Conv3T (3TConv, docs/baselines.md): construction against known answers, gradients, transfer, analysis."""

import json
import math

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from kernelvis.baselines.tconv_analysis import (distribution_summary, parameter_distributions, stated_motion,
                                                trajectories)
from kernelvis.geometry import angular_difference_deg
from kernelvis.models import conv_layers
from kernelvis.models.conv3t import (Conv3T, build_demo3t_model, conv3t_from_conv2d, conv3t_from_conv3d,
                                     demo3t_from_demo, translation_from_velocity, velocity_from_translation)
from kernelvis.models.demo import DEMO_NUM_CLASSES, DemoNet


def _layer(channels_in=2, channels_out=3, kernel=(4, 7, 7), **kwargs):
    return Conv3T(channels_in, channels_out, kernel, bias=False, **kwargs)


def test_identity_transforms_repeat_the_2d_slice_in_time():
    layer = _layer()
    expected = layer.k0.detach()[:, :, None].expand(-1, -1, 4, -1, -1)
    torch.testing.assert_close(layer.weight.detach(), expected, atol=1e-6, rtol=0)
    # ...and the forward pass is exactly a conv3d with that repeated kernel.
    x = torch.randn(1, 2, 6, 9, 9)
    torch.testing.assert_close(layer(x), F.conv3d(x, expected), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("mode", ["seq", "naive"])
def test_planted_translation_of_one_pixel_per_frame_shifts_each_slice(mode):
    layer = _layer(mode=mode)
    tx, ty = translation_from_velocity(1.0, 0.0, (7, 7))
    with torch.no_grad():
        layer.tx.fill_(tx if mode == "seq" else 0.0)
        if mode == "naive":  # naive mode maps every slice from k0: the per-slice shift is t px
            layer.tx.copy_(torch.tensor([tx * t for t in (1, 2, 3)])[:, None].expand(-1, 3))
    weight, k0 = layer.weight.detach(), layer.k0.detach()
    for t in range(1, 4):
        torch.testing.assert_close(weight[:, :, t, :, t:], k0[:, :, :, :-t], atol=1e-5, rtol=0)
        assert weight[:, :, t, :, :t].abs().max() < 1e-6  # zeros enter from the left border


def test_planted_vertical_translation_moves_content_down_and_rotation_turns_counter_clockwise():
    layer = _layer(1, 1, (2, 7, 7))
    tx, ty = translation_from_velocity(0.0, 2.0, (7, 7))  # 2 px down per frame
    with torch.no_grad():
        layer.k0.zero_()
        layer.k0[0, 0, 3, 3:] = 1.0  # a bar from the centre to the right edge
        layer.ty.fill_(ty)
    torch.testing.assert_close(layer.weight.detach()[0, 0, 1, 5, 3:], torch.ones(4), atol=1e-5, rtol=0)
    with torch.no_grad():
        layer.ty.zero_()
        layer.rotation_rad.fill_(math.pi / 2)
    # Counter-clockwise on screen by 90°: the bar now points up (rows above the centre, y down).
    torch.testing.assert_close(layer.weight.detach()[0, 0, 1, :4, 3], torch.ones(4), atol=1e-5, rtol=0)
    assert trajectories(layer).rotation_deg[0, 1] == pytest.approx(90.0, abs=1e-4)


def test_gradients_reach_the_slice_and_every_transform_parameter():
    torch.manual_seed(0)
    layer = _layer()
    with torch.no_grad():  # away from identity so no gradient vanishes by symmetry
        layer.scale.uniform_(0.8, 1.2)
        layer.rotation_rad.uniform_(-0.3, 0.3)
        layer.tx.uniform_(-0.3, 0.3)
        layer.ty.uniform_(-0.3, 0.3)
    layer(torch.randn(2, 2, 6, 11, 11)).square().mean().backward()
    for name in ("k0", "scale", "rotation_rad", "tx", "ty"):
        grad = getattr(layer, name).grad
        assert grad is not None and torch.isfinite(grad).all() and grad.abs().min() > 0, name


def test_gradients_match_finite_differences():
    layer = Conv3T(1, 2, (3, 5, 5), bias=True).double()
    with torch.no_grad():
        layer.tx.fill_(0.13)
        layer.rotation_rad.fill_(0.2)
        layer.scale.fill_(1.1)
    x = torch.randn(1, 1, 4, 7, 7, dtype=torch.float64)
    from torch.func import functional_call
    names = ["tx", "ty", "rotation_rad", "scale", "k0"]
    inputs = tuple(getattr(layer, n).detach().clone().requires_grad_(True) for n in names)
    assert torch.autograd.gradcheck(lambda *v: functional_call(layer, dict(zip(names, v)), (x,)).sum(), inputs,
                                    eps=1e-6, atol=1e-5)


def test_conv_layers_lists_the_3t_demo_with_the_demo_layer_names():
    model = build_demo3t_model()
    infos = {info.name: info for info in conv_layers(model)}
    assert list(infos) == ["conv1", "conv2", "conv3", "conv4"]
    assert all(info.type == "Conv3T" for info in infos.values())
    assert infos["conv1"].kernel_size == (3, 5, 5) and infos["conv1"].out_channels == 16
    assert model(torch.rand(1, 3, 8, 24, 24)).shape == (1, DEMO_NUM_CLASSES)
    # Fewer parameters than the 3D demo (the paper's point).
    assert sum(p.numel() for p in model.parameters()) < sum(p.numel() for p in DemoNet().parameters())


def test_transfer_from_3d_and_2d_models():
    torch.manual_seed(1)
    demo = DemoNet().eval()
    transferred = demo3t_from_demo(demo, k0_from="mean").eval()
    static = torch.rand(1, 3, 1, 20, 20).expand(-1, -1, 8, -1, -1)
    # The mean slice repeated keeps the response of conv1 to a static clip (away from temporal borders).
    expected = demo.conv1(static)[:, :, 1:-1]
    torch.testing.assert_close(transferred.conv1(static)[:, :, 1:-1], expected, atol=1e-4, rtol=1e-4)
    centre = conv3t_from_conv3d(demo.conv2, k0_from="centre")
    torch.testing.assert_close(centre.k0.detach(), demo.conv2.weight.detach()[:, :, 1])
    conv2d = nn.Conv2d(3, 4, 3, padding=1)
    lifted = conv3t_from_conv2d(conv2d, frames=3)
    frame = torch.rand(1, 3, 10, 10)
    clip = frame[:, :, None].expand(-1, -1, 5, -1, -1)
    # A static clip through the lifted layer is kT × the 2D response (no division by kT, as in 3TConv).
    torch.testing.assert_close(lifted(clip)[:, :, 2], 3 * conv2d(frame) - 2 * conv2d.bias[None, :, None, None],
                               atol=1e-5, rtol=1e-5)


def test_stated_motion_recovers_planted_translations_in_every_direction():
    layer = _layer(1, 8, (3, 5, 5))
    directions = np.arange(0, 360, 45.0)
    with torch.no_grad():
        for channel, direction in enumerate(directions):
            vx, vy = 1.5 * np.cos(np.radians(direction)), -1.5 * np.sin(np.radians(direction))
            tx, ty = translation_from_velocity(vx, vy, (5, 5))
            layer.tx[:, channel], layer.ty[:, channel] = tx, ty
    motion = stated_motion(layer)
    assert np.all(angular_difference_deg(motion["direction_deg"], directions) < 1e-4)
    np.testing.assert_allclose(motion["speed_px_per_frame"], 1.5, atol=1e-6)
    np.testing.assert_allclose(motion["straightness"], 1.0, atol=1e-6)
    assert velocity_from_translation(*translation_from_velocity(0.7, -0.2, (5, 9)), (5, 9)) == pytest.approx((0.7, -0.2))


def test_parameter_distributions_and_summary():
    model = build_demo3t_model()
    with torch.no_grad():
        model.conv2.scale.fill_(1.25)
    distributions = parameter_distributions(model)
    assert list(distributions) == ["conv1", "conv2", "conv3", "conv4"]
    assert distributions["conv2"]["scale"].shape == (2 * 24,)
    summary = distribution_summary(distributions)
    assert summary["conv2"]["scale"]["mean"] == pytest.approx(1.25)
    assert summary["conv1"]["tx"]["std"] == 0.0
    assert summary["all"]["scale"]["count"] == 2 * (16 + 24 + 32 + 48)


def test_train_3t_learns_the_motion_task_at_reduced_size(tmp_path):
    from kernelvis.cli import main
    from kernelvis.models.weights import read_checkpoint

    out = tmp_path / "demo3t.pt"
    classes = ["translate_000", "translate_090", "translate_180", "translate_270"]
    assert main(["train-3t", "--out-file", str(out), "--classes", *classes, "--epochs", "6", "--clips-per-class", "48",
                 "--heldout-per-class", "16", "--frames", "8", "--size", "24", "--textures", "noise",
                 "--batch-size", "16"]) == 0
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["heldout_accuracy"] >= 0.7  # chance is 0.25; measured 0.875 (seed 0)
    model = build_demo3t_model(len(classes))
    model.load_state_dict(read_checkpoint(out))
    assert trajectories(model.conv1).position_px.shape == (16, 3, 2)


def test_tconv_stats_cli_reports_planted_directions(tmp_path):
    import csv

    from kernelvis.cli import main

    model = build_demo3t_model()
    directions = 45.0 * (np.arange(16) % 8)
    with torch.no_grad():
        for channel, direction in enumerate(directions):
            vx, vy = np.cos(np.radians(direction)), -np.sin(np.radians(direction))
            model.conv1.tx[:, channel], model.conv1.ty[:, channel] = translation_from_velocity(vx, vy, (5, 5))
    torch.save(model.state_dict(), tmp_path / "planted.pt")
    out = tmp_path / "stats"
    assert main(["tconv-stats", "--model", "demo3t", "--weights", str(tmp_path / "planted.pt"), "--out", str(out),
                 "--kernels", "2"]) == 0
    assert {"tconv_stats.json", "tconv_kernels.csv", "parameter_distributions.png", "stated_motion.png",
            "trajectories_conv1.png", "trajectories_conv4.png", "first_layer_slices.png"} <= {p.name for p in out.iterdir()}
    rows = [row for row in csv.DictReader(open(out / "tconv_kernels.csv")) if row["layer"] == "conv1"]
    found = np.array([float(row["direction_deg"]) for row in rows])
    assert np.all(angular_difference_deg(found, directions) < 1e-3)
    np.testing.assert_allclose([float(row["speed_px_per_frame"]) for row in rows], 1.0, atol=1e-5)
    stats = json.loads((out / "tconv_stats.json").read_text())
    assert stats["layers"]["conv1"]["stated_speed_px_per_frame"]["median"] == pytest.approx(1.0, abs=1e-5)
    assert stats["layers"]["conv2"]["stated_speed_px_per_frame"]["max"] == 0.0  # identity: no motion stated
    assert main(["tconv-stats", "--model", "demo@random", "--out", str(tmp_path / "bad")]) == 1
