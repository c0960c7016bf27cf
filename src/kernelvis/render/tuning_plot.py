"""Figures of the tuning probe and of faithfulness: a polar plot per kernel, a summary per model.

Polar axes put 0° at screen-right and go counter-clockwise, which is exactly the project's angle
convention, so the plotted preferred direction points where the content moves on screen.
Figures are saved atomically through :mod:`kernelvis.render.savefig` (the model summary also as PDF).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from kernelvis.render.layer_labels import layer_ticks
from kernelvis.render.savefig import plt, save_figure  # savefig selects the headless Agg backend

AGREEMENT_COLOR = "#1b9e77"
DISAGREEMENT_COLOR = "#d95f02"


def _closed(directions_deg: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Append the first point so the polar curve closes."""
    return np.radians(np.append(directions_deg, directions_deg[0])), np.append(values, values[0])


def polar_tuning_figure(directions_deg: np.ndarray, curve: np.ndarray, preferred_direction_deg: float, dsi: float,
                        title: str = "", dots_curve: np.ndarray | None = None,
                        decomposition_direction_deg: float | None = None):
    """Polar plot of a relative tuning curve (gratings at the best frequencies, optionally random dots),
    with the preferred direction and, when given, the direction of the visualized motion."""
    figure = plt.figure(figsize=(4.2, 4.2))
    axes = figure.add_subplot(projection="polar")
    theta, r = _closed(np.asarray(directions_deg, float), np.asarray(curve, float))
    axes.plot(theta, r, "-o", color="black", markersize=3, label="gratings (best sf, tf)")
    peak = float(np.max(curve)) if np.max(curve) > 0 else 1.0
    if dots_curve is not None and np.max(dots_curve) > 0:
        scale = peak / float(np.max(dots_curve))  # same peak height: the shape is what compares
        theta_d, r_d = _closed(np.asarray(directions_deg, float), np.asarray(dots_curve, float) * scale)
        axes.plot(theta_d, r_d, "--", color="grey", label="random dots (scaled)")
    axes.annotate("", xy=(np.radians(preferred_direction_deg), peak), xytext=(0, 0),
                  arrowprops=dict(arrowstyle="->", color=AGREEMENT_COLOR, lw=2))
    axes.plot([], [], color=AGREEMENT_COLOR, lw=2, label=f"preferred {preferred_direction_deg:.0f}°, DSI {dsi:.2f}")
    if decomposition_direction_deg is not None:
        axes.annotate("", xy=(np.radians(decomposition_direction_deg), 0.8 * peak), xytext=(0, 0),
                      arrowprops=dict(arrowstyle="->", color=DISAGREEMENT_COLOR, lw=2))
        axes.plot([], [], color=DISAGREEMENT_COLOR, lw=2, label=f"visualized motion {decomposition_direction_deg:.0f}°")
    axes.set_rlabel_position(135)
    axes.set_title(title, fontsize=9)
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.08), fontsize=7, frameon=False)
    return figure


def write_polar_tuning(path_png: str | os.PathLike, tuning, title: str = "",
                       decomposition_direction_deg: float | None = None, also_pdf: bool = False) -> list[Path]:
    """Polar plot of a :class:`kernelvis.analysis.tuning.KernelTuning`."""
    figure = polar_tuning_figure(tuning.directions_deg, tuning.best_curve, tuning.preferred_direction_deg, tuning.dsi,
                                 title, tuning.dots.get("curve"), decomposition_direction_deg)
    return save_figure(figure, path_png, also_pdf=also_pdf)


def faithfulness_figure(rows: list[dict], agreement: list[dict], dsi_threshold: float, max_error_deg: float,
                        title: str = ""):
    """Left: angular error (tuning vs visualized motion) against DSI, per layer. Right: agreement per layer
    (share of kernels with DSI > threshold whose visualized motion is within ``max_error_deg``)."""
    figure, (left, right) = plt.subplots(1, 2, figsize=(9.5, 3.8))
    layers = list(dict.fromkeys(row["layer"] for row in rows))
    colors = plt.get_cmap("viridis")(np.linspace(0, 0.9, max(len(layers), 1)))
    plotted = False
    for layer, color in zip(layers, colors):
        points = [(row["dsi"], row["angular_error_deg"]) for row in rows
                  if row["layer"] == layer and np.isfinite(row["dsi"]) and np.isfinite(row["angular_error_deg"])]
        if points:
            x, y = np.array(points).T
            left.scatter(x, y, s=14, color=color, label=layer, alpha=0.8)
            plotted = True
    left.axvline(dsi_threshold, color="grey", ls="--", lw=1)
    left.axhline(max_error_deg, color="grey", ls=":", lw=1)
    left.set(xlabel="direction selectivity index (tuning)", ylabel="|tuning − visualized direction| (°)",
             xlim=(-0.02, 1.02), ylim=(0, 180), yticks=range(0, 181, 30))
    if plotted:
        left.legend(fontsize=7, frameon=False)
    else:
        left.text(0.5, 90, "no kernel has both tuning and a decomposition", ha="center", fontsize=8, color="grey")
    names = [entry["layer"] for entry in agreement]
    shares = [entry["agreement"] if np.isfinite(entry["agreement"]) else 0.0 for entry in agreement]
    bars = right.bar(range(len(names)), shares, color=AGREEMENT_COLOR)
    for bar, entry in zip(bars, agreement):
        right.text(bar.get_x() + bar.get_width() / 2, bar.get_height() + 0.02,
                   f"{entry['agreeing']}/{entry['selective']}", ha="center", fontsize=8)
    layer_ticks(right, names)
    right.set(ylim=(0, 1.1), ylabel=f"share within {max_error_deg:.0f}° (DSI > {dsi_threshold:g})")
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    return figure
