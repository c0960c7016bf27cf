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
TEXTURE_COLORS = {"stage2": "#7570b3", "refined": "#e7298a"}
"""Texture-conditioned curves (:mod:`kernelvis.analysis.texture_tuning`): stage 2's texture, the refined one."""
TEXTURE_LABELS = {"stage2": "own texture", "refined": "refined texture"}


def _closed(directions_deg: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Append the first point so the polar curve closes."""
    return np.radians(np.append(directions_deg, directions_deg[0])), np.append(values, values[0])


def texture_curve_entries(source) -> list[dict]:
    """What :func:`draw_texture_curves` draws, from a list of
    :class:`~kernelvis.analysis.texture_tuning.TextureTuning` or from a ``texture_tuning.json`` record
    (its ``curves`` and ``{prefix}preferred_direction_deg``/``dsi`` scalars): per texture, the relative curve at
    the visualized speed. Returns [] for None."""
    if source is None:
        return []
    if isinstance(source, dict):
        from kernelvis.analysis.texture_tuning import LABEL_PREFIXES

        entries = []
        curves = source.get("curves") or {}
        order = [label for label in TEXTURE_COLORS if label in curves] + sorted(set(curves) - set(TEXTURE_COLORS))
        for label, curve in ((label, curves[label]) for label in order):
            factors = list(curve.get("speed_factors") or [1.0])
            row = int(np.argmin(np.abs(np.asarray(factors, float) - 1.0)))
            prefix = LABEL_PREFIXES.get(label, f"{label}_texture_")
            relative = [np.nan if value is None else value for value in curve["relative"][row]]
            entries.append({"label": label, "directions_deg": curve["directions_deg"], "curve": relative,
                            "preferred_direction_deg": source.get(f"{prefix}preferred_direction_deg"),
                            "dsi": source.get(f"{prefix}dsi")})
        return entries
    return [{"label": result.label, "directions_deg": result.directions_deg, "curve": result.reference_curve,
             "preferred_direction_deg": result.preferred_direction_deg, "dsi": result.dsi} for result in source]


def draw_texture_curves(axes, entries: list[dict], peak: float | None = None) -> None:
    """Overlay texture-conditioned curves (:func:`texture_curve_entries`) on polar ``axes``, each scaled to
    ``peak`` (the grating curve's peak: the shapes compare, as the random dots'), with a tick at each
    curve's preferred direction and a legend entry ``own texture: peak 40°, DSI 0.85``."""
    for entry in entries:
        curve = np.nan_to_num(np.asarray(entry["curve"], float), nan=0.0)
        if curve.size == 0 or not np.max(curve) > 0:
            continue
        scale = (peak / float(np.max(curve))) if peak else 1.0
        color = TEXTURE_COLORS.get(entry.get("label"), "#666666")
        theta, r = _closed(np.asarray(entry["directions_deg"], float), curve * scale)
        name = TEXTURE_LABELS.get(entry.get("label"), str(entry.get("label")))
        preferred, dsi = entry.get("preferred_direction_deg"), entry.get("dsi")
        facts = []
        if preferred is not None:
            facts.append(f"peak {preferred:.0f}°")
            axes.plot([np.radians(preferred)] * 2, [0, float(np.max(curve)) * scale], ":", color=color, lw=1.5)
        if dsi is not None:
            facts.append(f"DSI {dsi:.2f}")
        label = f"{name} (scaled)" + (f": {', '.join(facts)}" if facts else "")
        axes.plot(theta, r, "-", color=color, lw=1.4, label=label)


def polar_tuning_figure(directions_deg: np.ndarray, curve: np.ndarray, preferred_direction_deg: float, dsi: float,
                        title: str = "", dots_curve: np.ndarray | None = None,
                        decomposition_direction_deg: float | None = None, texture_curves: list[dict] | None = None):
    """Polar plot of a relative tuning curve (gratings at the best frequencies, optionally random dots),
    with the preferred direction and, when given, the direction of the visualized motion and the
    texture-conditioned curves (``texture_curves``: :func:`texture_curve_entries`)."""
    figure = plt.figure(figsize=(4.2, 4.2))
    axes = figure.add_subplot(projection="polar")
    theta, r = _closed(np.asarray(directions_deg, float), np.asarray(curve, float))
    axes.plot(theta, r, "-o", color="black", markersize=3, label="gratings (best sf, tf)")
    peak = float(np.max(curve)) if np.max(curve) > 0 else 1.0
    if dots_curve is not None and np.max(dots_curve) > 0:
        scale = peak / float(np.max(dots_curve))  # same peak height: the shape is what compares
        theta_d, r_d = _closed(np.asarray(directions_deg, float), np.asarray(dots_curve, float) * scale)
        axes.plot(theta_d, r_d, "--", color="grey", label="random dots (scaled)")
    if texture_curves:
        draw_texture_curves(axes, texture_curves, peak)
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
                       decomposition_direction_deg: float | None = None, also_pdf: bool = False,
                       texture_tuning=None) -> list[Path]:
    """Polar plot of a :class:`kernelvis.analysis.tuning.KernelTuning`; ``texture_tuning`` (optional: a list of
    :class:`~kernelvis.analysis.texture_tuning.TextureTuning` or a texture_tuning.json record) adds the
    texture-conditioned curves."""
    figure = polar_tuning_figure(tuning.directions_deg, tuning.best_curve, tuning.preferred_direction_deg, tuning.dsi,
                                 title, tuning.dots.get("curve"), decomposition_direction_deg,
                                 texture_curve_entries(texture_tuning))
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
    positions = np.arange(len(names))
    # gratings (left bar) and the kernel's own texture moved (right bar): the texture-conditioned verdict is the
    # one the visualization must meet; gratings may disagree for a reason (the aperture problem)
    for offset, prefix, color, label in ((-0.2, "", AGREEMENT_COLOR, "gratings"),
                                         (0.2, "texture_", TEXTURE_COLORS["stage2"], "own texture")):
        shares = [entry.get(f"{prefix}agreement", np.nan) for entry in agreement]
        shares = [value if np.isfinite(value) else 0.0 for value in shares]
        bars = right.bar(positions + offset, shares, width=0.38, color=color, label=label)
        for bar, entry in zip(bars, agreement):
            label_text = f"{entry.get(f'{prefix}agreeing', 0)}/{entry.get(f'{prefix}selective', 0)}"
            if prefix and entry.get("texture_inhibited"):  # selective textures that no motion excites: no verdict
                label_text += f"\n+{entry['texture_inhibited']} inh."
            right.text(bar.get_x() + bar.get_width() / 2, bar.get_height() + 0.02, label_text, ha="center",
                       va="bottom", fontsize=7)
    layer_ticks(right, names)
    right.legend(fontsize=7, frameon=False, loc="upper right")
    right.set(ylim=(0, 1.3), ylabel=f"share within {max_error_deg:.0f}° (DSI > {dsi_threshold:g})")
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    return figure
