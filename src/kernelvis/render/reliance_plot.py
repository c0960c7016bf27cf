"""Per-layer figure of the reliance indices (``kernelvis.analysis.reliance``).

Per layer, left: each kernel as a point, motion reliance (x) against texture reliance (y), coloured by the
direction-reversal drop; kernels in the lower-right need motion but not a particular texture,
upper-left the reverse. Right: the three indices per kernel as grouped bars.
Rows come from a summary.csv-like table (one dict per kernel); kernels whose indices are missing
(no response above baseline: null in summary.json) are listed in the layer's heading, not drawn.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from kernelvis.render.savefig import plt, save_figure

COLUMNS = ("texture_reliance", "motion_reliance", "direction_reversal_drop")


def _number(value) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return math.nan
    return number


def reliance_table(rows: list[dict], layer: str | None = None) -> tuple[list[str], np.ndarray, list[str]]:
    """(kernel labels, indices [K, 3] in COLUMNS order, labels of kernels without indices) of ``rows``
    (of ``layer`` only, when given), sorted by kernel index."""
    selected = [row for row in rows if layer is None or str(row.get("layer")) == layer]
    selected.sort(key=lambda row: _number(row.get("kernel")))
    labels, values, missing = [], [], []
    for row in selected:
        label = str(int(_number(row["kernel"]))) if math.isfinite(_number(row.get("kernel"))) else str(row.get("kernel"))
        indices = [_number(row.get(column)) for column in COLUMNS]
        if all(math.isfinite(value) for value in indices):
            labels.append(label)
            values.append(indices)
        else:
            missing.append(label)
    return labels, np.asarray(values, dtype=np.float64).reshape(-1, len(COLUMNS)), missing


def reliance_figure(rows: list[dict], title: str = "", layer: str | None = None):
    """A matplotlib Figure of the reliance indices (see module docstring): one row of panels per layer
    (rows in table order), or only ``layer``'s."""
    layers = [layer] if layer is not None else list(dict.fromkeys(str(row.get("layer")) for row in rows)) or ["?"]
    tables = [reliance_table(rows, name if len(layers) > 1 or layer is not None else None) for name in layers]
    most = max([len(labels) for labels, _, _ in tables] + [1])
    # constrained layout keeps the scatter's colourbar from running into the bar chart's axis beside it
    figure, axes = plt.subplots(len(layers), 2, squeeze=False, figsize=(4.2 + max(4.0, 0.35 * most), 4.0 * len(layers)),
                                layout="constrained",
                                gridspec_kw={"width_ratios": [1, max(1.0, most / 10)]})
    figure.suptitle(title or "reliance indices")
    for (scatter_axes, bar_axes), name, (labels, values, missing) in zip(axes, layers, tables):
        _draw_layer(figure, scatter_axes, bar_axes, name, labels, values, missing)
    return figure


def _draw_layer(figure, scatter_axes, bar_axes, layer: str, labels: list[str], values: np.ndarray, missing: list[str]) -> None:
    heading = layer if not missing else f"{layer} (no response above baseline: kernel {', '.join(missing)})"
    scatter_axes.set_title(heading, fontsize=9, loc="left")
    texture, motion, reversal = (values[:, i] for i in range(len(COLUMNS)))
    points = scatter_axes.scatter(motion, texture, c=reversal, cmap="coolwarm", vmin=-1, vmax=1, s=40,
                                  edgecolors="black", linewidths=0.5)
    for label, x, y in zip(labels, motion, texture):
        scatter_axes.annotate(label, (x, y), textcoords="offset points", xytext=(4, 3), fontsize=7)
    scatter_axes.set(xlim=(-0.05, 1.05), ylim=(-0.05, 1.05), xlabel="motion reliance", ylabel="texture reliance",
                     aspect="equal")
    figure.colorbar(points, ax=scatter_axes, fraction=0.046, pad=0.04, label="direction-reversal drop")
    positions = np.arange(len(labels))
    width = 0.27
    for offset, (column, series) in enumerate(zip(COLUMNS, (texture, motion, reversal))):
        bar_axes.bar(positions + (offset - 1) * width, series, width, label=column.replace("_", " "))
    bar_axes.axhline(0.0, color="black", linewidth=0.6)
    bar_axes.set(xticks=positions, xlabel="kernel", ylim=(-1.05, 1.05), ylabel="index")
    bar_axes.set_xticklabels(labels, fontsize=7)
    bar_axes.legend(fontsize=7, loc="lower right")


def write_reliance_plot(rows_or_csv: list[dict] | str | os.PathLike, out_png: str | os.PathLike, title: str = "",
                        layer: str | None = None) -> list[Path]:
    """Write ``out_png`` and the PDF beside it (atomically) from rows or a summary.csv path; returns the paths."""
    if isinstance(rows_or_csv, (str, os.PathLike)):
        import csv

        with open(rows_or_csv, newline="") as handle:
            rows = list(csv.DictReader(handle))  # numbers stay strings; _number parses them
    else:
        rows = rows_or_csv
    return save_figure(reliance_figure(rows, title, layer), out_png, also_pdf=True)
