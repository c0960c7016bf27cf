"""Per-model figures: the depth grid (like the paper's) and motion against depth."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from kernelvis.render.panels import mean_velocity
from kernelvis.render.savefig import plt


def depth_grid(cells: "OrderedDict[str, list[dict]]", title: str = "", motion_scale_px_per_frame: float | None = None):
    """Rows = layers (in the given order, shallow to deep), columns = kernels.

    ``cells[layer]`` is a list of dicts with ``kernel``, ``static`` [H,W,3], ``velocity`` [T,H,W,2] and
    optional ``direction_deg``/``speed_px_per_frame``. Each cell shows the static texture with mean-motion
    arrows beside the HSV motion of the time-averaged velocity.
    """
    from kernelvis.render.arrows import draw_motion_arrows
    from kernelvis.render.motion import color_wheel, velocity_to_rgb

    layers = list(cells)
    columns = max(len(kernels) for kernels in cells.values())
    figure, axes = plt.subplots(len(layers), 2 * columns + 1, figsize=(2.6 * columns + 1.0, 1.5 * len(layers) + 0.7),
                                squeeze=False, gridspec_kw={"width_ratios": [1, 1] * columns + [0.6]})
    for axis in axes.ravel():
        axis.axis("off")
    for row, layer in enumerate(layers):
        for column, cell in enumerate(cells[layer]):
            static_axes, motion_axes = axes[row, 2 * column], axes[row, 2 * column + 1]
            static_axes.imshow(np.clip(cell["static"], 0, 1))
            average = mean_velocity(cell["velocity"])
            draw_motion_arrows(static_axes, average)
            motion_axes.imshow(velocity_to_rgb(average[None], motion_scale_px_per_frame)[0], interpolation="nearest")
            caption = f"k{cell['kernel']}"
            if isinstance(cell.get("speed_px_per_frame"), (int, float)):
                caption += f"  {cell['speed_px_per_frame']:.2f}px/f"
            static_axes.set_title(caption, fontsize=7, loc="left")
        axes[row, 0].text(-0.08, 0.5, layer, transform=axes[row, 0].transAxes, rotation=90, ha="right",
                          va="center", fontsize=8)
    axes[0, -1].imshow(color_wheel(64))
    axes[0, -1].set_title("direction", fontsize=7)
    figure.suptitle(title, fontsize=10)
    return figure


def motion_vs_depth(rows: list[dict], title: str = ""):
    """Motion index and speed per layer (mean ± s.d. over kernels, points = kernels), layers in row order."""
    layers = list(OrderedDict.fromkeys(row["layer"] for row in rows))
    figure, (index_axes, speed_axes) = plt.subplots(1, 2, figsize=(max(5.0, 1.1 * len(layers) + 3), 3.0))
    for axes, key, label in [(index_axes, "motion_index", "motion index"),
                             (speed_axes, "speed_px_per_frame", "speed (px/frame)")]:
        for position, layer in enumerate(layers):
            values = np.array([row[key] for row in rows if row["layer"] == layer and isinstance(row.get(key), float)])
            if values.size == 0:
                continue
            jitter = np.linspace(-0.12, 0.12, values.size) if values.size > 1 else np.zeros(1)
            axes.scatter(position + jitter, values, s=12, color="0.5", zorder=2)
            axes.errorbar(position, values.mean(), yerr=values.std(), fmt="o", color="C3", capsize=3, zorder=3)
        axes.set_xticks(range(len(layers)))
        axes.set_xticklabels(layers, rotation=30, ha="right", fontsize=8)
        axes.set_ylabel(label)
        axes.set_xlabel("layer (shallow → deep)")
    index_axes.set_ylim(bottom=0)
    speed_axes.set_ylim(bottom=0)
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    return figure
