"""The population figure of a model: one row per layer (shallow to deep), from its summary.csv.

Per layer, left to right:

1. a polar histogram of the *visualized* directions (stage 2's ``direction_deg``), **counted**: one count per
   measured kernel (dead and diverged kernels left out), 12 sectors of 30° centred on 0°, 30°, ... (screen-right =
   0°, counter-clockwise, as everywhere in kernelvis). Over it, as an outline, the tuning's *preferred* directions of
   the direction-selective kernels (grating DSI > 0.3), counted the same way; dashed, the texture-conditioned
   preferred directions when the summary has them;
2. the histogram of visualized speeds (px/frame, the same bins for every layer), median marked;
3. bars in [0, 1]: the mean motion / appearance / residual shares (stacked), the optimality-audit pass share, the
   tuning agreement (visualized within 30° of preferred, over direction-selective kernels) and, when recorded, the
   texture-tuning agreement, each with its k/n; the layer's status counts under them.

The numbers are :func:`kernelvis.analysis.population.layer_table`'s (``layers.csv``).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from kernelvis.analysis.population import (SHARE_KEYS, STATUSES, TEXTURE_COLUMNS, direction_histogram,
                                           layer_directions, layer_table)
from kernelvis.analysis.verdict import inhibited_suffix
from kernelvis.render.figures import SHARES
from kernelvis.render.layer_labels import row_label
from kernelvis.render.savefig import plt

SECTORS = 12
VISUALIZED_COLOR = "tab:blue"
PREFERRED_COLOR = "tab:red"
TEXTURE_COLOR = "tab:green"
AUDIT_COLOR = "tab:purple"
AGREEMENT_COLOR = "tab:red"
MISSING_COLOR = "0.85"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _outline(axes, counts: np.ndarray, centres_deg: np.ndarray, **style) -> None:
    """Counts per sector as a closed step outline on polar axes (flat across each sector)."""
    width = 360.0 / len(counts)
    theta, radius = [], []
    for count, centre in zip(counts, centres_deg):
        theta += [np.radians(centre - width / 2), np.radians(centre + width / 2)]
        radius += [count, count]
    axes.plot(theta + theta[:1], radius + radius[:1], **style)


def _polar(axes, directions: dict) -> None:
    counts, centres = direction_histogram(directions["visualized"], SECTORS)
    peak = max([int(direction_histogram(directions[key], SECTORS)[0].max())
                for key in ("visualized", "preferred", "texture_preferred") if len(directions.get(key, ()))] + [1])
    axes.bar(np.radians(centres), counts, width=np.radians(360.0 / SECTORS) * 0.95, color=VISUALIZED_COLOR,
             alpha=0.55, edgecolor=VISUALIZED_COLOR, linewidth=0.6, label="visualized (count)")
    if len(directions["preferred"]):
        _outline(axes, direction_histogram(directions["preferred"], SECTORS)[0], centres, color=PREFERRED_COLOR,
                 lw=1.6, label="preferred, gratings (DSI > 0.3)")
    if "texture_preferred" in directions and len(directions["texture_preferred"]):
        _outline(axes, direction_histogram(directions["texture_preferred"], SECTORS)[0], centres,
                 color=TEXTURE_COLOR, lw=1.4, ls="--", label="preferred, own texture (DSI > 0.3)")
    axes.set_ylim(0, peak)
    axes.set_yticks(sorted({peak, max(1, round(peak / 2))}))
    axes.set_rlabel_position(67.5)
    selective = f", {len(directions['preferred'])} selective" if len(directions["preferred"]) else ""
    axes.set_title(f"{_plural(len(directions['visualized']), 'direction')}{selective}", fontsize=7, pad=12)
    axes.set_xticks(np.radians(np.arange(0, 360, 90)))
    axes.set_xticklabels(["0°", "90°", "180°", "270°"], fontsize=7)
    axes.tick_params(axis="y", labelsize=6)


def _speeds(axes, speeds: np.ndarray, bins: np.ndarray, median: float) -> None:
    if len(speeds):
        axes.hist(np.clip(speeds, bins[0], bins[-1]), bins=bins, color=VISUALIZED_COLOR, alpha=0.7,
                  edgecolor="white", linewidth=0.6)
    if math.isfinite(median):
        axes.axvline(median, color="k", lw=1, ls="--")
        right = median > bins[0] + 0.65 * (bins[-1] - bins[0])  # the label on the side with room
        label = f"median {median:.2f} " if right else f" median {median:.2f}"
        axes.text(median, 1.0, label, transform=axes.get_xaxis_transform(), fontsize=7,
                  va="top", ha="right" if right else "left")
    else:
        axes.text(0.5, 0.5, "no speeds", transform=axes.transAxes, ha="center", va="center", color="0.4")
    axes.set_xlim(bins[0], bins[-1])
    axes.set_ylabel("kernels", fontsize=7)
    axes.tick_params(labelsize=7)
    axes.yaxis.get_major_locator().set_params(integer=True)


def _count_text(count, total, empty: str) -> str:
    return f"{int(count)}/{int(total)}" if total else empty


def _bars(axes, row: dict, texture: bool) -> None:
    labels = ["shares", "audit pass", "tuning agrees"] + (["texture agrees"] if texture else [])
    positions = np.arange(len(labels))[::-1]
    left = 0.0
    shares = [row.get(f"{key}_mean", math.nan) for key in SHARE_KEYS]
    if all(math.isfinite(value) for value in shares):
        for value, (_, name, colour) in zip(shares, SHARES):
            axes.barh(positions[0], value, left=left, color=colour, height=0.6)
            if value >= 0.12:
                axes.text(left + value / 2, positions[0], f"{value:.2f}", ha="center", va="center", fontsize=6.5,
                          color="white" if colour != "0.7" else "black")
            left += value
    else:
        axes.text(0.02, positions[0], "no shares", va="center", fontsize=7, color="0.4")
    verdicts = [("audit_passing", "audited", "audit_share", AUDIT_COLOR, "not audited"),
                ("agreeing", "direction_selective", "agreement", AGREEMENT_COLOR, "no DSI > 0.3")]
    if texture:
        verdicts.append(("texture_agreeing", "texture_selective", "texture_agreement", TEXTURE_COLOR,
                         "no texture DSI > 0.3"))
    for position, (count, total, share, colour, empty) in zip(positions[1:], verdicts):
        value = row.get(share, math.nan)
        axes.barh(position, 1.0, color=MISSING_COLOR, height=0.6)
        if math.isfinite(value):
            axes.barh(position, value, color=colour, height=0.6)
        text = _count_text(row.get(count, 0), row.get(total, 0), empty)
        if count == "texture_agreeing":  # kernels without a verdict because no motion excites their texture
            text += inhibited_suffix(row.get("texture_inhibited"))
        axes.text(1.02, position, text, va="center", fontsize=7)
    axes.set_yticks(positions)
    axes.set_yticklabels(labels, fontsize=7)
    axes.set_xlim(0, 1)
    axes.set_xticks([0, 0.5, 1])
    axes.tick_params(axis="x", labelsize=7)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    statuses = [f"{int(row[name])} {name}" for name in STATUSES if row.get(name)]
    statuses += [f"{int(value)} {key.removeprefix('status_')}" for key, value in row.items()
                 if key.startswith("status_") and value]
    axes.set_title(f"{_plural(int(row['kernels']), 'kernel')}: " + ", ".join(statuses), fontsize=7, loc="left")


def speed_bins(speeds: list[np.ndarray], count: int = 12) -> np.ndarray:
    """Bins shared by every layer: 0 up to the model's largest speed (its 98th percentile when a few are
    far out: the last bin holds everything above)."""
    pooled = np.concatenate([s for s in speeds if len(s)] or [np.zeros(0)])
    pooled = pooled[np.isfinite(pooled)]
    top = float(pooled.max()) if len(pooled) else 1.0
    if len(pooled) > 10 and top > 3 * np.percentile(pooled, 90):  # a few far out: the last bin holds them
        top = float(np.percentile(pooled, 98))
    return np.linspace(0.0, max(top, 1e-3) * 1.02, count + 1)


def population_figure(rows, title: str = ""):
    """A matplotlib Figure (see the module docstring) of summary.csv rows (dicts or a DataFrame)."""
    table = layer_table(rows)
    directions = layer_directions(rows)
    layers = list(table["layer"]) or ["(no kernels)"]
    texture = all(column in table for column in TEXTURE_COLUMNS)
    bins = speed_bins([d["speed"] for d in directions.values()])
    height = 2.3 * len(layers) + 1.2
    figure = plt.figure(figsize=(11.0, height))
    grid = figure.add_gridspec(len(layers), 3, width_ratios=[1.0, 1.35, 1.5], wspace=0.5, hspace=0.6,
                               left=0.13, right=0.93, top=1 - 0.55 / height, bottom=0.85 / height)
    records = table.to_dict("records")
    for index, layer in enumerate(layers):
        polar = figure.add_subplot(grid[index, 0], projection="polar")
        speed_axes = figure.add_subplot(grid[index, 1])
        bar_axes = figure.add_subplot(grid[index, 2])
        if index < len(records):
            row = records[index]
            _polar(polar, directions[layer])
            median = row["speed_median"]
            _speeds(speed_axes, directions[layer]["speed"], bins, median if pd.notna(median) else math.nan)
            _bars(bar_axes, row, texture)
        polar.text(-0.32, 0.5, row_label(layer), transform=polar.transAxes, rotation=90, ha="center",
                   va="center", fontsize=8 if len(layer) <= 16 else 6.5)
        if index == len(layers) - 1:
            speed_axes.set_xlabel("visualized speed (px/frame)", fontsize=7)
    handles, labels = [], []
    for axes in figure.axes:
        for handle, label in zip(*axes.get_legend_handles_labels()):
            if label not in labels:
                handles.append(handle)
                labels.append(label)
    handles += [plt.Rectangle((0, 0), 1, 1, color=colour) for _, _, colour in SHARES]
    labels += [f"{name} share" for _, name, _ in SHARES]
    figure.legend(handles, labels, loc="lower center", ncol=min(len(labels), 6), fontsize=7, frameon=False,
                  bbox_to_anchor=(0.5, 0.0))
    figure.suptitle(f"{title + ': ' if title else ''}population per layer (directions counted per kernel)",
                    fontsize=10, y=1 - 0.1 / height)
    return figure
