"""Per-model figures: the depth grid (like the paper's) and motion against depth."""

from __future__ import annotations

from collections import OrderedDict
from itertools import groupby

import numpy as np

from kernelvis.render.layer_labels import TICK_WIDTH, layer_ticks, row_label
from kernelvis.render.panels import audit_badge, mean_velocity
from kernelvis.render.savefig import plt


MAX_COLUMNS = 8
"""Kernels per depth-grid row: a layer with more continues on the rows below, so whole layers stay legible."""


def grid_rows(cells: "OrderedDict[str, list[dict]]", max_columns: int = MAX_COLUMNS) -> list[tuple[str, list[dict]]]:
    """The depth grid's figure rows, top to bottom: (layer, its kernels on that row), at most ``max_columns``
    kernels each; a layer's kernels fill its rows in the given order, layers follow in the given order."""
    if max_columns < 1:
        raise ValueError(f"max_columns must be at least 1, got {max_columns}")
    return [(layer, kernels[start:start + max_columns])
            for layer, kernels in cells.items() for start in range(0, max(len(kernels), 1), max_columns)]


def depth_grid(cells: "OrderedDict[str, list[dict]]", title: str = "", motion_scale_px_per_frame: float | None = None,
               max_columns: int = MAX_COLUMNS):
    """Rows = layers (in the given order, shallow to deep), columns = kernels: at most ``max_columns`` kernels a
    row, a layer with more continues on the rows below it (its label once, beside all its rows, which a line
    spans). A bar under each motion cell splits the kernel's temporal change into motion (blue), appearance
    change (orange) and residual (grey) when its summary has the shares.

    ``cells[layer]`` is a list of dicts with ``kernel``, ``static`` [H,W,3], ``velocity`` [T,H,W,2] and
    optional ``direction_deg``/``speed_px_per_frame``. Each cell shows the static texture with mean-motion
    arrows beside the HSV motion of the time-averaged velocity.
    """
    from matplotlib.transforms import blended_transform_factory

    from kernelvis.render.motion import color_wheel

    rows = grid_rows(cells, max_columns)
    columns = max(1, max(len(kernels) for _, kernels in rows))
    # A row is an image (about 1.2 in wide, as tall as the frames' aspect makes it) and its caption: 1.5 in for
    # square frames, less for TransNetV2's 27x48 (wide frames would otherwise float in empty space).
    aspect = max(np.asarray(cell["static"]).shape[0] / np.asarray(cell["static"]).shape[1]
                 for _, kernels in rows for cell in kernels)
    row_height = max(1.2 * aspect + 0.3, 1.2)  # at least a long module name (rotated, 6.5 pt)
    height = row_height * len(rows) + 0.7
    figure, axes = plt.subplots(len(rows), 2 * columns + 1, figsize=(2.6 * columns + 1.0, height), squeeze=False,
                                gridspec_kw={"width_ratios": [1, 1] * columns + [0.6],
                                             "top": max(0.88, 1 - 0.5 / height)})  # the title's margin: ~0.5 in
    for axis in axes.ravel():
        axis.axis("off")
    for row, (_, kernels) in enumerate(rows):
        for column, cell in enumerate(kernels):
            _draw_cell(axes[row, 2 * column], axes[row, 2 * column + 1], cell, motion_scale_px_per_frame)
    for layer, indices in groupby(range(len(rows)), key=lambda row: rows[row][0]):  # a label once, beside its rows
        indices = list(indices)
        first, last = indices[0], indices[-1]
        top, bottom = axes[first, 0].get_position().y1, axes[last, 0].get_position().y0
        beside = blended_transform_factory(axes[first, 0].transAxes, figure.transFigure)
        axes[first, 0].text(-0.08, (top + bottom) / 2, row_label(layer), transform=beside, rotation=90, ha="right",
                            va="center", fontsize=8 if len(layer) <= 16 else 6.5)
        if last > first:  # the layer continues on the rows below: a line spans all of them
            axes[first, 0].plot([-0.05, -0.05], [top, bottom], transform=beside, color="0.5", linewidth=1.0,
                                clip_on=False)
    axes[0, -1].imshow(color_wheel(64))
    axes[0, -1].set_title("direction", fontsize=7)
    figure.suptitle(title, fontsize=10)
    return figure


def _draw_cell(static_axes, motion_axes, cell: dict, motion_scale_px_per_frame: float | None) -> None:
    """One depth-grid cell: the static texture with mean-motion arrows, captioned with the kernel (and its speed
    and audit badge), beside the HSV motion with its share bar; framed in the badge's colour when it has one."""
    from kernelvis.render.arrows import draw_motion_arrows
    from kernelvis.render.motion import velocity_to_rgb

    static_axes.imshow(np.clip(cell["static"], 0, 1))
    average = mean_velocity(cell["velocity"])
    draw_motion_arrows(static_axes, average)
    motion_axes.imshow(velocity_to_rgb(average[None], motion_scale_px_per_frame)[0], interpolation="nearest")
    caption = f"k{cell['kernel']}"
    if isinstance(cell.get("speed_px_per_frame"), (int, float)):
        caption += f"  {cell['speed_px_per_frame']:.2f}px/f"
    draw_share_bar(motion_axes, cell)
    badge, colour = audit_badge(cell, short=True)
    static_axes.set_title(f"{caption} {badge}" if badge else caption, fontsize=7, loc="left", color=colour)
    if badge:  # a frame around both images: this cell is not what the kernel prefers, or not a result
        for marked in (static_axes, motion_axes):
            marked.axis("on")
            marked.set_xticks([])
            marked.set_yticks([])
            for spine in marked.spines.values():
                spine.set_edgecolor(colour)
                spine.set_linewidth(2.5)


SHARES = (("motion_share", "motion", "tab:blue"), ("appearance_share", "appearance", "tab:orange"),
          ("residual_share", "unexplained", "0.7"))
"""Stage 2's change shares (they sum to 1), in stacking order, with their labels and colours."""


def draw_share_bar(axes, cell: dict) -> None:
    """A thin bar under a depth-grid cell: how its temporal change splits into motion, appearance
    change and residual (nothing drawn when the summary has no shares or the clip is static)."""
    values = [cell.get(key) for key, _, _ in SHARES]
    if not all(isinstance(value, (int, float)) for value in values) or sum(values) <= 0:
        return
    bar = axes.inset_axes([0.0, -0.14, 1.0, 0.1])
    left = 0.0
    for value, (_, _, colour) in zip(values, SHARES):
        bar.barh(0, value, left=left, color=colour, height=1.0)
        left += value
    bar.set_xlim(0, 1)
    bar.axis("off")


def _share_bars(axes, rows: list[dict], layers: list[str]) -> None:
    """Mean change shares per layer as stacked bars, kernels' motion shares as points."""
    bottom = np.zeros(len(layers))
    for key, label, colour in SHARES:
        means = np.array([np.mean([row[key] for row in rows if row["layer"] == layer
                                   and isinstance(row.get(key), float)] or [0.0]) for layer in layers])
        axes.bar(range(len(layers)), means, bottom=bottom, color=colour, label=label, width=0.6)
        bottom += means
    for position, layer in enumerate(layers):
        values = np.array([row["motion_share"] for row in rows
                           if row["layer"] == layer and isinstance(row.get("motion_share"), float)])
        if values.size:
            jitter = np.linspace(-0.15, 0.15, values.size) if values.size > 1 else np.zeros(1)
            axes.scatter(position + jitter, values, s=10, color="k", zorder=3)
    axes.set_ylim(0, 1)
    layer_ticks(axes, layers)
    axes.set_ylabel("share of temporal change")
    axes.legend(fontsize=6, loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=3, frameon=False)  # above: off the bars


def motion_vs_depth(rows: list[dict], title: str = ""):
    """Per layer: how the optimal inputs' temporal change splits into motion, appearance change and
    residual (stacked mean shares; points = each kernel's motion share), and the speed (mean ± s.d.
    over kernels, points = kernels); layers in row order. Tables without shares (runs before issue 16)
    fall back to the motion index."""
    layers = list(OrderedDict.fromkeys(row["layer"] for row in rows))
    label_lines = max(row_label(layer, TICK_WIDTH).count("\n") + 1 for layer in layers)
    figure, (index_axes, speed_axes) = plt.subplots(1, 2, figsize=(max(5.0, 1.1 * len(layers) + 3), 2.6 + 0.16 * label_lines))
    has_shares = any(isinstance(row.get("motion_share"), float) for row in rows)
    if has_shares:
        _share_bars(index_axes, rows, layers)
    for axes, key, label in [(index_axes, "motion_index", "motion index"),
                             (speed_axes, "speed_px_per_frame", "speed (px/frame)")][int(has_shares):]:
        for position, layer in enumerate(layers):
            values = np.array([row[key] for row in rows if row["layer"] == layer and isinstance(row.get(key), float)])
            if values.size == 0:
                continue
            jitter = np.linspace(-0.12, 0.12, values.size) if values.size > 1 else np.zeros(1)
            axes.scatter(position + jitter, values, s=12, color="0.5", zorder=2)
            axes.errorbar(position, values.mean(), yerr=values.std(), fmt="o", color="C3", capsize=3, zorder=3)
        layer_ticks(axes, layers)
        axes.set_ylabel(label)
    index_axes.set_ylim(bottom=0)
    speed_axes.set_ylim(bottom=0)
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    return figure
