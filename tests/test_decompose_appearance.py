"""Stage 2's appearance component and change shares (issue 16) against ground truth."""

import numpy as np
import pytest
import torch

from kernelvis.data import synthetic
from kernelvis.decompose.appearance import Appearance, apply_appearance, fit_appearance
from kernelvis.decompose.fit import DecomposeConfig, decompose_videos
from kernelvis.decompose.flow import global_shift_px, initial_flow, orientation_coherence
from kernelvis.decompose.save import load_decomposition, save_decomposition
from kernelvis.decompose.stats import change_shares, gain_curve, interior_mask, motion_summary
from kernelvis.decompose.warp import pixel_grid, sample_at_px

FRAMES, SIZE = 12, 48


def interior_epe(estimated, truth):
    inside = interior_mask(*truth.shape[1:3]).astype(bool)
    return float(np.linalg.norm(estimated[1:] - truth[1:], axis=-1)[:, inside].mean())


def cut_clip(frames=FRAMES, size=SIZE, seed=8):
    """Texture A for the first half, an unrelated texture B for the second: no motion at all."""
    video = synthetic.static_texture(frames, size, seed=seed).video.copy()
    video[frames // 2:] = synthetic.static_texture(frames, size, seed=seed + 100).video[frames // 2:]
    return video


RAMP_GAIN = 0.7 + 0.025 * np.arange(FRAMES)


def ramp_clip():
    """A translating texture whose brightness rises by 39 % over the clip (no value clipped)."""
    stimulus = synthetic.translating_texture(FRAMES, SIZE, 60.0, 1.5, seed=9)
    return stimulus.video * RAMP_GAIN[:, None, None, None].astype(np.float32), stimulus.velocity


# --- closed-form pieces ---------------------------------------------------------------------------

def test_shares_are_shapley_values_that_sum_to_one():
    rng = np.random.default_rng(0)
    video = rng.random((4, 8, 8, 3))
    static = video[0]
    # switching motion on removes 60 % of E_0, appearance 20 %, both 90 %
    total_error = float(((video - static) ** 2).sum())

    def leaving(fraction):
        # a model leaving exactly `fraction` of E_0: shrink the deviation from V by sqrt(fraction)
        return video - np.sqrt(fraction) * (video - static)

    shares = change_shares(video, static, leaving(0.4), leaving(0.8), leaving(0.1))
    assert total_error > 0 and not shares["static_clip"]
    assert shares["motion_share"] == pytest.approx(0.5 * (0.6 + 0.7))
    assert shares["appearance_share"] == pytest.approx(0.5 * (0.2 + 0.3))
    assert shares["residual_share"] == pytest.approx(0.1)
    assert sum(shares[k] for k in ("motion_share", "appearance_share", "residual_share")) == pytest.approx(1.0)
    # a component that makes things worse counts as explaining nothing, never as a negative share
    worse = change_shares(video, static, video + 1.0, leaving(0.5), leaving(0.5))
    assert worse["motion_share"] == pytest.approx(0.0) and worse["appearance_share"] == pytest.approx(0.5)


def test_static_clip_has_defined_zero_shares():
    video = np.broadcast_to(synthetic.static_texture(1, 16, seed=1).video, (5, 16, 16, 3))
    shares = change_shares(video, video[0], video, video, video)
    assert shares == {"motion_share": 0.0, "appearance_share": 0.0, "residual_share": 0.0,
                      "temporal_change": 0.0, "static_clip": True}


def test_closed_form_appearance_recovers_gain_offset_and_a_cut():
    generator = torch.Generator().manual_seed(0)
    base = torch.rand(1, 3, 1, 10, 14, generator=generator).expand(-1, -1, 5, -1, -1)  # non-square frames
    truth = Appearance(gain_delta=torch.linspace(-1.5, 0.5, 4).view(1, 4, 1, 1, 1).expand(1, 4, 3, 2, 2).contiguous(),
                       offset=torch.full((1, 4, 3, 2, 2), 0.1), residual_coef=torch.tensor([[0.0, 0.0, 1.0, 1.0]]),
                       residual_image=torch.rand(1, 3, 10, 14, generator=generator))
    clips = apply_appearance(base, truth).transpose(1, 2)  # (B, T, C, H, W)
    torch.testing.assert_close(clips[:, 0], base[:, :, 0])  # frame 0 is the identity
    fitted = fit_appearance(base, clips, grid=2)
    torch.testing.assert_close(apply_appearance(base, fitted).transpose(1, 2), clips, atol=2e-3, rtol=0)


@pytest.mark.parametrize("shift", [(2.6, -1.3), (-3.0, 0.0), (0.4, 2.9)])
def test_phase_correlation_finds_a_fast_global_shift(shift):
    # a fine texture (cut-off 0.4 cycles/px) on non-square frames
    canvas = torch.from_numpy(synthetic.smooth_noise_texture(64, seed=3, cutoff_cyc_per_px=0.4)).permute(2, 0, 1)[None]
    grid = pixel_grid(40, 56)[None] + 4.0
    first = sample_at_px(canvas, grid)
    second = sample_at_px(canvas, grid + torch.tensor(shift))  # second(p) = canvas(p + shift)
    found, peak, elsewhere = global_shift_px(first, second)
    assert peak.item() > 0.2 and peak.item() > 1.5 * elsewhere.item()
    np.testing.assert_allclose(found[0].numpy(), shift, atol=0.35)


# --- whole fits against ground truth ----------------------------------------------------------------

@pytest.fixture(scope="module")
def change_fits():
    """One batched fit: static, flicker, cut, brightness ramp on a translation, pure translation."""
    ramp, ramp_velocity = ramp_clip()
    translation = synthetic.translating_texture(FRAMES, SIZE, 200.0, 1.2, seed=4)
    clips = {"static": synthetic.static_texture(FRAMES, SIZE, seed=5).video,
             "flicker": synthetic.flicker(FRAMES, SIZE, temporal_freq=0.125, seed=6).video,
             "cut": cut_clip(),
             "ramp": ramp,
             "moving": translation.video}
    # from the pairwise flow's motion start alone: the translation start (tested in test_decompose.py) would double
    # this fixture's time, and these clips are about motion vs appearance, which both motion starts fit alike
    fits = decompose_videos(np.stack(list(clips.values())), DecomposeConfig(rigid_start=False))
    summaries = {name: motion_summary(video, fit) for (name, video), fit in zip(clips.items(), fits)}
    return clips, dict(zip(clips, fits)), summaries, {"ramp": ramp_velocity, "moving": translation.velocity}


def test_planted_static_flicker_and_moving_units_get_clearly_different_shares(change_fits):
    _, _, summaries, _ = change_fits
    static, flicker, moving = summaries["static"], summaries["flicker"], summaries["moving"]
    assert static["static_clip"] and static["motion_share"] == static["appearance_share"] == 0.0
    assert flicker["appearance_share"] > 0.9 and flicker["motion_share"] < 0.05
    assert moving["motion_share"] > 0.9 and moving["appearance_share"] < 0.05
    for summary in summaries.values():
        values = [summary[k] for k in ("motion_share", "appearance_share", "residual_share")]
        assert all(np.isfinite(values)) and min(values) >= 0
        assert summary["static_clip"] or sum(values) == pytest.approx(1.0)
        assert summary["motion_index"] == summary["motion_share"]


@pytest.mark.parametrize("name", ["flicker", "cut"])
def test_flicker_and_cut_are_appearance_not_motion(change_fits, name):
    _, fits, summaries, _ = change_fits
    assert summaries[name]["motion_share"] <= 0.2
    assert summaries[name]["appearance_share"] >= 0.7
    assert summaries[name]["recon_psnr_db"] > 35.0
    assert fits[name].start == "appearance"
    assert np.abs(fits[name].displacement).max() < 0.5  # D stays (near) zero for pure appearance change


def test_translation_with_brightness_ramp_recovers_motion_and_gain(change_fits):
    _, fits, summaries, truths = change_fits
    fit = fits["ramp"]
    assert interior_epe(fit.velocity, truths["ramp"]) <= 0.15
    gains = gain_curve(fit).mean(axis=-1)
    assert fit.anchor_frame == 0  # the default anchor (a later one: test_decompose_anchor.py)
    np.testing.assert_allclose(gains, RAMP_GAIN / RAMP_GAIN[0], rtol=0.05)
    assert summaries["ramp"]["motion_share"] > 0.5 and summaries["ramp"]["appearance_share"] > 0.05


def test_appearance_keys_round_trip_through_the_archive(change_fits, tmp_path):
    clips, fits, summaries, _ = change_fits
    save_decomposition(fits["flicker"], tmp_path, summaries["flicker"])
    loaded = load_decomposition(tmp_path / "decomposition.npz")
    assert loaded.start == "appearance"
    for key in ("gain", "offset", "residual_coef", "residual_image", "recon_motion_only", "recon_appearance_only"):
        np.testing.assert_array_equal(getattr(loaded, key), getattr(fits["flicker"], key))
    grid = DecomposeConfig().appearance_grid
    assert loaded.gain.shape == (FRAMES, grid, grid, 3) and np.all(loaded.gain[0] == 1)


def test_non_square_clip_decomposes_with_shares():
    height, width = 32, 56
    flicker = synthetic.flicker(FRAMES, width, temporal_freq=0.2, seed=11).video[:, :height]
    moving = synthetic.translating_texture(FRAMES, width, 45.0, 1.0, seed=12)
    fits = decompose_videos(np.stack([flicker, moving.video[:, :height]]), DecomposeConfig())
    assert fits[0].recon.shape == (FRAMES, height, width, 3) and fits[0].residual_image.shape == (height, width, 3)
    flicker_summary, moving_summary = (motion_summary(v, f) for v, f in zip([flicker, moving.video[:, :height]], fits))
    assert flicker_summary["appearance_share"] > 0.7 and moving_summary["motion_share"] > 0.9
    assert interior_epe(fits[1].velocity, moving.velocity[:, :height]) < 0.1


@pytest.mark.slow  # 27 s: eight clips, each fitted from both motion starts
def test_pure_translation_in_eight_directions_stays_motion():
    speeds = [0.5, 3.0, 1.2, 2.5, 0.8, 2.0, 1.6, 2.8]
    directions = [0, 45, 90, 135, 180, 225, 270, 315]
    textures = ["noise", "gravel", "noise", "grass", "noise", "gravel", "noise", "grass"]
    stimuli = [synthetic.translating_texture(FRAMES, SIZE, d, s, texture=t, seed=i)
               for i, (d, s, t) in enumerate(zip(directions, speeds, textures))]
    fits = decompose_videos(np.stack([s.video for s in stimuli]), DecomposeConfig())
    for stimulus, fit in zip(stimuli, fits):
        summary = motion_summary(stimulus.video, fit)
        assert interior_epe(fit.velocity, stimulus.velocity) <= 0.1
        assert summary["appearance_share"] <= 0.05
        assert fit.start in ("motion", "translation")  # a motion start, from the pairwise flow or one velocity


def test_a_grating_gets_no_global_shift_but_a_texture_does():
    # a grating constrains only its normal motion; its correlation surface is a ridge whose isolated
    # lattice maxima lie along the stripes, so seeding the flow from one would slide it along them
    grating = synthetic.drifting_grating(2, 32, 150.0, spatial_freq=0.125, temporal_freq=0.25).video
    texture = synthetic.translating_texture(2, 32, 150.0, 2.0, texture="gravel", seed=1).video
    for video, moved in ((grating, False), (texture, True)):
        frames = torch.from_numpy(video).permute(0, 3, 1, 2)
        flow = initial_flow(frames[:1], frames[1:])
        assert bool(flow.abs().max() > 1.0) == moved
    assert orientation_coherence(torch.from_numpy(grating).permute(0, 3, 1, 2)).min() > 0.9
