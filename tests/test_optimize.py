"""Stage 1 properties: determinism, batch independence, restarts, truncation, divergence, transforms,
parameterizations, saving and the CLI."""

import json

import numpy as np
import pytest
import torch
import torch.nn as nn

from kernelvis.cli import main as cli_main
from kernelvis.errors import OptimizationDivergedError
from kernelvis.models.loaded import LoadedModel
from kernelvis.models.planted import PlantedUnit, planted_model
from kernelvis.models.preprocessing import Preprocessing
from kernelvis.models.activation import kernel_activation
from kernelvis.optimize.api import OptimizeConfig, optimize_kernels, save_optimal
from kernelvis.optimize.objectives import channel_mean, weighted_sum
from kernelvis.optimize.param import color_decorrelation_matrix, make_param, spectrum_scale
from kernelvis.optimize.transforms import NO_TRANSFORM, TransformConfig, apply_transforms, draw_transforms

FAST = OptimizeConfig(steps=12, lr=0.1, early_stop_patience=None)


@pytest.fixture(scope="module")
def tiny_model():
    units = [PlantedUnit("drift", 0.0, 0.25, 0.125), PlantedUnit("drift", 90.0, 0.25, 0.125),
             PlantedUnit("static", 45.0, 0.25, 0.0)]
    return planted_model(units, frames=8, size=12, kernel_frames=3, kernel_size=5)


# --- optimization loop ---------------------------------------------------------------------------

def test_same_seed_same_arrays_other_seed_other_arrays(tiny_model):
    first = optimize_kernels(tiny_model, "energy", [0], FAST)[0]
    again = optimize_kernels(tiny_model, "energy", [0], FAST)[0]
    other = optimize_kernels(tiny_model, "energy", [0], OptimizeConfig(**{**FAST.__dict__, "seed": 1}))[0]
    np.testing.assert_array_equal(first.video, again.video)
    np.testing.assert_array_equal(first.history, again.history)
    assert np.abs(first.video - other.video).max() > 0.05


def test_different_kernels_give_different_videos(tiny_model):
    right, up = optimize_kernels(tiny_model, "energy", [0, 1], FAST)
    assert np.abs(right.video - up.video).mean() > 0.05
    # each is the better stimulus for its own kernel
    clips = torch.from_numpy(np.stack([right.video, up.video])).permute(0, 4, 1, 2, 3)
    with torch.no_grad():
        assert kernel_activation(tiny_model, "energy", clips[:1], 0) > kernel_activation(tiny_model, "energy", clips[1:], 0)
        assert kernel_activation(tiny_model, "energy", clips[1:], 1) > kernel_activation(tiny_model, "energy", clips[:1], 1)


def test_a_kernel_result_does_not_depend_on_its_batch(tiny_model):
    together = optimize_kernels(tiny_model, "energy", [0, 2], FAST)[1]
    alone = optimize_kernels(tiny_model, "energy", [2], FAST)[0]
    np.testing.assert_allclose(together.video, alone.video, atol=1e-3)


def test_restarts_are_all_kept_and_the_best_unjittered_one_wins(tiny_model):
    config = OptimizeConfig(**{**FAST.__dict__, "restarts": 3})
    result = optimize_kernels(tiny_model, "energy", [1], config)[0]
    assert result.candidates.shape == (3, 8, 12, 12, 3)
    clips = torch.from_numpy(result.candidates).permute(0, 4, 1, 2, 3)
    with torch.no_grad():
        unjittered = kernel_activation(tiny_model, "energy", clips, 1).numpy()
    np.testing.assert_allclose(result.candidate_activations, unjittered, rtol=1e-5)
    assert result.activation == pytest.approx(unjittered.max(), rel=1e-6)
    np.testing.assert_array_equal(result.video, result.candidates[int(np.argmax(unjittered))])
    assert len({round(float(a), 6) for a in unjittered}) == 3, "restarts should start from different noise"


def test_history_rises_and_early_stop_ends_a_saturated_run(tiny_model):
    config = OptimizeConfig(steps=400, lr=0.5, early_stop_patience=15)
    result = optimize_kernels(tiny_model, "energy", [0], config)[0]
    assert len(result.history) < 400, "the sigmoid saturates, so the activation stops improving"
    assert result.history[-10:].mean() > 3 * result.history[:3].mean()
    rising = optimize_kernels(tiny_model, "energy", [0], OptimizeConfig(steps=40, lr=0.01, early_stop_patience=15))[0]
    assert len(rising.history) == 40, "a still-rising activation must not stop early"


class _MustNotRun(nn.Module):
    def forward(self, x):
        raise AssertionError("a layer after the target ran")


def test_optimizer_never_runs_layers_after_the_target():
    module = nn.Sequential(nn.Conv3d(3, 4, 3), nn.ReLU(), _MustNotRun(), nn.Conv3d(4, 4, 1))
    model = LoadedModel("guarded", module, Preprocessing(frames=6, size=10))
    result = optimize_kernels(model, "0", [3], OptimizeConfig(steps=3, early_stop_patience=None))[0]
    assert result.video.shape == (6, 10, 10, 3)


def test_nan_is_recorded_as_a_diverged_kernel_not_an_error(tiny_model, tmp_path):
    module = nn.Sequential(nn.Conv3d(3, 2, 3))
    with torch.no_grad():
        module[0].weight[0, 0, 0, 0, 0] = float("nan")
    model = LoadedModel("broken", module, Preprocessing(frames=5, size=8))
    broken, healthy = optimize_kernels(model, "0", [0, 1], OptimizeConfig(steps=3, restarts=2))
    assert broken.status == "diverged" and "NaN or inf" in broken.status_detail
    assert np.isfinite(broken.video).all() and not np.isfinite(broken.activation)
    assert healthy.status == "ok" and np.isfinite(healthy.activation)  # its batch neighbour is unharmed
    save_optimal(broken, tmp_path, "broken", "0", 0)
    with np.load(tmp_path / "optimal.npz") as archive:
        assert str(archive["status"]) == "diverged"


class _BlowsUp(nn.Module):
    """Its output is the clip's brightness, and NaN once that passes 0.6 (which maximizing it will do)."""

    def forward(self, x):
        brightness = x.mean(dim=(1, 2, 3, 4), keepdim=True)
        return (brightness + 0 * torch.sqrt(0.6 - brightness)).expand(-1, 1, *x.shape[2:])


def test_a_restart_that_diverges_mid_way_keeps_its_last_finite_clip():
    model = LoadedModel("blows-up", nn.Sequential(_BlowsUp()), Preprocessing(frames=4, size=8))
    result = optimize_kernels(model, "0", [0], OptimizeConfig(steps=200, lr=0.2, early_stop_patience=None,
                                                                 objective="channel"))[0]
    assert result.status == "diverged" and "step" in result.status_detail
    # the last finite clip is kept (it had brightened from the grey start), not a reset
    assert np.isfinite(result.video).all() and result.video.mean() > 0.55
    assert np.isfinite(result.history[:5]).all()


def test_a_dead_kernel_is_a_result():
    module = nn.Sequential(nn.Conv3d(3, 2, 3))
    with torch.no_grad():
        module[0].weight[1].zero_()
        module[0].bias[1] = 0.25
    model = LoadedModel("half-dead", module, Preprocessing(frames=5, size=8))
    live, dead = optimize_kernels(model, "0", [0, 1], OptimizeConfig(steps=3))
    assert dead.status == "dead" and live.status == "ok"
    assert dead.activation == pytest.approx(0.25)


def test_auto_objective_is_rectified_on_a_linear_layer_and_channel_after_a_nonlinearity():
    module = nn.Sequential(nn.Conv3d(3, 2, 3), nn.ReLU(), nn.Conv3d(2, 2, 1))
    model = LoadedModel("two", module, Preprocessing(frames=5, size=8, mean=(0.5,) * 3, std=(0.25,) * 3))
    (first,) = optimize_kernels(model, "0", [0], OptimizeConfig(steps=2))
    (second,) = optimize_kernels(model, "2", [0], OptimizeConfig(steps=2))
    assert (first.objective, second.objective) == ("rectified", "channel")
    assert first.probe["affine"] and not second.probe["affine"]
    (forced,) = optimize_kernels(model, "0", [0], OptimizeConfig(steps=2, objective="channel"))
    assert forced.objective == "channel"


def test_extra_terms_change_the_search_not_the_reported_activation(tiny_model):
    # maximizing kernel 0 while pushing kernel 1 down (a suppression-style composite objective)
    def other_kernel(output, kernels):
        return channel_mean(output, torch.ones_like(kernels))

    plain = optimize_kernels(tiny_model, "energy", [0], FAST)[0]
    config = OptimizeConfig(**{**FAST.__dict__, "extra_terms": ((-5.0, other_kernel),)})
    suppressed = optimize_kernels(tiny_model, "energy", [0], config)[0]
    clips = torch.from_numpy(np.stack([plain.video, suppressed.video])).permute(0, 4, 1, 2, 3)
    with torch.no_grad():
        own = kernel_activation(tiny_model, "energy", clips, 0)
        other = kernel_activation(tiny_model, "energy", clips, 1)
    assert suppressed.activation == pytest.approx(own[1].item(), rel=1e-4)
    assert other[1] < other[0]
    combined = weighted_sum([(2.0, channel_mean), (-1.0, channel_mean)])
    output = torch.randn(2, 3, 2, 2, 2)
    torch.testing.assert_close(combined(output, torch.tensor([0, 2])), channel_mean(output, torch.tensor([0, 2])))


def test_fourier_param_runs(tiny_model):
    config = OptimizeConfig(steps=3, param="fourier", frames=4, size=8, early_stop_patience=None)
    fourier = optimize_kernels(tiny_model, "energy", [0], config)[0]
    assert fourier.video.shape == (4, 8, 8, 3) and np.isfinite(fourier.activation)


def test_paper_preprocessing_feeds_imagenet_normalized_32x224x224():
    module = nn.Sequential(nn.Conv3d(3, 1, 1, bias=False))
    with torch.no_grad():
        module[0].weight.fill_(1.0)
    seen = []
    module[0].register_forward_hook(lambda _m, inputs, _o: seen.append(inputs[0].detach()))
    model = LoadedModel("one", module, Preprocessing(frames=4, size=8))
    optimize_kernels(model, "0", [0], OptimizeConfig(steps=1, restarts=1, preprocessing="paper"))
    seen[:] = [clip for clip in seen if clip.shape[0] == 1]  # the linearity probe's batch came first
    assert seen[0].shape == (1, 3, 32, 224, 224)
    channel_means = seen[0].mean(dim=(0, 2, 3, 4))  # the clip starts near grey 0.5
    torch.testing.assert_close(channel_means, (0.5 - torch.tensor([0.485, 0.456, 0.406])) / torch.tensor(
        [0.229, 0.224, 0.225]), atol=0.05, rtol=0)
    seen.clear()
    optimize_kernels(model, "0", [0], OptimizeConfig(steps=1, restarts=1))
    seen[:] = [clip for clip in seen if clip.shape[0] == 1]
    assert seen[0].shape == (1, 3, 4, 8, 8)


# --- transforms ----------------------------------------------------------------------------------

def _draw(n, **kwargs):
    config = TransformConfig(**kwargs)
    return config, draw_transforms([torch.Generator().manual_seed(i) for i in range(n)], config)


def test_jitter_is_symmetric_and_independent_per_element():
    config, _ = _draw(1, jitter_px=4, jitter_frames=2)
    generators = [torch.Generator().manual_seed(i) for i in range(4)]
    draws = [draw_transforms(generators, config) for _ in range(500)]
    shifts = torch.stack([d.shift_x_px for d in draws])
    frames = torch.stack([d.shift_frames for d in draws])
    assert set(shifts.unique().tolist()) == {-4.0, -3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0, 4.0}  # whole pixels
    assert abs(shifts.mean()) < 0.3
    assert set(frames.unique().tolist()) == {-2, -1, 0, 1, 2}
    assert not torch.equal(shifts[:, 0], shifts[:, 1])


def test_integer_shift_and_roll_move_content_as_drawn():
    video = torch.rand(2, 3, 5, 10, 10)
    config, draw = _draw(2, jitter_px=3, jitter_frames=2, scale_range=(1.0, 1.0))
    draw.shift_x_px = torch.tensor([2.0, -1.0])
    draw.shift_y_px = torch.tensor([0.0, 3.0])
    draw.shift_frames = torch.tensor([1, -2])
    moved = apply_transforms(video, draw, config)
    expected0 = torch.roll(video[0], shifts=1, dims=1)
    torch.testing.assert_close(moved[0, :, :, :, 2:], expected0[:, :, :, :-2])  # content moved right by 2
    assert torch.allclose(moved[0, :, :, :, :2], torch.tensor(0.5))  # vacated columns are grey
    expected1 = torch.roll(video[1], shifts=-2, dims=1)
    torch.testing.assert_close(moved[1, :, :, 3:, :-1], expected1[:, :, :-3, 1:])  # down 3, left 1


def test_scale_about_the_centre_keeps_the_centre_and_identity_is_exact():
    video = torch.rand(1, 3, 2, 9, 9)
    assert apply_transforms(video, _draw(1)[1], NO_TRANSFORM) is video
    config, draw = _draw(1, jitter_px=0, jitter_frames=0, scale_range=(1.5, 1.5))
    zoomed = apply_transforms(video, draw, config)
    torch.testing.assert_close(zoomed[..., 4, 4], video[..., 4, 4])
    config, draw = _draw(1, jitter_px=0, jitter_frames=0, scale_range=(1.0, 1.0), rotation_deg=90.0)
    draw.rotation_deg = torch.tensor([90.0])
    rotated = apply_transforms(video, draw, config)
    torch.testing.assert_close(rotated, torch.rot90(video, k=1, dims=(3, 4)), atol=1e-5, rtol=0)


def test_shift_mode_fills_vacated_frames_and_padding_grows_the_canvas():
    video = torch.rand(1, 3, 4, 6, 6)
    config, draw = _draw(1, jitter_px=0, jitter_frames=1, temporal_mode="shift", scale_range=(1.0, 1.0), pad_px=2)
    draw.shift_frames = torch.tensor([1])
    moved = apply_transforms(video, draw, config)
    assert moved.shape == (1, 3, 4, 10, 10)
    assert torch.allclose(moved[:, :, 0], torch.tensor(0.5))
    torch.testing.assert_close(moved[:, :, 1:, 2:-2, 2:-2], video[:, :, :-1])


# --- parameterizations ---------------------------------------------------------------------------

def test_colour_matrix_and_spectrum_scale():
    matrix = color_decorrelation_matrix()
    assert torch.linalg.norm(matrix, dim=0).max().item() == pytest.approx(1.0)
    scale = spectrum_scale(8, 16, 16, slope=1.0)
    assert scale.shape == (8, 16, 9)
    assert scale[0, 0, 1].item() == pytest.approx(16.0)  # 1 / (1/16 cyc/px)
    assert scale[0, 0, 0].item() == pytest.approx(16.0)  # DC clamped at 1 / max size
    assert scale[4, 8, 8].item() == pytest.approx(1 / np.sqrt(0.75))


@pytest.mark.parametrize("kind", ["pixel", "fourier"])
def test_parameterizations_start_grey_and_are_per_element_seeded(kind):
    param = make_param(kind, [11, 12], frames=4, size=8)
    video = param.video()
    assert video.shape == (2, 3, 4, 8, 8)
    assert abs(video.mean().item() - 0.5) < 0.02 and video.std().item() < 0.05
    again = make_param(kind, [12], frames=4, size=8).video()
    torch.testing.assert_close(video[1:], again)


# --- saving and the CLI --------------------------------------------------------------------------

def test_save_optimal_writes_the_contract_and_merges_summary(tiny_model, tmp_path):
    result = optimize_kernels(tiny_model, "energy", [1], OptimizeConfig(**{**FAST.__dict__, "restarts": 2}))[0]
    (tmp_path / "summary.json").write_text(json.dumps({"recon_psnr_db": 30.0}))
    save_optimal(result, tmp_path, "planted", "energy", 1)
    with np.load(tmp_path / "optimal.npz") as archive:
        np.testing.assert_array_equal(archive["video"], result.video)
        assert archive["history"].dtype == np.float32 and archive["history"].shape == (12,)
        assert archive["candidates"].shape == (2, 8, 12, 12, 3)
        assert float(archive["activation"]) == pytest.approx(result.activation)
        assert str(archive["model"]) == "planted" and str(archive["layer"]) == "energy" and int(archive["kernel"]) == 1
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["recon_psnr_db"] == 30.0 and summary["kernel"] == 1
    assert summary["activation"] == pytest.approx(result.activation)
    assert (tmp_path / "optimal.gif").stat().st_size > 0


def _model_file(tmp_path, nan: bool) -> str:
    path = tmp_path / "tiny.py"
    path.write_text(
        "import torch, torch.nn as nn\n"
        "def build():\n"
        "    torch.manual_seed(0)\n"
        "    net = nn.Sequential(nn.Conv3d(3, 4, 3), nn.ReLU(), nn.Conv3d(4, 2, 1))\n"
        f"    if {nan}:\n"
        "        with torch.no_grad(): net[0].weight[0, 0, 0, 0, 0] = float('nan')\n"
        "    return net\n")
    return f"{path}:build"


def test_cli_writes_outputs(tmp_path):
    out = tmp_path / "kernel_0003"
    code = cli_main(["optimize", "--model", _model_file(tmp_path, nan=False), "--layer", "0", "--kernel", "3",
                     "--out", str(out), "--frames", "4", "--size", "8", "--steps", "4", "--no-progress"])
    assert code == 0
    assert {p.name for p in out.iterdir()} == {"optimal.npz", "optimal.gif", "stage_optimize.json"}


def test_cli_records_a_diverged_kernel_as_a_result(tmp_path, capsys):
    out = tmp_path / "diverged"
    common = ["--out", str(out), "--frames", "4", "--size", "8", "--steps", "3", "--no-progress"]
    assert cli_main(["optimize", "--model", _model_file(tmp_path, nan=True), "--layer", "0", "--kernel", "0", *common]) == 0
    assert "diverged" in capsys.readouterr().out
    summary = json.loads((out / "stage_optimize.json").read_text())
    assert summary["status"] == "diverged" and summary["activation"] is None


def test_cli_errors_leave_no_output(tmp_path, capsys):
    out = tmp_path / "out"
    common = ["--out", str(out), "--frames", "4", "--size", "8", "--steps", "3", "--no-progress"]
    assert cli_main(["optimize", "--model", _model_file(tmp_path, nan=False), "--layer", "0", "--kernel", "9", *common]) == 1
    assert "out of range" in capsys.readouterr().err
    assert not out.exists()


def test_cli_defaults_match_the_library_defaults():
    import argparse

    from kernelvis.commands.optimize import add_optimize_options, optimize_config_from_args

    parser = argparse.ArgumentParser()
    add_optimize_options(parser)
    from_cli = optimize_config_from_args(parser.parse_args([]))
    library = OptimizeConfig()
    assert from_cli.__dict__ == {**library.__dict__, "progress": True}


def test_clip_stats_set_the_colour_matrix_and_spectral_slope(tmp_path, tiny_model):
    import argparse

    from kernelvis.commands.optimize import add_optimize_options, optimize_config_from_args
    from kernelvis.data.clip_stats import ClipStats, save_clip_stats

    # a colour matrix whose three output rows are equal can only make grey clips
    grey_only = np.array([[0.3, 0.0, 0.0]] * 3)
    save_clip_stats(tmp_path / "stats.json", ClipStats(grey_only, 1.3, np.full(3, 0.5), np.eye(3), 0.99, 4))
    parser = argparse.ArgumentParser()
    add_optimize_options(parser)
    config = optimize_config_from_args(parser.parse_args(["--clip-stats", str(tmp_path / "stats.json"), "--steps", "5"]))
    assert config.spectral_slope == pytest.approx(1.3)
    # a slope steeper than natural video (synthetic clips measure ~3.5) would freeze fine structure: clamped
    save_clip_stats(tmp_path / "steep.json", ClipStats(grey_only, 3.5, np.full(3, 0.5), np.eye(3), 0.99, 4))
    steep = parser.parse_args(["--clip-stats", str(tmp_path / "steep.json"), "--steps", "5"])
    assert optimize_config_from_args(steep).spectral_slope == pytest.approx(1.5)
    result = optimize_kernels(tiny_model, "energy", [0], config)[0]
    np.testing.assert_array_equal(result.video[..., 0], result.video[..., 1])
    np.testing.assert_array_equal(result.video[..., 0], result.video[..., 2])
    assert result.video.std() > 0.01


def test_neuron_objective_changes_only_the_centre_receptive_field(tiny_model):
    from kernelvis.optimize.api import element_seeds

    config = OptimizeConfig(steps=10, lr=0.1, objective="neuron", transforms=NO_TRANSFORM, early_stop_patience=None)
    result = optimize_kernels(tiny_model, "energy", [0], config)[0]
    start = make_param("pixel", element_seeds(0, [0], 1), 8, 12).video()[0].permute(1, 2, 3, 0).detach().numpy()
    changed = np.abs(result.video - start).max(axis=-1) > 1e-6  # [T, H, W]
    # energy map is 6×8×8 (kernel 3×5×5); its centre (3, 4, 4) sees frames 3..5, rows and columns 4..8
    inside = np.zeros_like(changed)
    inside[3:6, 4:9, 4:9] = True
    assert changed[inside].mean() > 0.9
    assert not changed[~inside].any()
