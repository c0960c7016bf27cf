"""The atlas's per-layer population table: one row per layer (the numbers of ``layers.csv``, computed by
:func:`kernelvis.analysis.population.layer_table` from the kernels the atlas shows), with a small rose of the
visualized directions beside the preferred ones and a bar of the motion / appearance / residual shares.

Everything is inline HTML and SVG written once per page: no script, no picture files, a few hundred bytes per layer.
"""

from __future__ import annotations

import math
from html import escape

from kernelvis.analysis.population import (SHARE_KEYS, STATUSES, TEXTURE_COLUMNS, direction_histogram,
                                           layer_directions, layer_table)
from kernelvis.analysis.verdict import inhibited_suffix
from kernelvis.atlas.collect import Model
from kernelvis.atlas.svg import direction_colour

SECTORS = 12
SHARE_COLOURS = {"motion_share": "#1f77b4", "appearance_share": "#ff7f0e", "residual_share": "#b3b3b3"}
"""As the figures' (``kernelvis.render.figures.SHARES``)."""


def model_rows(model: Model) -> list[dict]:
    """The summary of every kernel the atlas shows of ``model``, layers in depth order."""
    return [{**kernel.summary, "model": model.name, "layer": layer, "kernel": kernel.kernel}
            for layer, kernels in model.layers.items() for kernel in kernels]


def population(model: Model) -> tuple[list[dict], dict[str, dict]]:
    """(per-layer rows as dicts, per-layer directions) of the kernels the atlas shows of ``model``."""
    rows = model_rows(model)
    return layer_table(rows).to_dict("records"), layer_directions(rows)


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def rose(directions: dict, size_px: int = 64) -> str:
    """Visualized directions per 30° sector as wedges coloured by direction (the motion wheel's hue), the preferred
    directions of the direction-selective kernels as a dark outline (dashed: texture-conditioned); counts scaled
    to the layer's largest sector."""
    centre = size_px / 2
    radius = centre - 2
    visualized = direction_histogram(directions.get("visualized", ()), SECTORS)[0]
    outlines = [(direction_histogram(directions[key], SECTORS)[0], css) for key, css in
                (("preferred", "preferred"), ("texture_preferred", "texture")) if len(directions.get(key, ()))]
    peak = max([int(visualized.max())] + [int(counts.max()) for counts, _ in outlines] + [1])
    width = 360.0 / SECTORS

    def point(angle_deg: float, r: float) -> str:
        angle = math.radians(angle_deg)
        return f"{centre + r * math.cos(angle):.1f},{centre - r * math.sin(angle):.1f}"

    parts = [f'<circle cx="{centre}" cy="{centre}" r="{radius:.1f}" class="ring"/>']
    for index, count in enumerate(visualized):
        if count:
            r = radius * math.sqrt(count / peak)  # area ∝ count
            middle = index * width
            parts.append(f'<path d="M{centre},{centre}L{point(middle - width / 2, r)}'
                         f'A{r:.1f},{r:.1f} 0 0 0 {point(middle + width / 2, r)}Z" fill="{direction_colour(middle)}"/>')
    for counts, css in outlines:
        corners = []
        for index, count in enumerate(counts):
            r = radius * math.sqrt(count / peak)
            corners += [point(index * width - width / 2, r), point(index * width + width / 2, r)]
        parts.append(f'<polygon points="{" ".join(corners)}" class="{css}"/>')
    total = len(directions.get("visualized", ()))
    title = (f"{total} visualized directions per 30° sector (colour = direction); outline: "
             f"{len(directions.get('preferred', ()))} preferred directions of direction-selective kernels")
    return (f'<svg class="rose" width="{size_px}" height="{size_px}" viewBox="0 0 {size_px} {size_px}" role="img" '
            f'aria-label="{escape(title)}"><title>{escape(title)}</title>{"".join(parts)}</svg>')


def share_bar(row: dict) -> str:
    values = [row.get(f"{key}_mean") for key in SHARE_KEYS]
    if not all(_finite(value) for value in values):
        return "—"
    segments = "".join(f'<span style="width:{100 * max(0.0, value):.1f}%;background:{SHARE_COLOURS[key]}"></span>'
                       for key, value in zip(SHARE_KEYS, values))
    numbers = " / ".join(f"{value:.2f}" for value in values)
    return f'<span class="sharebar" title="motion / appearance / residual {numbers}">{segments}</span>{numbers}'


def _count(count, total, empty: str = "—") -> str:
    if not total:
        return empty
    return f"{int(count)}/{int(total)} <small>({100 * count / total:.0f}%)</small>"


def _statuses(row: dict) -> str:
    parts = [f'{int(row[name])} {name}' for name in STATUSES if row.get(name)]
    parts += [f"{int(value)} {escape(key.removeprefix('status_'))}" for key, value in row.items()
              if key.startswith("status_") and value]
    return ", ".join(parts) or "—"


def _speed(row: dict) -> str:
    if not _finite(row.get("speed_median")):
        return "—"
    return f'{row["speed_median"]:.2f} <small>[{row["speed_q1"]:.2f}–{row["speed_q3"]:.2f}]</small>'


def layer_rows_table(rows: list[dict], directions: dict[str, dict], layer_link=None, current: str | None = None,
                     caption: str = "") -> str:
    """The per-layer table; ``layer_link(layer)`` gives each layer name's link (None: plain text); the ``current``
    layer's row is marked."""
    texture = any(all(column in row for column in TEXTURE_COLUMNS) for row in rows)
    header = ["layer", "directions", "kernels", "status", "audit pass", "speed px/frame<br><small>median [IQR]</small>",
              "shares<br><small>motion / appearance / residual</small>", "tuning agreement<br><small>DSI &gt; 0.3, "
              "within 30°</small>"]
    if texture:
        header.append("texture-tuning agreement")
    body = []
    for row in rows:
        layer = str(row["layer"])
        name = (f'<a href="{layer_link(layer)}">{escape(layer)}</a>' if layer_link else escape(layer))
        cells = [f"<th>{name}</th>", f'<td class="rose">{rose(directions.get(layer, {}))}</td>',
                 f'<td class="num">{int(row["kernels"])}</td>', f"<td>{_statuses(row)}</td>",
                 f'<td class="num">{_count(row["audit_passing"], row["audited"], "not audited")}</td>',
                 f'<td class="num">{_speed(row)}</td>', f'<td class="shares">{share_bar(row)}</td>',
                 f'<td class="num">{_count(row["agreeing"], row["direction_selective"], "no DSI &gt; 0.3")}</td>']
        if texture:
            suffix = inhibited_suffix(row.get("texture_inhibited"))  # no verdict: no motion excites the texture
            extra = (f' <span title="texture DSI &gt; 0.3, but no motion of it excites the kernel: no verdict">'
                     f'{suffix.strip()}</span>' if suffix else "")
            cells.append(f'<td class="num">{_count(row.get("texture_agreeing", 0), row.get("texture_selective", 0), "—")}'
                         f"{extra}</td>")
        css = ' class="current"' if layer == current else ""
        body.append(f'<tr{css} data-layer="{escape(layer)}">{"".join(cells)}</tr>')
    head = "".join(f"<th>{label}</th>" for label in header)
    caption_html = f"<caption>{caption}</caption>" if caption else ""
    return (f'<table class="population">{caption_html}<thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table>')


CAPTION = ("Per layer: visualized directions (wedges, one count per kernel, colour = direction; dead and diverged "
           "kernels left out) and the tuning's preferred directions of direction-selective kernels (outline); the "
           "optimality-audit pass share; the visualized speed; the mean split of the optimal input's change over time; "
           "how many direction-selective kernels' visualized motion lies within 30° of their preferred direction.")
