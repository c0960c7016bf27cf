"""Small inline SVG drawings: motion arrows over a picture, a direction compass, a polar tuning plot.

Inline SVG needs no image files, stays sharp at any zoom and costs a few hundred bytes per kernel.
Angles follow the project's convention (counter-clockwise from screen-right, up = 90°); SVG's y axis
points down, so a direction θ is drawn as (cos θ, −sin θ). Colours use the HSV motion coding's hue
(hue = direction), so a compass arrow has the colour the motion videos give that direction.
"""

from __future__ import annotations

import math
from html import escape

from kernelvis.atlas.fields import is_number


def direction_colour(direction_deg: float) -> str:
    return f"hsl({direction_deg % 360:.0f}, 95%, 42%)"


def arrows_overlay(field: dict, css_class: str = "arrows") -> str:
    """SVG arrows in the picture's pixel coordinates (``viewBox`` = the picture), laid over the image by CSS:
    white with a dark outline so they read on any texture. Heads are drawn as triangles (no ``<marker>``, whose
    ids would repeat across the hundreds of cards of one page)."""
    width, height, step = field["width"], field["height"], field.get("step", 4)
    stroke = max(0.3, step * 0.08)
    shafts, heads = [], []
    for x, y, dx, dy in field["arrows"]:
        length = math.hypot(dx, dy)
        if length < 0.08 * step:
            continue
        ux, uy = dx / length, dy / length
        tip_x, tip_y = x + dx / 2, y + dy / 2
        head = min(0.45 * length, 0.35 * step)
        base_x, base_y = tip_x - ux * head, tip_y - uy * head
        # One decimal of a source pixel is finer than any screen shows these pictures at.
        shafts.append(f"M{x - dx / 2:.1f},{y - dy / 2:.1f}L{base_x:.1f},{base_y:.1f}")
        heads.append(f"M{tip_x:.1f},{tip_y:.1f}L{base_x - uy * head * 0.6:.1f},{base_y + ux * head * 0.6:.1f}"
                     f"L{base_x + uy * head * 0.6:.1f},{base_y - ux * head * 0.6:.1f}Z")
    shaft, head = "".join(shafts), "".join(heads)
    return (f'<svg class="{css_class}" viewBox="0 0 {width} {height}" preserveAspectRatio="none" aria-hidden="true">'
            f'<path d="{shaft}" stroke="#000" stroke-opacity="0.6" stroke-width="{stroke * 2.2:.2f}" fill="none"/>'
            f'<path d="{head}" fill="#fff" stroke="#000" stroke-opacity="0.6" stroke-width="{stroke:.2f}"/>'
            f'<path d="{shaft}" stroke="#fff" stroke-width="{stroke:.2f}" fill="none"/></svg>')


def compass(direction_deg, speed_fraction, size_px: int = 26, title: str = "") -> str:
    """A circle with an arrow towards ``direction_deg`` whose length is ``speed_fraction`` (0..1) of the radius;
    a grey dot when the direction is unknown."""
    centre = size_px / 2
    radius = centre - 1.5
    body = f'<circle cx="{centre}" cy="{centre}" r="{radius:.1f}" class="ring"/>'
    if is_number(direction_deg):
        fraction = min(1.0, max(0.15, speed_fraction if is_number(speed_fraction) else 0.5))
        length = (radius - 1) * fraction
        angle = math.radians(direction_deg)
        x, y = centre + length * math.cos(angle), centre - length * math.sin(angle)
        colour = direction_colour(direction_deg)
        body += (f'<line x1="{centre}" y1="{centre}" x2="{x:.1f}" y2="{y:.1f}" stroke="{colour}" stroke-width="2.4" '
                 f'stroke-linecap="round"/><circle cx="{x:.1f}" cy="{y:.1f}" r="2.2" fill="{colour}"/>')
    else:
        body += f'<circle cx="{centre}" cy="{centre}" r="2" fill="#999"/>'
    label = f"<title>{title}</title>" if title else ""
    return (f'<svg class="compass" width="{size_px}" height="{size_px}" viewBox="0 0 {size_px} {size_px}">'
            f"{label}{body}</svg>")


TEXTURE_CURVE_NAMES = {"stage2": "own texture", "refined": "refined texture"}
"""Texture-conditioned tuning curves (``texture_tuning.json``) the polar plot can overlay, by label, in drawing
order; CSS class ``texture-{label}`` (colours as kernelvis.render.tuning_plot's TEXTURE_COLORS)."""


def drawable_texture_curve(curve) -> list[tuple[float, float]] | None:
    """(direction_deg, response / the curve's max) of a texture curve {"label", "directions_deg", "relative", ...}
    at its finite directions (negatives as 0); None where there is nothing to draw: an unknown label, missing or
    malformed lists, fewer than 3 finite values, or no response above 0."""
    if not isinstance(curve, dict) or curve.get("label") not in TEXTURE_CURVE_NAMES:
        return None
    directions, values = curve.get("directions_deg"), curve.get("relative")
    if not isinstance(directions, (list, tuple)) or not isinstance(values, (list, tuple)) \
            or len(directions) != len(values):
        return None
    pairs = [(float(d), max(0.0, float(v))) for d, v in zip(directions, values) if is_number(d) and is_number(v)]
    peak = max((v for _, v in pairs), default=0.0)
    if len(pairs) < 3 or not peak > 0:
        return None
    return [(d, v / peak) for d, v in pairs]


def drawable_texture_curves(curves) -> list[dict]:
    """The curves of ``curves`` that :func:`polar_tuning` draws, in its order (stage 2's texture, then the refined)."""
    usable = [c for c in (curves or []) if drawable_texture_curve(c)]
    return sorted(usable, key=lambda c: list(TEXTURE_CURVE_NAMES).index(c["label"]))


def _texture_title(curve: dict) -> str:
    facts = [f"{name} {value:.0f}°" if unit else f"{name} {value:.2f}"
             for key, name, unit in (("preferred_direction_deg", "peak", True), ("dsi", "DSI", False))
             if is_number(value := curve.get(key))]
    title = f"{TEXTURE_CURVE_NAMES[curve['label']]} moved at the visualized speed (scaled to its peak)"
    return escape(title + (f": {', '.join(facts)}" if facts else ""))


def polar_tuning(directions_deg: list[float], responses: list[float], preferred_direction_deg=None,
                 visualized_direction_deg=None, size_px: int = 260, texture_curves=None,
                 refined_direction_deg=None) -> str:
    """Polar plot of a tuning curve (responses scaled to the peak, negatives drawn at 0) with arrows for the
    preferred direction (green) and the direction of the visualized motion (orange).

    ``texture_curves`` (optional; see :func:`drawable_texture_curve`): the kernel's own texture(s) moved in every
    direction at the visualized speed (``texture_tuning.json``), each outlined over the grating curve scaled to its
    own peak (class ``texture-stage2`` / ``texture-refined``, with a ``<title>``); those without a drawable curve
    are left out. ``refined_direction_deg``: an arrow (class ``visualized-refined``) for the refined motion's
    direction."""
    centre, radius = size_px / 2, size_px / 2 - 22
    peak = max([value for value in responses if is_number(value)] + [0.0])
    scale = radius / peak if peak > 0 else 0.0

    def point(angle_deg: float, r: float) -> tuple[float, float]:
        angle = math.radians(angle_deg)
        return centre + r * math.cos(angle), centre - r * math.sin(angle)

    parts = [f'<circle cx="{centre}" cy="{centre}" r="{radius * f:.1f}" class="grid"/>' for f in (0.5, 1.0)]
    for angle in range(0, 360, 45):
        x, y = point(angle, radius)
        parts.append(f'<line x1="{centre}" y1="{centre}" x2="{x:.1f}" y2="{y:.1f}" class="grid"/>')
        lx, ly = point(angle, radius + 12)
        parts.append(f'<text x="{lx:.1f}" y="{ly + 4:.1f}" text-anchor="middle">{angle}°</text>')
    points = [point(d, max(0.0, r) * scale) for d, r in zip(directions_deg, responses) if is_number(r)]
    if points:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        parts.append(f'<polygon points="{path}" class="curve"/>')
        parts.extend(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" class="dot"/>' for x, y in points)
    for curve in drawable_texture_curves(texture_curves):
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in (point(d, v * radius)
                                                          for d, v in drawable_texture_curve(curve)))
        parts.append(f'<polygon points="{path}" class="texture-{curve["label"]}"><title>{_texture_title(curve)}'
                     f'</title></polygon>')
    arrows = [(preferred_direction_deg, "preferred", 1.0), (visualized_direction_deg, "visualized", 0.8),
              (refined_direction_deg, "visualized-refined", 0.65)]
    for value, css, fraction in arrows:
        if is_number(value):
            x, y = point(value, radius * fraction)
            parts.append(f'<line x1="{centre}" y1="{centre}" x2="{x:.1f}" y2="{y:.1f}" class="{css}" '
                         f'marker-end="url(#arrow-{css})"/>')
    markers = "".join(f'<marker id="arrow-{css}" viewBox="0 0 6 6" refX="5" refY="3" markerWidth="4" markerHeight="4" '
                      f'orient="auto"><path d="M0,0 L6,3 L0,6 z" class="{css}-head"/></marker>'
                      for value, css, _ in arrows if css != "visualized-refined" or is_number(value))
    return (f'<svg class="polar" width="{size_px}" height="{size_px}" viewBox="0 0 {size_px} {size_px}" '
            f'role="img" aria-label="direction tuning"><defs>{markers}</defs>{"".join(parts)}</svg>')
