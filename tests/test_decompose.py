"""Stage 2 against ground truth: synthetic clips whose velocity is known exactly."""

import numpy as np
import pytest
import torch

from kernelvis.data import synthetic
from kernelvis.decompose.fit import DecomposeConfig, decompose_video, decompose_videos
from kernelvis.decompose.stats import interior_mask, motion_summary
from kernelvis.errors import BadInputError
from kernelvis.geometry import angular_difference_deg

FRAMES, SIZE = 16, 64
# the pairwise flow's start alone (the translation start doubles the time; test_decompose_appearance's eight
# translations and the thin lines below fit with both starts)
FAST = DecomposeConfig(steps=30, rigid_start=False)
DIRECTIONS_DEG = [0, 45, 90, 135, 180, 225, 270, 315]
SPEEDS_PX_PER_FRAME = [0.5, 0.85, 1.2, 1.55, 1.9, 2.25, 2.6, 3.0]


def interior_epe(estimated, truth):
    """Mean end-point error over frames 1..T-1 (velocity[0] is 0 by definition) and the interior."""
    inside = interior_mask(*truth.shape[1:3]).astype(bool)
    return float(np.linalg.norm(estimated[1:] - truth[1:], axis=-1)[:, inside].mean())


@pytest.fixture(scope="module")
def translations():
    stimuli = [synthetic.translating_texture(FRAMES, SIZE, direction, speed, seed=index)
               for index, (direction, speed) in enumerate(zip(DIRECTIONS_DEG, SPEEDS_PX_PER_FRAME))]
    # all eight clips in one batched fit
    return stimuli, decompose_videos(np.stack([s.video for s in stimuli]), FAST)


@pytest.mark.parametrize("index", range(len(DIRECTIONS_DEG)))
def test_translation_recovers_velocity_direction_and_reconstruction(translations, index):
    stimuli, decompositions = translations
    stimulus, decomposition = stimuli[index], decompositions[index]
    summary = motion_summary(stimulus.video, decomposition)
    assert interior_epe(decomposition.velocity, stimulus.velocity) < 0.25
    assert angular_difference_deg(summary["direction_deg"], DIRECTIONS_DEG[index]) < 5.0
    assert summary["speed_px_per_frame"] == pytest.approx(SPEEDS_PX_PER_FRAME[index], rel=0.1)
    assert summary["recon_psnr_db"] > 30.0
    assert summary["direction_strength"] > 0.95
    assert summary["motion_index"] > 0.9


def test_translation_displacement_follows_the_documented_convention(translations):
    # V_t(p) = I(p + D_t(p)) with I anchored to frame 0: content moving at v has D_t = -t v.
    stimuli, decompositions = translations
    stimulus, decomposition = stimuli[3], decompositions[3]
    inside = interior_mask(SIZE, SIZE).astype(bool)
    expected = -np.arange(FRAMES)[:, None] * stimulus.velocity[0, 0, 0]
    measured = decomposition.displacement[:, inside].mean(axis=1)
    # the sign convention is what is checked (|D| reaches 23 px here); with FAST's 30 steps the mean D is
    # within 0.30 px before issue 16, 0.46 px since (phase-correlation start, gain/offset fitted alongside)
    np.testing.assert_allclose(measured, expected, atol=0.5)
    assert np.all(decomposition.velocity[0] == 0)
    margin = decomposition.margin_px
    assert decomposition.static_canvas.shape == (SIZE + 2 * margin, SIZE + 2 * margin, 3)
    assert margin >= np.abs(expected).max()  # content entering over the clip fits on the canvas
    np.testing.assert_array_equal(decomposition.static, decomposition.static_canvas[margin:-margin, margin:-margin])


def screen_curl_and_divergence(velocity):
    """Mean curl (counter-clockwise on screen positive: y up) and divergence of the time-averaged field."""
    mean = velocity[1:].mean(axis=0)
    d_vx_dy, d_vx_dx = np.gradient(mean[..., 0])
    d_vy_dy, d_vy_dx = np.gradient(mean[..., 1])
    inside = interior_mask(*mean.shape[:2]).astype(bool)
    curl_image = d_vy_dx - d_vx_dy  # in image axes (y down)
    return float(-curl_image[inside].mean()), float((d_vx_dx + d_vy_dy)[inside].mean())


def median_angular_error_deg(estimated, truth):
    inside = interior_mask(*truth.shape[1:3]).astype(bool)
    e, g = estimated[1:, inside], truth[1:, inside]
    cosine = (e * g).sum(-1) / (np.linalg.norm(e, axis=-1) * np.linalg.norm(g, axis=-1) + 1e-9)
    return float(np.median(np.degrees(np.arccos(np.clip(cosine, -1, 1)))))


@pytest.mark.slow  # 9 s; the fast suite keeps the translations, the static clip and the flicker
def test_rotation_and_expansion_have_the_right_curl_and_divergence():
    deg_per_frame, rate_per_frame = 3.0, 0.03
    stimuli = [synthetic.rotating_texture(FRAMES, SIZE, deg_per_frame, seed=1),
               synthetic.rotating_texture(FRAMES, SIZE, -deg_per_frame, seed=2),
               synthetic.expanding_texture(FRAMES, SIZE, rate_per_frame, seed=3),
               synthetic.expanding_texture(FRAMES, SIZE, -rate_per_frame, seed=4)]
    decompositions = decompose_videos(np.stack([s.video for s in stimuli]), FAST)
    curl_div = [screen_curl_and_divergence(d.velocity) for d in decompositions]
    true_curl = 2 * np.radians(deg_per_frame)  # rigid rotation at omega rad/frame has curl 2 omega
    true_divergence = 2 * (1 - 1 / (1 + rate_per_frame))
    (ccw_curl, ccw_div), (cw_curl, _), (expand_curl, expand_div), (contract_curl, contract_div) = curl_div
    # Signs must be right; magnitudes come out 0.65-1.0x the truth (the flow's TV prior shrinks
    # linear fields a little), so they are checked loosely.
    assert ccw_curl == pytest.approx(true_curl, rel=0.4) and cw_curl == pytest.approx(-true_curl, rel=0.4)
    assert expand_div == pytest.approx(true_divergence, rel=0.4)
    assert contract_div == pytest.approx(-true_divergence, rel=0.4)
    assert abs(ccw_div) < 0.1 * true_divergence and abs(expand_curl) < 0.1 * true_curl and abs(contract_curl) < 0.1 * true_curl
    # Angular error of the recovered field: measured median 1.6-4.6 deg; the bound leaves headroom.
    for stimulus, decomposition in zip(stimuli, decompositions):
        assert median_angular_error_deg(decomposition.velocity, stimulus.velocity) < 8.0
        assert interior_epe(decomposition.velocity, stimulus.velocity) < 0.25


@pytest.mark.slow  # 9 s; the fast suite keeps the six translations
def test_static_clip_has_no_motion_and_flicker_no_coherent_direction():
    static = synthetic.static_texture(FRAMES, SIZE, seed=5)
    flickering = synthetic.flicker(FRAMES, SIZE, temporal_freq=0.125, seed=6)
    static_fit, flicker_fit = decompose_videos(np.stack([static.video, flickering.video]), FAST)
    static_summary = motion_summary(static.video, static_fit)
    assert static_summary["speed_px_per_frame"] < 0.05
    assert static_summary["motion_index"] < 0.05
    assert static_summary["recon_psnr_db"] > 40.0
    flicker_summary = motion_summary(flickering.video, flicker_fit)
    assert flicker_summary["direction_strength"] < 0.3
    # Local shifts can mimic part of a contrast reversal (motion index 0.50 before issue 16); since the
    # appearance component, the change is the gain's, not the motion's.
    assert flicker_summary["motion_index"] < 0.2 and flicker_summary["appearance_share"] > 0.7


@pytest.mark.slow  # the file's fast tests reached 32.6 CPU s on a fresh clone (budget 30): two full fits
def test_the_fit_draws_no_random_numbers_so_every_run_and_seed_gives_the_same_arrays():
    # Stage 2 is documented as deterministic on CPU with no random initialization (DecomposeConfig.seed only
    # seeds torch): two runs, and a run with another seed, must agree bit for bit, and the fit must leave
    # torch's generator exactly where its seed put it. A random start added to the fit fails here: then the
    # seed matters and this test must become "same seed same arrays, other seed other arrays".
    video = synthetic.translating_texture(8, 32, 60.0, 1.5, seed=3).video
    runs = []
    for seed in (4, 4, 5):
        config = DecomposeConfig(steps=10, flow_steps=10, seed=seed)
        runs.append(decompose_video(video, config))
        after_fit = torch.get_rng_state()
        torch.manual_seed(seed)
        assert torch.equal(after_fit, torch.get_rng_state()), f"the fit drew random numbers (seed {seed})"
    for other in runs[1:]:
        for name in ("static", "displacement", "velocity", "recon", "static_canvas"):
            np.testing.assert_array_equal(getattr(runs[0], name), getattr(other, name), err_msg=name)
    assert np.abs(runs[0].velocity[1:]).max() > 0.5  # it did fit the motion (1.5 px/frame): not a no-op


@pytest.mark.parametrize("video, message", [
    (np.zeros((1, 32, 32, 3), np.float32), "at least 2 frames"),
    (np.zeros((8, 32, 32), np.float32), "shaped"),
    (np.full((4, 16, 16, 3), np.nan, np.float32), "NaN"),
])
def test_bad_videos_raise_one_clear_error(video, message):
    with pytest.raises(BadInputError, match=message):
        decompose_video(video, FAST)


@pytest.mark.slow  # with the test above: keeps the file's fast tests inside the 30 CPU s budget
def test_grating_motion_is_its_normal_velocity():
    # The aperture problem: a grating only constrains the motion across its stripes. The fit must
    # return that normal velocity, not slide along the stripes (plain per-coordinate Adam did:
    # 45 deg came out as 68-90 deg). Known weak spot, not asserted: a grating aligned with the pixel
    # axes moving exactly 1 px/frame (0 deg here) is sometimes fitted backwards.
    directions_deg = [45, 100, 200]
    stimuli = [synthetic.drifting_grating(FRAMES, 48, d, spatial_freq=0.125, temporal_freq=0.125)
               for d in directions_deg]
    # The motion fit alone: a drifting sinusoid is also exactly a gain plus a rank-1 change (its cosine
    # and sine in quadrature), so with the appearance component it is reported as appearance change
    # (docs/methods-stage2.md, known limits); the aperture behaviour checked here is the motion's.
    decompositions = decompose_videos(np.stack([s.video for s in stimuli]), DecomposeConfig(steps=30, appearance=False))
    for direction, stimulus, decomposition in zip(directions_deg, stimuli, decompositions):
        summary = motion_summary(stimulus.video, decomposition)
        assert angular_difference_deg(summary["direction_deg"], direction) < 5.0
        assert summary["speed_px_per_frame"] == pytest.approx(1.0, rel=0.15)


def thin_lines(frames: int, size: int, normal_deg: float, period_px: float, speed_px_per_frame: float,
               dimmed: float = 0.3) -> np.ndarray:
    """[T, H, W, 3] one bright anti-aliased line (a 1-px tent) every ``period_px``, drifting along its
    normal (``normal_deg``, y down, so 90 deg moves up); every other frame at ``dimmed`` contrast: the
    optimal input of a TransNetV2 temporal kernel looks like this."""
    rows, cols = np.mgrid[0:size, 0:size].astype(np.float64)
    angle = np.deg2rad(normal_deg)
    along_normal = cols * np.cos(angle) - rows * np.sin(angle)
    video = []
    for t in range(frames):
        offset = np.mod(along_normal - speed_px_per_frame * t, period_px)
        distance = np.minimum(offset, period_px - offset)
        frame = np.clip(1.0 - distance, 0.0, 1.0) * (dimmed if t % 2 else 1.0)
        video.append(np.repeat(frame[..., None], 3, axis=-1))
    return np.stack(video).astype(np.float32)


@pytest.mark.slow
@pytest.mark.parametrize("normal_deg, speed", [(0.0, 0.5), (90.0, 0.5), (123.0, 0.7), (161.0, 0.8), (250.0, 1.3),
                                               (300.0, 1.0)])
def test_thin_lines_drifting_with_alternating_contrast_move_along_their_normal(normal_deg, speed):
    # Thin lines give most pixels no gradient: the pairwise flow comes out at half the speed with jitter,
    # and the joint fit turned that into back-and-forth motion read as the opposite direction (TransNetV2
    # block-0 temporal kernel 13: 180 deg for lines drifting at 0 deg). The clip-wide translation start
    # recovers it. Known weak spot, not asserted: at some obliques (37 deg) the 1-px lines are so unlike
    # their own sub-pixel shift on the pixel lattice that neither start fits them (the direction is 30 deg
    # off, as it was before the translation start).
    video = thin_lines(FRAMES, 48, normal_deg, period_px=4.0, speed_px_per_frame=speed)
    decomposition = decompose_video(video, DecomposeConfig())
    summary = motion_summary(video, decomposition)
    assert angular_difference_deg(summary["direction_deg"], normal_deg) < 10.0
    assert summary["speed_px_per_frame"] == pytest.approx(speed, rel=0.2)
    assert summary["direction_strength"] > 0.9
