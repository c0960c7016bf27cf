"""Random 3D transforms applied to the clip before every forward pass (transformation robustness).

Each step and each batch element draws its own translation (symmetric whole pixels in [-d, d],
unlike the paper code's non-negative shifts), temporal offset (integer frames, roll or shift), isotropic scale
and optional rotation, both about the frame centre (the paper code scales about the volume corner).
All elements go through ONE ``affine_grid``/``grid_sample`` call (frames folded into channels) and
one gather along time: no per-element or per-frame Python loop on the tensors.

Out-of-frame content is filled with ``fill`` (mid grey by default), and ``pad_px`` optionally
enlarges the canvas first (Lucid's padding), so jitter never wraps spatial content around.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F

TEMPORAL_MODES = ("roll", "shift")


@dataclass(frozen=True)
class TransformConfig:
    jitter_px: int = 4
    """Spatial translation drawn uniformly from the integers in [-jitter_px, jitter_px] (x and y
    independently). Whole pixels, as in Lucid: a sub-pixel shift resamples bilinearly, which is a blur
    that erases the fine patterns many early kernels prefer (measured: it cut demo conv2's reached
    activation 5-10×)."""
    jitter_frames: int = 1
    """Temporal offset drawn uniformly from the integers in [-jitter_frames, jitter_frames]."""
    temporal_mode: str = "roll"
    """``roll``: circular in time (the clip is treated as periodic); ``shift``: vacated frames are ``fill``."""
    scale_range: tuple[float, float] = (0.9, 1.1)
    """Isotropic zoom drawn uniformly from this range (1, 1 = off)."""
    rotation_deg: float = 0.0
    """Rotation drawn uniformly from [-rotation_deg, rotation_deg] (0 = off, as in the paper)."""
    pad_px: int = 0
    fill: float = 0.5

    def __post_init__(self):
        if self.temporal_mode not in TEMPORAL_MODES:
            raise ValueError(f"unknown temporal mode {self.temporal_mode!r}; choose from {', '.join(TEMPORAL_MODES)}")
        if self.jitter_px < 0 or self.jitter_frames < 0 or self.rotation_deg < 0 or self.pad_px < 0:
            raise ValueError("jitter, rotation and padding must be non-negative")
        low, high = self.scale_range
        if not 0 < low <= high:
            raise ValueError(f"scale range must satisfy 0 < low <= high, got {self.scale_range}")

    @property
    def is_identity(self) -> bool:
        return (self.jitter_px == 0 and self.jitter_frames == 0 and tuple(self.scale_range) == (1.0, 1.0)
                and self.rotation_deg == 0 and self.pad_px == 0)


NO_TRANSFORM = TransformConfig(jitter_px=0, jitter_frames=0, scale_range=(1.0, 1.0))


@dataclass
class TransformDraw:
    """One step's random draw, one value per batch element (CPU tensors, shape (N,))."""

    shift_x_px: torch.Tensor
    shift_y_px: torch.Tensor
    shift_frames: torch.Tensor
    scale: torch.Tensor
    rotation_deg: torch.Tensor


def draw_transforms(generators: Sequence[torch.Generator], config: TransformConfig) -> TransformDraw:
    """Draw one step's parameters; element n uses ``generators[n]`` so its sequence of transforms
    does not depend on the batch it shares."""
    uniform = torch.stack([torch.rand(5, generator=generator, dtype=torch.float64) for generator in generators])
    low, high = config.scale_range

    def symmetric_integers(column: int, limit: int) -> torch.Tensor:
        return (torch.floor(uniform[:, column] * (2 * limit + 1)).long() - limit).clamp(-limit, limit)

    jitter_px = int(config.jitter_px)
    return TransformDraw(
        shift_x_px=symmetric_integers(0, jitter_px).float(),
        shift_y_px=symmetric_integers(1, jitter_px).float(),
        shift_frames=symmetric_integers(2, config.jitter_frames),
        scale=(low + uniform[:, 3] * (high - low)).float(),
        rotation_deg=((2.0 * uniform[:, 4] - 1.0) * config.rotation_deg).float(),
    )


def _temporal_offset(video: torch.Tensor, shift_frames: torch.Tensor, mode: str, fill: float) -> torch.Tensor:
    frames = video.shape[2]
    shift = shift_frames.to(video.device).view(-1, 1)
    source = torch.arange(frames, device=video.device).view(1, -1) - shift  # output t shows input t - shift
    if mode == "roll":
        valid = None
        source = source % frames
    else:
        valid = (source >= 0) & (source < frames)
        source = source.clamp(0, frames - 1)
    index = source.view(video.shape[0], 1, frames, 1, 1).expand(-1, video.shape[1], -1, *video.shape[3:])
    moved = video.gather(2, index)
    if valid is not None:
        moved = torch.where(valid.view(video.shape[0], 1, frames, 1, 1), moved, torch.full_like(moved, fill))
    return moved


def _spatial_affine(video: torch.Tensor, draw: TransformDraw, fill: float) -> torch.Tensor:
    n, channels, frames, height, width = video.shape
    angle = torch.deg2rad(draw.rotation_deg)
    # affine_grid maps output coordinates to input coordinates, so zooming in by s uses 1/s and a
    # content shift of +d px samples the input at -d (normalized units: 2/size per pixel).
    cos, sin = torch.cos(angle) / draw.scale, torch.sin(angle) / draw.scale
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0], theta[:, 0, 1] = cos, -sin * height / width
    theta[:, 1, 0], theta[:, 1, 1] = sin * width / height, cos
    theta[:, 0, 2] = -2.0 * draw.shift_x_px / width
    theta[:, 1, 2] = -2.0 * draw.shift_y_px / height
    theta = theta.to(video)
    folded = video.reshape(n, channels * frames, height, width) - fill  # zero padding == fill colour
    grid = F.affine_grid(theta, list(folded.shape), align_corners=False)
    sampled = F.grid_sample(folded, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return sampled.reshape(n, channels, frames, height, width) + fill


def apply_transforms(video: torch.Tensor, draw: TransformDraw, config: TransformConfig) -> torch.Tensor:
    """Transform a batch (N, 3, T, H, W) in [0, 1]; differentiable with respect to ``video``."""
    if config.is_identity:
        return video
    if config.pad_px:
        video = F.pad(video, (config.pad_px,) * 4, mode="constant", value=config.fill)
    if config.jitter_frames:
        video = _temporal_offset(video, draw.shift_frames, config.temporal_mode, config.fill)
    needs_affine = config.jitter_px or tuple(config.scale_range) != (1.0, 1.0) or config.rotation_deg
    return _spatial_affine(video, draw, config.fill) if needs_affine else video

