"""The skeleton's shared pieces against known answers: run-to-layer, layer/kernel addressing,
atomic I/O, the angle convention, preprocessing, and the planted energy units' preferences."""

import json

import numpy as np
import pytest
import torch
import torch.nn as nn

from kernelvis import io
from kernelvis.errors import BadInputError
from kernelvis.geometry import angular_difference_deg, direction_deg_of, summarize_direction, unit_velocity
from kernelvis.models import Preprocessing, check_kernels, conv_layers, resolve_layer, run_to_layer
from kernelvis.models.planted import eight_direction_units, planted_model

# --- run_to_layer -------------------------------------------------------------------------------


class _Explodes(nn.Module):
    def forward(self, x):
        raise AssertionError("a layer after the target ran")


class TwoBranchNet(nn.Module):
    """Inception-like: two branches from a shared stem; ``head`` must never run."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv3d(3, 4, 1)
        self.branch_a = nn.Sequential(nn.Conv3d(4, 5, 3, padding=1), nn.ReLU())
        self.branch_b = nn.Conv3d(4, 6, 1)
        self.head = _Explodes()

    def forward(self, x):
        x = self.stem(x)
        return self.head(torch.cat([self.branch_a(x), self.branch_b(x)], 1))


def test_run_to_layer_stops_at_the_target_and_returns_its_output():
    net = TwoBranchNet()
    x = torch.rand(2, 3, 4, 6, 6, requires_grad=True)
    out = run_to_layer(net, "branch_b", x)
    expected = net.branch_b(net.stem(x))
    assert torch.allclose(out, expected)
    out.sum().backward()  # gradients reach the input through the stopped pass
    assert x.grad is not None and x.grad.abs().sum() > 0
    # the hook is gone afterwards: a second target works and no stale hook fires
    assert run_to_layer(net, "branch_a.0", x).shape == (2, 5, 4, 6, 6)
    assert not net.branch_b._forward_hooks and not net.branch_a[0]._forward_hooks


def test_run_to_layer_on_a_layer_the_forward_never_reaches():
    net = TwoBranchNet()
    net.unused = nn.Conv3d(3, 3, 1)
    net.head = nn.Identity()  # the whole pass runs without meeting ``unused``
    with pytest.raises(BadInputError, match="not reached"):
        run_to_layer(net, "unused", torch.rand(1, 3, 2, 4, 4))


def test_resolve_layer_lists_close_matches_or_the_conv_layers():
    net = TwoBranchNet()
    with pytest.raises(BadInputError, match=r"unknown layer 'branch_c'; close matches: .*branch_a"):
        resolve_layer(net, "branch_c")
    with pytest.raises(BadInputError, match=r"conv layers: stem, branch_a\.0, branch_b"):
        resolve_layer(net, "zzz")


def test_conv_layers_and_kernel_checks():
    net = nn.Sequential(nn.Conv3d(3, 4, (3, 5, 5)), nn.Conv2d(4, 7, 3), nn.Linear(2, 2))
    infos = conv_layers(net)
    assert [(i.name, i.type, i.out_channels, i.kernel_size) for i in infos] == [
        ("0", "Conv3d", 4, (3, 5, 5)), ("1", "Conv2d", 7, (3, 3))]
    assert check_kernels(net, "1", [0, 6]) == [0, 6]
    with pytest.raises(BadInputError, match=r"kernel 7 out of range for layer '1': valid 0\.\.6"):
        check_kernels(net, "1", 7)
    with pytest.raises(BadInputError, match="kernel -1 out of range"):
        check_kernels(net, "0", [-1])


# --- preprocessing ------------------------------------------------------------------------------


def test_preprocessing_normalizes_and_packs_slowfast_pathways():
    video = torch.arange(8, dtype=torch.float32).view(1, 1, 8, 1, 1).expand(1, 3, 8, 2, 2) / 8
    p = Preprocessing(mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25), slowfast_alpha=4)
    slow, fast = p(video)
    assert torch.allclose(fast, (video - 0.5) / 0.25)
    assert torch.allclose(slow, fast[:, :, [0, 4]])  # every alpha-th frame
    with pytest.raises(ValueError, match="expected video shaped"):
        p(torch.rand(3, 8, 2, 2))


# --- io -----------------------------------------------------------------------------------------


def test_atomic_write_leaves_nothing_on_error_and_keeps_the_old_file(tmp_path):
    target = tmp_path / "out.json"
    io.save_json(target, {"a": 1})
    with pytest.raises(RuntimeError):
        with io.atomic_path(target) as temporary:
            temporary.write_text("half written")
            raise RuntimeError("killed")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]
    assert json.loads(target.read_text()) == {"a": 1}


def test_staged_directory_publishes_all_or_nothing(tmp_path):
    out = tmp_path / "kernel_0001"
    with pytest.raises(RuntimeError):
        with io.staged_directory(out) as staging:
            io.save_npz(staging / "optimal.npz", video=np.zeros((2, 4, 4, 3), np.float32))
            raise RuntimeError("stage 2 failed")
    assert not out.exists() and list(tmp_path.iterdir()) == []
    with io.staged_directory(out) as staging:
        io.save_npz(staging / "optimal.npz", video=np.ones((2, 4, 4, 3), np.float32))
    assert io.read_video(out / "optimal.npz").shape == (2, 4, 4, 3)


def test_update_json_merges_and_converts_numpy(tmp_path):
    path = tmp_path / "summary.json"
    io.update_json(path, {"model": "demo", "activation": np.float32(2.5)})
    merged = io.update_json(path, {"direction_deg": np.float64(90.0), "activation": 3.0})
    assert merged == {"model": "demo", "activation": 3.0, "direction_deg": 90.0}
    assert json.loads(path.read_text()) == merged


def test_to_uint8_clips_instead_of_wrapping():
    assert io.to_uint8(np.array([-0.2, 0.0, 0.5, 1.0, 1.3])).tolist() == [0, 0, 128, 255, 255]


def test_gif_round_trip_and_unreadable_videos(tmp_path):
    frames = np.zeros((3, 8, 8, 3), np.float32)
    frames[1, :, :, 0] = 1.0
    io.write_gif(tmp_path / "clip.gif", frames)
    back = io.read_video(tmp_path / "clip.gif")
    assert back.shape == (3, 8, 8, 3) and back[1, 0, 0, 0] == 1.0 and back[0].max() == 0.0
    with pytest.raises(BadInputError, match="not found"):
        io.read_video(tmp_path / "absent.mp4")
    np.savez(tmp_path / "bad.npz", video=np.full((2, 4, 4, 3), 2.0, np.float32))
    with pytest.raises(BadInputError, match=r"must lie in \[0, 1\]"):
        io.read_video(tmp_path / "bad.npz")
    np.savez(tmp_path / "other.npz", frames=np.zeros((2, 4, 4, 3), np.float32))
    with pytest.raises(BadInputError, match="has no array 'video'"):
        io.read_video(tmp_path / "other.npz")


# --- geometry -----------------------------------------------------------------------------------


def test_angle_convention_screen_up_is_90_degrees():
    # (vx, vy) with y down: right, up, left, down
    assert direction_deg_of([1, 0, -1, 0], [0, -1, 0, 1]).tolist() == [0.0, 90.0, 180.0, 270.0]
    assert np.allclose(unit_velocity(90.0), (0.0, -1.0)) and np.allclose(unit_velocity(225.0), (-0.5**0.5, 0.5**0.5))
    assert angular_difference_deg(350.0, 10.0) == 20.0 and angular_difference_deg(0.0, 180.0) == 180.0


def test_summarize_direction_on_known_fields():
    uniform = np.broadcast_to(np.array([1.0, -1.0]), (4, 6, 6, 2))  # up-right at sqrt(2) px/frame
    s = summarize_direction(uniform)
    assert s.direction_deg == pytest.approx(45.0) and s.direction_strength == pytest.approx(1.0)
    assert s.speed_px_per_frame == pytest.approx(2**0.5)
    opposed = np.zeros((6, 6, 2))
    opposed[:3, :, 0], opposed[3:, :, 0] = 2.0, -2.0  # half right, half left: no net direction
    assert summarize_direction(opposed).direction_strength == pytest.approx(0.0)
    y, x = np.mgrid[-5:6, -5:6].astype(float)
    rotation = np.stack([-y, x], -1)  # a vortex: every direction equally, strength ~ 0
    assert summarize_direction(rotation).direction_strength < 1e-9
    mostly_left = np.zeros((2, 5, 2))
    mostly_left[0, :, 0], mostly_left[1, :, 1] = -3.0, 0.3  # a fast row left, a slow row down: the mean velocity
    mean_vx, mean_vy = -1.5, 0.15                           # (-1.5, 0.15) px/frame, 5.7 deg below left
    assert summarize_direction(mostly_left).direction_deg == pytest.approx(180.0 + np.degrees(np.arctan(0.1)))
    assert summarize_direction(mostly_left).direction_strength == pytest.approx(np.hypot(mean_vx, mean_vy) / 1.65)
    net_right = np.zeros((10, 2))
    net_right[:8, 0] = 1.0  # eight pixels drift right at 1 px/frame; two fast ones jitter up-left and down-left
    net_right[8] = (-2.0, -3.0)
    net_right[9] = (-2.0, 2.5)
    # the mean velocity (0.4, -0.05) px/frame points right, 7 deg up; weighting by speed would point up-left (153 deg)
    assert angular_difference_deg(summarize_direction(net_right).direction_deg, 0.0) < 10.0
    weights = np.zeros((6, 6))
    weights[3:] = 1.0  # only the left-moving half counts
    assert summarize_direction(opposed, weights=weights).direction_deg == pytest.approx(180.0)


# --- planted units ------------------------------------------------------------------------------


def test_each_planted_unit_prefers_its_own_drift_direction():
    from kernelvis.data.synthetic import drifting_grating

    model = planted_model(eight_direction_units(), frames=16, size=32)
    directions = np.arange(0, 360, 45)
    clips = np.stack([drifting_grating(16, 32, float(d), 0.125, 0.125).video for d in directions])
    video = torch.from_numpy(clips).permute(0, 4, 1, 2, 3)  # (N, 3, T, H, W)
    with torch.no_grad():
        response = run_to_layer(model.module, "energy", model.preprocessing(video)).mean(dim=(2, 3, 4))
    # response[stimulus, unit]: unit k responds most to the grating drifting at 45k degrees ...
    assert response.argmax(dim=0).tolist() == list(range(8))
    # ... and far more than to the opposite drift (a direction-selective energy unit)
    opposite = response[(np.arange(8) + 4) % 8, np.arange(8)]
    assert (response.diagonal() > 5 * opposite).all()
