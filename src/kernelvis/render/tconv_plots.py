"""Figures of 3TConv parameters (docs/baselines.md): per-filter trajectories, per-layer parameter
distributions, the motion each filter states, and the slices of first-layer kernels.

Inputs are plain arrays (see :mod:`kernelvis.baselines.tconv_analysis` for how they are computed).
Conventions are printed on the axes: positions in px with y *down* (the path is drawn as on screen),
rotation counter-clockwise on screen in degrees, scale = content magnification.
"""

from __future__ import annotations

import numpy as np

from kernelvis.render.savefig import plt


def trajectory_figure(scale: np.ndarray, rotation_deg: np.ndarray, position_px: np.ndarray, channels, title: str):
    """One row per channel: cumulative scale, cumulative rotation and the x–y path of k0's centre over
    the kernel's time steps t0 … t(kT-1). Arrays: (C, kT), (C, kT), (C, kT, 2)."""
    channels = list(channels)
    frames = scale.shape[1]
    steps = np.arange(frames)
    figure, axes = plt.subplots(len(channels), 3, figsize=(9.0, 2.2 * len(channels)), squeeze=False)
    for row, channel in zip(axes, channels):
        row[0].plot(steps, scale[channel], "o-")
        row[0].axhline(1.0, color="0.7", lw=0.8)
        row[0].set_ylabel(f"kernel {channel}\nscale (×)")
        row[1].plot(steps, rotation_deg[channel], "o-", color="tab:orange")
        row[1].axhline(0.0, color="0.7", lw=0.8)
        row[1].set_ylabel("rotation (° ccw)")
        x, y = position_px[channel, :, 0], position_px[channel, :, 1]
        row[2].plot(x, y, "o-", color="tab:green")
        for step in steps:
            row[2].annotate(f"t{step}", (x[step], y[step]), textcoords="offset points", xytext=(3, 3), fontsize=7)
        reach = max(1.0, float(np.abs(position_px[channel]).max()) * 1.2)
        row[2].set_xlim(-reach, reach)
        row[2].set_ylim(reach, -reach)  # y down, as on screen
        row[2].set_aspect("equal")
        row[2].axhline(0.0, color="0.85", lw=0.8)
        row[2].axvline(0.0, color="0.85", lw=0.8)
        row[2].set_ylabel("y (px, down)")
        for axis in row[:2]:
            axis.set_xticks(steps)
    axes[-1][0].set_xlabel("time step")
    axes[-1][1].set_xlabel("time step")
    axes[-1][2].set_xlabel("x (px)")
    figure.suptitle(title)
    figure.tight_layout()
    return figure


def distribution_figure(distributions: dict[str, dict[str, np.ndarray]], title: str):
    """Box plots of scale, rotation (deg), tx and ty per layer (distributions[layer][parameter])."""
    layers = list(distributions)
    panels = [("scale", "scale s", 1.0), ("rotation_rad", "rotation r (deg)", 180.0 / np.pi),
              ("tx", "tx (normalized)", 1.0), ("ty", "ty (normalized)", 1.0)]
    figure, axes = plt.subplots(1, 4, figsize=(12.0, 3.2))
    for axis, (key, label, factor) in zip(axes, panels):
        axis.boxplot([distributions[layer][key] * factor for layer in layers], showfliers=True)
        axis.set_xticks(range(1, len(layers) + 1), layers, rotation=45, ha="right")
        axis.set_title(label)
    figure.suptitle(title)
    figure.tight_layout()
    return figure


def stated_motion_figure(motion_by_layer: dict[str, dict[str, np.ndarray]], title: str):
    """Per layer, a polar scatter of each filter's stated velocity (direction_deg, speed_px_per_frame)."""
    layers = list(motion_by_layer)
    figure, axes = plt.subplots(1, len(layers), figsize=(3.0 * len(layers), 3.2), subplot_kw={"projection": "polar"},
                                squeeze=False)
    for axis, layer in zip(axes[0], layers):
        motion = motion_by_layer[layer]
        axis.scatter(np.radians(motion["direction_deg"]), motion["speed_px_per_frame"], s=12, alpha=0.7)
        axis.set_title(f"{layer}\n(px/frame, 90° = up)", fontsize=9)
    figure.suptitle(title)
    figure.tight_layout()
    return figure


def kernel_slices_image(weight: np.ndarray, pad_px: int = 1) -> np.ndarray:
    """RGB image [rows·kh, cols·kw, 3] in [0, 1] of a first-layer weight (C, 3, kT, kh, kw): one row per
    filter, one column per time step, each filter scaled symmetrically about 0 (grey = 0)."""
    weight = np.asarray(weight, dtype=np.float64)
    channels, _, frames, height, width = weight.shape
    image = np.ones((channels * (height + pad_px) + pad_px, frames * (width + pad_px) + pad_px, 3))
    for channel in range(channels):
        scale = max(np.abs(weight[channel]).max(), 1e-12)
        tiles = 0.5 + 0.5 * weight[channel] / scale  # (3, kT, kh, kw)
        for step in range(frames):
            top, left = pad_px + channel * (height + pad_px), pad_px + step * (width + pad_px)
            image[top:top + height, left:left + width] = tiles[:, step].transpose(1, 2, 0)
    return image.astype(np.float32)
