"""Velocity fields as colour: hue = direction (angles as in the README's Conventions), brightness = speed.

The brightness scale is automatic and robust (a high percentile of the speeds, so one fast pixel
does not darken everything else, and no per-kernel tuning as in the paper's README), or a shared
``scale_px_per_frame`` passed by the caller so kernels of one layer can be compared. Values are
clipped explicitly (the paper code's uint8 brightness could wrap around).
"""

from __future__ import annotations

import numpy as np
from matplotlib.colors import hsv_to_rgb

from kernelvis.geometry import direction_deg_of

SPEED_PERCENTILE = 99.0
MIN_SCALE_PX_PER_FRAME = 0.05
"""Automatic scales never go below this: a static clip's sub-0.05 px/frame noise stays dark."""


def robust_speed_scale(velocity: np.ndarray, percentile: float = SPEED_PERCENTILE) -> float:
    """The speed (px/frame) shown at full brightness: the ``percentile`` of |velocity| over all pixels of
    the frames that move at all (``velocity[0]`` is 0 by definition and would bias it), at least
    ``MIN_SCALE_PX_PER_FRAME``. ``velocity``: [..., H, W, 2]."""
    speed = np.hypot(velocity[..., 0], velocity[..., 1]).astype(np.float64)
    speed = speed.reshape(-1, *speed.shape[-2:])
    moving = speed[speed.reshape(len(speed), -1).max(axis=1) > 0]
    if moving.size == 0:
        return MIN_SCALE_PX_PER_FRAME
    return max(float(np.percentile(moving, percentile)), MIN_SCALE_PX_PER_FRAME)


def velocity_to_rgb(velocity: np.ndarray, scale_px_per_frame: float | None = None) -> np.ndarray:
    """RGB float32 [..., 3] in [0, 1] of a velocity field [..., 2] (vx, vy) px/frame: hue = direction
    (0° = right = red, going round the colour wheel counter-clockwise on screen), full saturation,
    value = speed / scale clipped to [0, 1]. ``scale_px_per_frame`` None: :func:`robust_speed_scale`."""
    velocity = np.asarray(velocity, dtype=np.float64)
    scale = robust_speed_scale(velocity) if scale_px_per_frame is None else float(scale_px_per_frame)
    if not scale > 0:
        raise ValueError(f"motion scale must be positive, got {scale_px_per_frame}")
    hsv = np.empty(velocity.shape[:-1] + (3,))
    hsv[..., 0] = direction_deg_of(velocity[..., 0], velocity[..., 1]) / 360.0
    hsv[..., 1] = 1.0
    hsv[..., 2] = np.clip(np.hypot(velocity[..., 0], velocity[..., 1]) / scale, 0.0, 1.0)
    return hsv_to_rgb(hsv).astype(np.float32)


def color_wheel(size: int = 64) -> np.ndarray:
    """The legend [size, size, 3]: each pixel coloured as the velocity pointing from the centre to it
    (speed = full scale at the rim); black outside the disc."""
    centre = (size - 1) / 2.0
    coordinates = (np.arange(size) - centre) / max(centre, 1e-9)
    y, x = np.meshgrid(coordinates, coordinates, indexing="ij")
    wheel = velocity_to_rgb(np.stack([x, y], axis=-1), scale_px_per_frame=1.0)
    wheel[np.hypot(x, y) > 1.0] = 0.0
    return wheel
