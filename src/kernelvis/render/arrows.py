"""Arrows (a quiver) of the time-averaged velocity drawn over the static image."""

from __future__ import annotations

import os

import numpy as np

ARROWS_PER_SIDE = 8


def _block_mean(field: np.ndarray, step: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean of ``field`` [H, W, 2] over step×step blocks, and the blocks' centre coordinates (x, y)."""
    height, width = field.shape[:2]
    rows, columns = height // step, width // step
    blocks = field[:rows * step, :columns * step].reshape(rows, step, columns, step, 2).mean(axis=(1, 3))
    centres_y = (np.arange(rows) + 0.5) * step - 0.5
    centres_x = (np.arange(columns) + 0.5) * step - 0.5
    x, y = np.meshgrid(centres_x, centres_y)
    return x, y, blocks


def draw_motion_arrows(axes, velocity: np.ndarray, step_px: int | None = None, color: str = "white",
                       scale_px_per_frame: float | None = None) -> None:
    """Draw block-averaged arrows of ``velocity`` [H, W, 2] (px/frame, y down) on ``axes``, which already
    shows the static image with ``imshow`` (y axis pointing down). Arrows point where the content moves;
    the fastest block's arrow (or one of ``scale_px_per_frame``) is 0.9 block long."""
    velocity = np.asarray(velocity, dtype=np.float64)
    step = step_px or max(1, min(velocity.shape[:2]) // ARROWS_PER_SIDE)
    x, y, blocks = _block_mean(velocity, step)
    longest = scale_px_per_frame or float(np.hypot(blocks[..., 0], blocks[..., 1]).max())
    if longest <= 1e-9:
        return
    length = 0.9 * step / longest
    # angles="xy" follows the data axes, which imshow turned y-down: (vx, vy) needs no sign flip.
    axes.quiver(x, y, blocks[..., 0] * length, blocks[..., 1] * length, angles="xy", scale_units="xy", scale=1,
                color=color, width=0.006, headwidth=4, headlength=4, pivot="middle")


def write_arrows_png(path: str | os.PathLike, static: np.ndarray, velocity: np.ndarray,
                     scale_px_per_frame: float | None = None) -> None:
    """PNG of the static image [H, W, 3] with arrows of the mean velocity over frames 1..T-1 of
    ``velocity`` [T, H, W, 2] (frame 0 carries no motion by definition)."""
    from kernelvis.render.savefig import plt, save_figure

    mean = velocity[1:].mean(axis=0) if len(velocity) > 1 else velocity[0]
    height, width = static.shape[:2]
    figure, axes = plt.subplots(figsize=(4, 4 * height / width))
    axes.imshow(np.clip(static, 0, 1), interpolation="nearest")
    draw_motion_arrows(axes, mean, scale_px_per_frame=scale_px_per_frame)
    axes.set_axis_off()
    save_figure(figure, path)
