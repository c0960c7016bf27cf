"""Synthetic stimuli whose motion is known exactly.

Every generator returns a :class:`Stimulus`: ``video`` float32 ``[T, H, W, 3]`` in [0, 1] and
``velocity`` float32 ``[T, H, W, 2]``, the content velocity (vx, vy) in px/frame (x right, y down) at
frame t, defined so that ``video[t + 1](p) ≈ video[t](p − velocity[t](p))``. The last frame carries
the velocity the motion would continue with. Directions follow the README's Conventions (0° = right, 90° = up).

Moving textures are rendered by sampling a texture canvas at exactly known source positions
(cubic-spline interpolation of a band-limited canvas), never by warping the previous frame, so the
ground truth does not accumulate error. Rotation and expansion use the exact one-frame backward
displacement (not its small-angle linearization) as ``velocity``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from kernelvis.errors import BadInputError
from kernelvis.geometry import unit_velocity

NATURAL_TEXTURES = ("astronaut", "camera", "coffee", "chelsea", "rocket", "brick", "grass", "gravel",
                    "immunohistochemistry")
"""Images shipped inside scikit-image (no download) usable as ``texture=``."""
TEXTURES = ("noise",) + NATURAL_TEXTURES
NATURAL_RMS_CONTRAST = 0.22
"""Photograph crops are rescaled to this pixel standard deviation (smooth noise has ≈ 0.23)."""


@dataclass(frozen=True)
class Stimulus:
    video: np.ndarray
    """float32 [T, H, W, 3] in [0, 1]"""
    velocity: np.ndarray
    """float32 [T, H, W, 2], (vx, vy) px/frame, x right, y down"""


def frame_hw(size: int | tuple[int, int]) -> tuple[int, int]:
    """(H, W) from a square side or an (H, W) pair (gratings, plaids and dots take either, so tuning
    stimuli can be made at a non-square model's native frame shape)."""
    if isinstance(size, (tuple, list)):
        return int(size[0]), int(size[1])
    return int(size), int(size)


def _pixel_grid(size: int | tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) pixel-centre coordinates, each [H, W]; x = column, y = row (down)."""
    height, width = frame_hw(size)
    y, x = np.meshgrid(np.arange(height, dtype=np.float64), np.arange(width, dtype=np.float64), indexing="ij")
    return x, y


def _check_positive(**values) -> None:
    for name, value in values.items():
        if not value > 0:
            raise BadInputError(f"{name} must be positive, got {value}")


def _constant_velocity(frames: int, size: int | tuple[int, int], vx: float, vy: float) -> np.ndarray:
    velocity = np.empty((frames, *frame_hw(size), 2), dtype=np.float32)
    velocity[..., 0], velocity[..., 1] = vx, vy
    return velocity


def _grey_to_rgb(luminance: np.ndarray) -> np.ndarray:
    return np.repeat(np.clip(luminance, 0.0, 1.0)[..., None], 3, axis=-1).astype(np.float32)


# --- gratings and plaids ------------------------------------------------------------------------

def _grating_luminance(frames, size, direction_deg, spatial_freq, temporal_freq, phase):
    """cos(2π(f·(p·u) − tf·t) + phase): the pattern moves along u at tf/f px/frame."""
    ux, uy = unit_velocity(direction_deg)
    x, y = _pixel_grid(size)
    t = np.arange(frames, dtype=np.float64)[:, None, None]
    return np.cos(2 * np.pi * (spatial_freq * (x * ux + y * uy) - temporal_freq * t) + phase)


def drifting_grating(frames: int, size: int | tuple[int, int], direction_deg: float, spatial_freq: float, temporal_freq: float,
                     contrast: float = 1.0, phase: float = 0.0) -> Stimulus:
    """A grey sinusoidal grating drifting in ``direction_deg`` (its normal).

    ``spatial_freq`` in cycles/px, ``temporal_freq`` in cycles/frame; speed = tf / sf px/frame.
    The velocity is the grating's normal velocity (the only one a grating defines).
    """
    _check_positive(frames=frames, size=min(frame_hw(size)), spatial_freq=spatial_freq)
    luminance = 0.5 + 0.5 * contrast * _grating_luminance(frames, size, direction_deg, spatial_freq, temporal_freq, phase)
    speed = temporal_freq / spatial_freq
    vx, vy = unit_velocity(direction_deg)
    return Stimulus(_grey_to_rgb(luminance), _constant_velocity(frames, size, speed * vx, speed * vy))


def plaid(frames: int, size: int | tuple[int, int], direction_deg: float, spatial_freq: float, temporal_freq: float,
          angle_between_deg: float = 120.0, contrast: float = 1.0, phase: float = 0.0) -> Stimulus:
    """Two gratings with normals at ``direction_deg ± angle_between_deg/2``, each drifting at
    ``temporal_freq``; the pattern moves rigidly in ``direction_deg`` (intersection of constraints)
    at (tf / sf) / cos(angle_between_deg / 2) px/frame."""
    _check_positive(frames=frames, size=min(frame_hw(size)), spatial_freq=spatial_freq)
    half_angle = angle_between_deg / 2.0
    if not 0 < half_angle < 90:
        raise BadInputError(f"angle_between_deg must lie in (0, 180), got {angle_between_deg}")
    components = [_grating_luminance(frames, size, direction_deg + sign * half_angle, spatial_freq, temporal_freq,
                                     phase) for sign in (-1.0, 1.0)]
    luminance = 0.5 + 0.25 * contrast * (components[0] + components[1])
    speed = temporal_freq / spatial_freq / np.cos(np.radians(half_angle))
    vx, vy = unit_velocity(direction_deg)
    return Stimulus(_grey_to_rgb(luminance), _constant_velocity(frames, size, speed * vx, speed * vy))


# --- textures -----------------------------------------------------------------------------------

def smooth_noise_texture(size: int, seed: int = 0, spectral_slope: float = 1.0, cutoff_cyc_per_px: float = 0.2,
                         color: bool = True) -> np.ndarray:
    """A periodic, band-limited noise image ``[size, size, 3]`` in [0, 1].

    Amplitude falls as 1/f^``spectral_slope`` (natural images: ≈ 1) and is cut off smoothly above
    ``cutoff_cyc_per_px`` so that sub-pixel resampling is accurate (ground truth stays exact).
    """
    _check_positive(size=size, cutoff_cyc_per_px=cutoff_cyc_per_px)
    rng = np.random.default_rng(seed)
    frequencies = np.fft.fftfreq(size)
    radius = np.hypot(frequencies[:, None], frequencies[None, :])
    radius[0, 0] = 1.0
    amplitude = radius ** -spectral_slope * np.exp(-0.5 * (radius / (0.5 * cutoff_cyc_per_px)) ** 2)
    amplitude[0, 0] = 0.0
    channels = 3 if color else 1
    white = rng.standard_normal((channels, size, size))
    noise = np.real(np.fft.ifft2(np.fft.fft2(white) * amplitude))
    if color:  # correlated channels, like natural colour: mostly luminance, some chroma
        mixing = np.array([[1.0, 0.25, -0.1], [1.0, 0.0, 0.2], [1.0, -0.25, -0.1]])
        noise = np.einsum("ck,khw->chw", mixing, noise / noise.std(axis=(1, 2), keepdims=True))
    else:
        noise = np.repeat(noise, 3, axis=0)
    noise = noise / (4.0 * noise.std() + 1e-12)  # ±2 sd maps into [0, 1]
    return np.clip(0.5 + noise, 0.0, 1.0).transpose(1, 2, 0).astype(np.float32)


@lru_cache(maxsize=16)
def _natural_image(name: str) -> np.ndarray:
    import skimage.data

    image = np.asarray(getattr(skimage.data, name)(), dtype=np.float32) / 255.0
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=-1)
    return np.ascontiguousarray(image[..., :3])


def _natural_canvas(name: str, canvas_px: int, seed: int) -> np.ndarray:
    """A random square crop of a scikit-image sample, resized to ``canvas_px`` and slightly blurred
    (band-limited, so sub-pixel sampling is accurate)."""
    from skimage.transform import resize

    image = _natural_image(name)
    rng = np.random.default_rng(seed)
    height, width = image.shape[:2]
    crop = int(min(height, width) * rng.uniform(0.5, 0.9))
    top, left = rng.integers(0, height - crop + 1), rng.integers(0, width - crop + 1)
    canvas = resize(image[top:top + crop, left:left + crop], (canvas_px, canvas_px), anti_aliasing=True, order=1)
    from scipy import ndimage  # here, not at the top: every command's parser imports this module

    canvas = ndimage.gaussian_filter(canvas, sigma=(0.8, 0.8, 0))
    # Equal RMS contrast for every crop (as the noise has): a crop of sky is not a "low-contrast
    # class", and the contrast parameter of a generator's caller then means the same for all textures.
    canvas = 0.5 + (canvas - canvas.mean()) * (NATURAL_RMS_CONTRAST / max(float(canvas.std()), 1e-3))
    return np.clip(canvas, 0.0, 1.0).astype(np.float32)


def texture_canvas(texture, canvas_px: int, seed: int = 0) -> tuple[np.ndarray, bool]:
    """(canvas [C, C, 3] float in [0, 1], periodic) for a texture name or an image array."""
    if isinstance(texture, np.ndarray):
        canvas = np.asarray(texture, dtype=np.float32)
        if canvas.ndim == 2:
            canvas = np.repeat(canvas[..., None], 3, axis=-1)
        if canvas.ndim != 3 or canvas.shape[-1] != 3:
            raise BadInputError(f"a texture array must be [H, W, 3] or [H, W], got {list(texture.shape)}")
        return canvas, False
    if texture == "noise":
        return smooth_noise_texture(canvas_px, seed=seed), True
    if texture in NATURAL_TEXTURES:
        return _natural_canvas(texture, canvas_px, seed), False
    raise BadInputError(f"unknown texture {texture!r}; choose one of: {', '.join(TEXTURES)} (or pass an array)")


def _sample_canvas(canvas: np.ndarray, periodic: bool, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Canvas values at (x, y) canvas coordinates (any equal shapes) -> [..., 3], cubic spline."""
    from scipy import ndimage

    mode = "grid-wrap" if periodic else "mirror"
    coordinates = np.stack([y.ravel(), x.ravel()])
    channels = [ndimage.map_coordinates(canvas[..., c], coordinates, order=3, mode=mode) for c in range(3)]
    return np.clip(np.stack(channels, axis=-1).reshape(*x.shape, 3), 0.0, 1.0).astype(np.float32)


def _render_mapped(frames: int, size: int, texture, seed: int, canvas_px: int, source_of):
    """Render frames whose pixel p at frame t shows canvas point ``source_of(t, dx, dy)`` where
    (dx, dy) is p relative to the frame centre; the canvas centre sits under the frame centre."""
    canvas, periodic = texture_canvas(texture, canvas_px, seed)
    x, y = _pixel_grid(size)
    centre = (size - 1) / 2.0
    t = np.arange(frames, dtype=np.float64)[:, None, None]
    source_x, source_y = np.broadcast_arrays(*source_of(t, x - centre, y - centre), np.empty((frames, size, size)))[:2]
    canvas_centre_y, canvas_centre_x = (canvas.shape[0] - 1) / 2.0, (canvas.shape[1] - 1) / 2.0
    return _sample_canvas(canvas, periodic, source_x + canvas_centre_x, source_y + canvas_centre_y)


def translating_texture(frames: int, size: int, direction_deg: float, speed_px_per_frame: float,
                        texture="noise", seed: int = 0, canvas_px: int | None = None) -> Stimulus:
    """A texture translating rigidly in ``direction_deg`` at ``speed_px_per_frame``.

    ``texture``: ``"noise"`` (periodic smooth 1/f noise), a scikit-image sample name
    (:data:`NATURAL_TEXTURES`; ``seed`` picks the crop), or an ``[H, W, 3]`` array.
    """
    _check_positive(frames=frames, size=size)
    vx, vy = speed_px_per_frame * np.array(unit_velocity(direction_deg))
    travel_px = abs(speed_px_per_frame) * frames
    canvas_px = canvas_px or int(2 ** np.ceil(np.log2(size + travel_px + 8)))
    video = _render_mapped(frames, size, texture, seed, canvas_px,
                           lambda t, dx, dy: (dx - vx * t, dy - vy * t))
    return Stimulus(video, _constant_velocity(frames, size, vx, vy))


def _rotation_backward(deg_per_frame: float, dx, dy):
    """Where the content at offset (dx, dy) was one frame earlier, for counter-clockwise screen
    rotation (y down: a point right of the centre moves up)."""
    angle = np.radians(deg_per_frame)
    return dx * np.cos(angle) - dy * np.sin(angle), dx * np.sin(angle) + dy * np.cos(angle)


def rotating_texture(frames: int, size: int, deg_per_frame: float, texture="noise", seed: int = 0,
                     canvas_px: int | None = None) -> Stimulus:
    """A texture rotating about the frame centre, counter-clockwise on screen for positive
    ``deg_per_frame``."""
    _check_positive(frames=frames, size=size)
    canvas_px = canvas_px or int(2 ** np.ceil(np.log2(size * 1.5 + 8)))
    video = _render_mapped(frames, size, texture, seed, canvas_px,
                           lambda t, dx, dy: _rotation_backward(deg_per_frame * t, dx, dy))
    x, y = _pixel_grid(size)
    dx, dy = x - (size - 1) / 2.0, y - (size - 1) / 2.0
    source_x, source_y = _rotation_backward(deg_per_frame, dx, dy)
    velocity = np.stack([dx - source_x, dy - source_y], axis=-1).astype(np.float32)
    return Stimulus(video, np.broadcast_to(velocity, (frames, size, size, 2)).copy())


def expanding_texture(frames: int, size: int, rate_per_frame: float, texture="noise", seed: int = 0,
                      canvas_px: int | None = None) -> Stimulus:
    """A texture scaling about the frame centre by ``1 + rate_per_frame`` each frame (expansion for
    positive rates, contraction for negative ones)."""
    _check_positive(frames=frames, size=size)
    scale_per_frame = 1.0 + rate_per_frame
    if not scale_per_frame > 0:
        raise BadInputError(f"rate_per_frame must be > -1, got {rate_per_frame}")
    largest_extent = max(1.0, scale_per_frame ** -(frames - 1))
    canvas_px = canvas_px or int(2 ** np.ceil(np.log2(size * largest_extent + 8)))
    video = _render_mapped(frames, size, texture, seed, canvas_px,
                           lambda t, dx, dy: (dx * scale_per_frame ** -t, dy * scale_per_frame ** -t))
    x, y = _pixel_grid(size)
    dx, dy = x - (size - 1) / 2.0, y - (size - 1) / 2.0
    shrink = 1.0 - 1.0 / scale_per_frame
    velocity = np.stack([dx * shrink, dy * shrink], axis=-1).astype(np.float32)
    return Stimulus(video, np.broadcast_to(velocity, (frames, size, size, 2)).copy())


def static_texture(frames: int, size: int, seed: int = 0, texture="noise") -> Stimulus:
    """The same texture in every frame (velocity 0)."""
    return translating_texture(frames, size, 0.0, 0.0, texture=texture, seed=seed)


def flicker(frames: int, size: int, temporal_freq: float, contrast: float = 1.0, texture="noise",
            seed: int = 0) -> Stimulus:
    """A static texture whose contrast reverses sinusoidally at ``temporal_freq`` cycles/frame:
    temporal change with no motion (velocity 0). ``texture=None`` flickers a uniform field."""
    _check_positive(frames=frames, size=size)
    t = np.arange(frames, dtype=np.float64)[:, None, None, None]
    modulation = np.cos(2 * np.pi * temporal_freq * t)
    if texture is None:
        video = 0.5 + 0.5 * contrast * modulation * np.ones((1, size, size, 3))
    else:
        image = static_texture(1, size, seed=seed, texture=texture).video
        video = 0.5 + contrast * (image - 0.5) * modulation
    return Stimulus(np.clip(video, 0.0, 1.0).astype(np.float32), np.zeros((frames, size, size, 2), np.float32))


# --- random dots --------------------------------------------------------------------------------

def random_dots(frames: int, size: int | tuple[int, int], direction_deg: float, speed_px_per_frame: float, coherence: float = 1.0,
                dot_density: float = 0.02, dot_sigma_px: float = 1.0, seed: int = 0) -> Stimulus:
    """A random-dot kinematogram on a grey background, wrapping around the frame edges.

    A fraction ``coherence`` of the dots moves in ``direction_deg`` at ``speed_px_per_frame``; the
    others move at the same speed in their own random directions. Dots are Gaussian blobs (±
    polarity) at exact sub-pixel positions; ``velocity`` is the velocity of the dot that dominates
    each pixel, 0 on the background (which is uniform, so any velocity is consistent there).
    """
    _check_positive(frames=frames, size=min(frame_hw(size)), dot_sigma_px=dot_sigma_px)
    height, width = frame_hw(size)
    if not 0.0 <= coherence <= 1.0:
        raise BadInputError(f"coherence must lie in [0, 1], got {coherence}")
    rng = np.random.default_rng(seed)
    count = max(1, int(round(dot_density * height * width)))
    coherent = rng.permutation(count) < int(round(coherence * count))
    angles_deg = np.where(coherent, direction_deg, rng.uniform(0.0, 360.0, count))
    radians = np.radians(angles_deg)
    dot_vx, dot_vy = speed_px_per_frame * np.cos(radians), -speed_px_per_frame * np.sin(radians)
    start_x, start_y = rng.uniform(0, width, count), rng.uniform(0, height, count)
    polarity = rng.choice([-1.0, 1.0], count)
    times = np.arange(frames, dtype=np.float64)[:, None]
    centre_x, centre_y = start_x + dot_vx * times, start_y + dot_vy * times          # [T, count]
    # Each blob is summed over a window of radius 5 sigma (weights below exp(-12.5) ~ 4e-6 are dropped), so a
    # kinematogram costs O(dots x window) instead of O(dots x pixels) (the tuning sweep renders 32 of them); a
    # window as wide as the frame would meet its own wrapped copy, so such frames keep the all-pixels sum below.
    radius = int(np.ceil(5.0 * dot_sigma_px))
    if 2 * radius + 1 < min(height, width):
        return _windowed_dots(frames, height, width, centre_x, centre_y, dot_vx, dot_vy, polarity, dot_sigma_px, radius)
    x, y = _pixel_grid(size)
    video = np.empty((frames, height, width), dtype=np.float64)
    velocity = np.zeros((frames, height, width, 2), dtype=np.float32)
    for t in range(frames):
        # periodic distance from every pixel to every dot: [H, W, count]
        offset_x = (x[..., None] - (start_x + dot_vx * t) + width / 2) % width - width / 2
        offset_y = (y[..., None] - (start_y + dot_vy * t) + height / 2) % height - height / 2
        weight = np.exp(-(offset_x ** 2 + offset_y ** 2) / (2 * dot_sigma_px ** 2))
        video[t] = 0.5 + 0.5 * (weight * polarity).sum(axis=-1)
        dominant = weight.argmax(axis=-1)
        on_dot = weight.max(axis=-1) > 0.05
        velocity[t, ..., 0] = np.where(on_dot, dot_vx[dominant], 0.0)
        velocity[t, ..., 1] = np.where(on_dot, dot_vy[dominant], 0.0)
    return Stimulus(_grey_to_rgb(video), velocity)


def _windowed_dots(frames: int, height: int, width: int, centre_x: np.ndarray, centre_y: np.ndarray, dot_vx: np.ndarray,
                   dot_vy: np.ndarray, polarity: np.ndarray, dot_sigma_px: float, radius: int) -> Stimulus:
    """random_dots' frames from each dot's (2 radius + 1)^2 window of pixels; centres are [T, count]."""
    count = centre_x.shape[1]
    steps = np.arange(-radius, radius + 1)
    columns = np.floor(centre_x)[..., None, None] + steps[None, None, None, :]        # [T, count, 1, K]
    rows = np.floor(centre_y)[..., None, None] + steps[None, None, :, None]           # [T, count, K, 1]
    weight = np.exp(-((columns - centre_x[..., None, None]) ** 2 + (rows - centre_y[..., None, None]) ** 2)
                    / (2 * dot_sigma_px ** 2))                                          # [T, count, K, K]
    pixel = (rows.astype(np.int64) % height) * width + columns.astype(np.int64) % width
    frame_start = (np.arange(frames) * height * width)[:, None, None, None]
    flat = (frame_start + pixel).ravel()
    dot = np.broadcast_to(np.arange(count)[None, :, None, None], weight.shape).ravel()
    weight = weight.ravel()
    video = np.full(frames * height * width, 0.5)
    np.add.at(video, flat, 0.5 * weight * polarity[dot])
    # velocity of the dot that dominates each pixel (as the all-pixels path's argmax), 0 off the dots
    strongest = np.zeros(frames * height * width)
    np.maximum.at(strongest, flat, weight)
    dominant = (weight == strongest[flat]) & (weight > 0.05)
    velocity = np.zeros((frames * height * width, 2), dtype=np.float32)
    velocity[flat[dominant], 0] = dot_vx[dot[dominant]]
    velocity[flat[dominant], 1] = dot_vy[dot[dominant]]
    return Stimulus(_grey_to_rgb(video.reshape(frames, height, width)), velocity.reshape(frames, height, width, 2))
