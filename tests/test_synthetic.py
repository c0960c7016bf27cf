"""Synthetic stimuli: the returned velocity explains the pixels, and angles follow the README's Conventions."""

import numpy as np
import pytest
from scipy import ndimage

from kernelvis.data import synthetic
from kernelvis.errors import BadInputError
from kernelvis.geometry import angular_difference_deg, summarize_direction

FRAMES, SIZE, MARGIN = 6, 40, 8


def backward_warp(frame, velocity):
    """frame sampled at p − velocity(p): the prediction of the next frame."""
    y, x = np.mgrid[0:frame.shape[0], 0:frame.shape[1]].astype(np.float64)
    coordinates = np.stack([(y - velocity[..., 1]).ravel(), (x - velocity[..., 0]).ravel()])
    return np.stack([ndimage.map_coordinates(frame[..., c], coordinates, order=3, mode="nearest")
                     .reshape(frame.shape[:2]) for c in range(3)], axis=-1)


def warp_error(stimulus, velocity_scale=1.0):
    """Mean |warp(frame t, v_t) − frame t+1| over the interior, all t."""
    errors = []
    for t in range(stimulus.video.shape[0] - 1):
        predicted = backward_warp(stimulus.video[t], velocity_scale * stimulus.velocity[t])
        difference = np.abs(predicted - stimulus.video[t + 1])[MARGIN:-MARGIN, MARGIN:-MARGIN]
        errors.append(difference.mean())
    return float(np.mean(errors))


STIMULI = {
    "grating": lambda: synthetic.drifting_grating(FRAMES, SIZE, 30.0, 0.08, 0.1),
    "plaid": lambda: synthetic.plaid(FRAMES, SIZE, 200.0, 0.08, 0.08),
    "noise": lambda: synthetic.translating_texture(FRAMES, SIZE, 135.0, 1.7, texture="noise", seed=3),
    "astronaut": lambda: synthetic.translating_texture(FRAMES, SIZE, 300.0, 1.3, texture="astronaut", seed=1),
    "camera": lambda: synthetic.translating_texture(FRAMES, SIZE, 0.0, 0.6, texture="camera", seed=2),
    "rotation": lambda: synthetic.rotating_texture(FRAMES, SIZE, 5.0, texture="chelsea", seed=0),
    "expansion": lambda: synthetic.expanding_texture(FRAMES, SIZE, 0.05, seed=4),
    "contraction": lambda: synthetic.expanding_texture(FRAMES, SIZE, -0.05, texture="coffee", seed=4),
    "dots": lambda: synthetic.random_dots(FRAMES, SIZE, 250.0, 1.4, coherence=1.0, dot_sigma_px=1.5, seed=5),
}


@pytest.mark.parametrize("name", sorted(STIMULI))
def test_velocity_explains_the_next_frame(name):
    stimulus = STIMULI[name]()
    assert stimulus.video.shape == (FRAMES, SIZE, SIZE, 3) and stimulus.video.dtype == np.float32
    assert stimulus.velocity.shape == (FRAMES, SIZE, SIZE, 2) and stimulus.velocity.dtype == np.float32
    assert 0.0 <= stimulus.video.min() and stimulus.video.max() <= 1.0
    error = warp_error(stimulus)
    # the same field reversed (or no motion at all) must explain the frames far worse
    assert error < 0.01, error
    assert warp_error(stimulus, velocity_scale=-1.0) > 4 * error + 0.01
    assert warp_error(stimulus, velocity_scale=0.0) > 2 * error + 0.005


def content_shift_px(stimulus, t=0, search_px=4):
    """The integer (dx, dy) that best maps frame t onto frame t+1: frame[t+1](p) = frame[t](p − shift)."""
    grey = stimulus.video.mean(axis=-1)
    size = grey.shape[1]
    inner = slice(search_px, size - search_px)
    errors = {}
    for dy in range(-search_px, search_px + 1):
        for dx in range(-search_px, search_px + 1):
            source = grey[t, search_px - dy:size - search_px - dy, search_px - dx:size - search_px - dx]
            errors[(dx, dy)] = np.abs(grey[t + 1, inner, inner] - source).mean()
    return min(errors, key=errors.get)


@pytest.mark.parametrize("direction_deg, expected_dx, expected_dy", [(0, 1, 0), (90, 0, -1), (180, -1, 0), (270, 0, 1)])
def test_direction_convention_moves_content_on_screen(direction_deg, expected_dx, expected_dy):
    speed = 2.0
    stimulus = synthetic.translating_texture(4, 32, direction_deg, speed, seed=0)
    dx, dy = content_shift_px(stimulus)
    # 90° is screen-up: content moves toward row 0
    assert (dx, dy) == (expected_dx * speed, expected_dy * speed)
    summary = summarize_direction(stimulus.velocity)
    assert angular_difference_deg(summary.direction_deg, direction_deg) < 1e-6
    assert summary.speed_px_per_frame == pytest.approx(speed)


def test_grating_speed_is_temporal_over_spatial_frequency_and_plaid_follows_intersection_of_constraints():
    grating = synthetic.drifting_grating(4, 32, 90.0, spatial_freq=0.125, temporal_freq=0.25)
    assert np.allclose(grating.velocity[..., 0], 0.0, atol=1e-6) and np.allclose(grating.velocity[..., 1], -2.0)
    plaid = synthetic.plaid(4, 32, 0.0, 0.125, 0.125, angle_between_deg=120.0)
    assert np.allclose(plaid.velocity[..., 0], 2.0) and np.allclose(plaid.velocity[..., 1], 0.0, atol=1e-6)


def test_rotation_is_counter_clockwise_on_screen_and_expansion_points_outward():
    rotation = synthetic.rotating_texture(3, 33, 4.0)
    # right of centre moves up (vy < 0), above centre moves left (vx < 0)
    assert rotation.velocity[0, 16, 30, 1] < -0.5 and rotation.velocity[0, 2, 16, 0] < -0.5
    expansion = synthetic.expanding_texture(3, 33, 0.1)
    assert expansion.velocity[0, 16, 30, 0] > 1.0 and expansion.velocity[0, 2, 16, 1] < -1.0
    assert np.allclose(expansion.velocity[0, 16, 16], 0.0)


def test_random_dots_coherence_sets_the_fraction_moving_in_the_signal_direction():
    for coherence in (0.0, 0.5, 1.0):
        stimulus = synthetic.random_dots(2, 64, 45.0, 2.0, coherence=coherence, dot_density=0.03, seed=1)
        moving = np.hypot(*np.moveaxis(stimulus.velocity[0], -1, 0)) > 0
        directions = np.degrees(np.arctan2(-stimulus.velocity[0, ..., 1], stimulus.velocity[0, ..., 0]))[moving]
        fraction = float(np.mean(angular_difference_deg(directions, 45.0) < 1e-3))
        assert fraction == pytest.approx(coherence, abs=0.12)


def test_random_dots_are_gaussian_blobs_at_their_moving_centres_with_wraparound():
    """Every frame equals the periodic sum of signed Gaussians at start + velocity * t, on a frame wide enough
    for the fast windowed sum and on one so narrow that the all-pixels sum is used (nearest image of each dot)."""
    for size, sigma in (((20, 33), 1.2), (8, 2.0)):
        frames, direction_deg, speed = 3, 120.0, 1.7
        stimulus = synthetic.random_dots(frames, size, direction_deg, speed, dot_density=0.04, dot_sigma_px=sigma, seed=4)
        rng = np.random.default_rng(4)       # the generator's draws, in its order
        height, width = synthetic.frame_hw(size)
        count = max(1, int(round(0.04 * height * width)))
        rng.permutation(count)
        rng.uniform(0.0, 360.0, count)
        vx, vy = speed * np.cos(np.radians(direction_deg)), -speed * np.sin(np.radians(direction_deg))
        start_x, start_y = rng.uniform(0, width, count), rng.uniform(0, height, count)
        polarity = rng.choice([-1.0, 1.0], count)
        rows, columns = np.mgrid[0:height, 0:width].astype(float)
        for t in range(frames):
            expected = np.full((height, width), 0.5)
            for dot in range(count):                            # distance to the nearest periodic image
                dx = (columns - (start_x[dot] + vx * t) + width / 2) % width - width / 2
                dy = (rows - (start_y[dot] + vy * t) + height / 2) % height - height / 2
                expected += 0.5 * polarity[dot] * np.exp(-(dx ** 2 + dy ** 2) / (2 * sigma ** 2))
            assert np.allclose(stimulus.video[t, ..., 0], np.clip(expected, 0, 1), atol=2e-4), (size, t)
        moving = np.hypot(*np.moveaxis(stimulus.velocity, -1, 0)) > 0
        assert moving.any() and np.allclose(stimulus.velocity[moving], [vx, vy], atol=1e-5)


def test_static_and_flicker_have_no_velocity_and_generators_are_deterministic():
    static = synthetic.static_texture(4, 24, seed=2)
    assert np.array_equal(static.video[0], static.video[3]) and not static.velocity.any()
    flicker = synthetic.flicker(4, 24, temporal_freq=0.5, seed=2)
    assert np.allclose(flicker.video[0] - 0.5, -(flicker.video[1] - 0.5), atol=1e-6) and not flicker.velocity.any()
    first = synthetic.translating_texture(3, 24, 10.0, 1.0, texture="grass", seed=7)
    again = synthetic.translating_texture(3, 24, 10.0, 1.0, texture="grass", seed=7)
    other = synthetic.translating_texture(3, 24, 10.0, 1.0, texture="grass", seed=8)
    assert np.array_equal(first.video, again.video) and not np.array_equal(first.video, other.video)


def test_smooth_noise_texture_is_periodic_band_limited_and_in_range():
    texture = synthetic.smooth_noise_texture(32, seed=0, cutoff_cyc_per_px=0.2)
    assert texture.shape == (32, 32, 3) and 0 <= texture.min() and texture.max() <= 1
    spectrum = np.abs(np.fft.fft2(texture.mean(-1) - texture.mean()))
    frequencies = np.hypot(*np.meshgrid(np.fft.fftfreq(32), np.fft.fftfreq(32)))
    assert spectrum[frequencies > 0.35].sum() < 0.02 * spectrum.sum()


def test_bad_texture_and_coherence_are_reported():
    with pytest.raises(BadInputError, match="unknown texture"):
        synthetic.translating_texture(2, 8, 0.0, 1.0, texture="nope")
    with pytest.raises(BadInputError, match="coherence"):
        synthetic.random_dots(2, 8, 0.0, 1.0, coherence=1.5)
