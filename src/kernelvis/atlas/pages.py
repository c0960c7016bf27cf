"""HTML of the atlas: the index of models, a page per layer (cards), a page per kernel.

Plain HTML with relative links only, so the folder works from ``file://`` and from any static host.
Layer pages carry their kernels' numbers in a JSON ``<script>`` block that ``atlas.js`` sorts and
filters on (no fetch, which ``file://`` forbids).
"""

from __future__ import annotations

import json
import math
from html import escape
from urllib.parse import quote

from kernelvis.atlas.collect import Kernel, Model
from kernelvis.atlas.fields import (GROUPS, KNOWN, MEANINGS, MISSING, SORT_KEYS, card_data, format_value,
                                    is_number)
from kernelvis.atlas.population import CAPTION as POPULATION_CAPTION
from kernelvis.atlas.population import layer_rows_table, population
from kernelvis.atlas.svg import (TEXTURE_CURVE_NAMES, arrows_overlay, compass, drawable_texture_curves,
                                 polar_tuning)

HIDDEN_KEYS = {"model", "layer", "kernel", "provenance"}


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def href(*parts: str) -> str:
    return "/".join(quote(str(part)) for part in parts)


def layer_href(model: str, layer: str) -> str:
    return href(model, layer, "index.html")


def kernel_href(kernel: Kernel) -> str:
    return href(kernel.model, kernel.layer, kernel.slug, "index.html")


def page(title: str, body: str, depth: int, body_class: str = "") -> str:
    root = "../" * depth
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)} · kernelvis atlas</title>"
            f'<link rel="stylesheet" href="{root}assets/atlas.css">'
            f'<script src="{root}assets/atlas.js"></script></head>'
            f'<body class="{body_class}"><div class="wrap">{body}'
            f'<footer>kernelvis atlas · made from <code>results/</code> by <code>kernelvis atlas</code></footer>'
            f"</div></body></html>\n")


def breadcrumb(depth: int, *items: tuple[str, str | None]) -> str:
    root = "../" * depth
    links = [f'<a href="{root}index.html">atlas</a>']
    for label, link in items:
        links.append(f'<a href="{link}">{escape(label)}</a>' if link else f"<span>{escape(label)}</span>")
    return f'<nav class="crumbs">{" › ".join(links)}</nav>'


def video(prefix: str, media: dict, css_class: str, alt: str, autoplay: bool) -> str:
    """A looping muted video with poster and a GIF inside for browsers without <video>; atlas.js swaps
    in the GIF when the MP4 fails to play."""
    play = "autoplay " if autoplay else ""
    return (f'<video class="{css_class}" {play}muted loop playsinline preload="{"metadata" if autoplay else "none"}" '
            f'poster="{prefix}{media["png"]}" data-gif="{prefix}{media["gif"]}" aria-label="{escape(alt)}">'
            f'<source src="{prefix}{media["mp4"]}" type="video/mp4">'
            f'<img src="{prefix}{media["gif"]}" alt="{escape(alt)}"></video>')


def still_video(prefix: str, media: dict, css_class: str, alt: str) -> str:
    """A card's animation as its poster only (a lazy ``<img>`` that costs nothing until scrolled to): atlas.js turns
    it into a looping ``<video>`` (MP4, GIF fallback) when it comes into view, so a layer page of hundreds of cards
    creates no media player and loads no picture off screen."""
    return (f'<img class="{css_class}" src="{prefix}{media["png"]}" alt="{escape(alt)}" loading="lazy" '
            f'decoding="async" data-mp4="{prefix}{media["mp4"]}" data-gif="{prefix}{media["gif"]}">')


def img(src: str, alt: str, css_class: str = "", lazy: bool = True) -> str:
    loading = ' loading="lazy" decoding="async"' if lazy else ""
    return f'<img class="{css_class}" src="{src}" alt="{escape(alt)}"{loading}>'


def _speed_scale(model: Model) -> float:
    speeds = [k.summary.get("speed_px_per_frame") for ks in model.layers.values() for k in ks]
    speeds = [s for s in speeds if is_number(s) and s > 0]
    return max(speeds) if speeds else 1.0


def depth_strip(model: Model, depth: int, current: str | None = None) -> str:
    """The depth story: one row per layer (input side first), a compass per kernel pointing where its
    visualized content moves, arrow length = speed relative to the model's fastest kernel."""
    root = "../" * depth
    scale = _speed_scale(model)
    rows = []
    for layer, kernels in model.layers.items():
        speeds = [k.summary.get("speed_px_per_frame") for k in kernels if is_number(k.summary.get("speed_px_per_frame"))]
        mean_speed = format_value(sum(speeds) / len(speeds), "px/frame") if speeds else MISSING
        compasses = "".join(
            f'<a href="{root}{kernel_href(k)}">'
            + compass(k.summary.get("direction_deg"),
                      (k.summary.get("speed_px_per_frame") / scale) if is_number(k.summary.get("speed_px_per_frame")) else None,
                      title=f"kernel {k.kernel}: {format_value(k.summary.get('direction_deg'), '°')}, "
                            f"{format_value(k.summary.get('speed_px_per_frame'), 'px/frame')}")
            + "</a>" for k in kernels)
        css = ' class="current"' if layer == current else ""
        rows.append(f'<tr{css}><th><a href="{root}{layer_href(model.name, layer)}">{escape(layer)}</a></th>'
                    f'<td class="num">{len(kernels)}</td><td class="num">{mean_speed}</td>'
                    f'<td class="compasses">{compasses}</td></tr>')
    return ('<table class="strip"><caption>Depth: where each kernel\'s visualized content moves '
            '(arrow = direction, length = speed; colour as on the motion wheel)</caption>'
            '<thead><tr><th>layer</th><th>kernels</th><th>mean speed</th><th>directions</th></tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table>')


# ---------------------------------------------------------------- index


def index_page(models: list[Model], model_figures: dict[str, list[tuple[str, str]]],
               populations: dict[str, tuple[list[dict], dict]] | None = None) -> str:
    """The models, each with its depth strip, per-layer population table and figures. ``populations``: per model,
    :func:`kernelvis.atlas.population.population` (computed here when not given)."""
    sections = []
    for model in models:
        rows, directions = (populations or {}).get(model.name) or population(model)
        table = layer_rows_table(rows, directions, lambda layer, m=model.name: layer_href(m, layer),
                                 caption=POPULATION_CAPTION)
        kernels = [k for ks in model.layers.values() for k in ks]
        failing = sum(1 for k in kernels if k.summary.get("audit_pass") is False)
        figures = "".join(
            f'<a href="{href(model.name, "figures", name)}" class="figure-link">'
            f'{img(href(model.name, "figures", name), label, lazy=False)}<span>{escape(label)}</span></a>'
            for name, label in model_figures.get(model.name, []))
        sections.append(
            f'<section class="model" id="model-{escape(model.name)}"><h2>{escape(model.name)}</h2>'
            f'<p class="facts">{plural(len(model.layers), "layer")} · {plural(len(kernels), "kernel")}'
            f'{f" · {failing} fail the audit" if failing else ""}</p>'
            f"{depth_strip(model, 0)}"
            f"<h3>Per layer</h3>{table}"
            f'{f"<div class=figures>{figures}</div>" if figures else ""}</section>')
    toc = "".join(f'<li><a href="#model-{escape(m.name)}">{escape(m.name)}</a></li>' for m in models)
    body = (f'<header class="top"><h1>kernelvis atlas</h1><p>What each 3D convolution kernel responds to: its optimal '
            f'input, the texture and the motion it is made of, per model and depth. Pick a layer (or a kernel '
            f'arrow) below.</p><ul class="toc">{toc}</ul></header>{"".join(sections)}')
    return page("models", body, 0, "index")


# ---------------------------------------------------------------- layer page


def _card(kernel: Kernel, manifest: dict, wheel_src: str) -> str:
    prefix = f"{kernel.slug}/"
    summary = kernel.summary
    media = []
    if "thumb_optimal" in manifest:
        media.append(f'<figure>{still_video(prefix, manifest["thumb_optimal"], "anim", "optimal input")}'
                     "<figcaption>optimal input</figcaption></figure>")
    if "thumb_static" in manifest:
        media.append(f'<figure class="overlay">{img(prefix + manifest["thumb_static"], "static texture")}'
                     f'{arrows_overlay(manifest["thumb_arrows"])}<figcaption>texture + motion</figcaption></figure>')
    if "thumb_motion" in manifest:
        media.append(f'<figure class="overlay">{img(prefix + manifest["thumb_motion"], "mean motion, HSV")}'
                     f'{img(wheel_src, "colour wheel", "wheel")}<figcaption>motion (hue = direction)</figcaption>'
                     "</figure>")
    audit = summary.get("audit_pass")
    badges = ""
    if isinstance(audit, bool):
        badges += f'<span class="badge {"pass" if audit else "fail"}">{"audit pass" if audit else "fails audit"}</span>'
    if isinstance(summary.get("status"), str) and summary["status"] != "ok":
        badges += f'<span class="badge warn">{escape(summary["status"])}</span>'
    numbers = "".join(f"<div><dt>{label}</dt><dd>{format_value(summary.get(key), unit)}</dd></div>"
                      for key, label, unit in (("direction_deg", "direction", "°"), ("speed_px_per_frame", "px/frame", ""),
                                               ("dsi", "DSI", ""), ("motion_reliance", "motion rel.", ""),
                                               ("texture_reliance", "texture rel.", "")))
    return (f'<article class="card" id="k{kernel.kernel}" data-kernel="{kernel.kernel}">'
            f'<header><a href="{prefix}index.html">kernel {kernel.kernel}</a>{badges}</header>'
            f'<div class="media">{"".join(media) or "<p class=empty>no pictures</p>"}</div>'
            f'<dl class="nums">{numbers}</dl></article>')


def _controls(kernels: list[Kernel]) -> str:
    sort = "".join(f'<option value="{key}">{label}</option>' for key, label in SORT_KEYS)
    statuses = sorted({k.summary["status"] for k in kernels if isinstance(k.summary.get("status"), str)})
    status = "".join(f'<option value="{escape(s)}">{escape(s)}</option>' for s in statuses)
    ranges = "".join(
        f'<label class="range">{label} <input type="number" step="any" data-min="{key}" placeholder="min"> – '
        f'<input type="number" step="any" data-max="{key}" placeholder="max"></label>'
        for key, label in (("direction_deg", "direction °"), ("speed_px_per_frame", "speed"), ("dsi", "DSI"),
                           ("motion_reliance", "motion rel."), ("texture_reliance", "texture rel.")))
    return (f'<form class="controls" id="controls" onsubmit="return false">'
            f'<label>sort by <select id="sort">{sort}</select></label>'
            f'<label><select id="order"><option value="asc">ascending</option>'
            f'<option value="desc">descending</option></select></label>'
            f'<label>audit <select id="audit"><option value="">all</option><option value="pass">passes audit</option>'
            f'<option value="fail">fails audit</option></select></label>'
            f'<label>status <select id="status"><option value="">all</option>{status}</select></label>'
            f'{ranges}<button type="button" id="reset">reset</button>'
            f'<output id="count" aria-live="polite"></output></form>')


def layer_page(model: Model, layer: str, manifests: dict[int, dict],
               population_of_model: tuple[list[dict], dict] | None = None) -> str:
    """A layer's cards; above them its row of the model's per-layer population table. ``population_of_model``:
    :func:`kernelvis.atlas.population.population` of the model (computed here when not given)."""
    kernels = model.layers[layer]
    rows, directions = population_of_model or population(model)
    own = layer_rows_table([row for row in rows if str(row["layer"]) == layer], directions,
                           caption=f'This layer as a population (all layers: <a href="../../index.html#model-'
                                   f'{quote(model.name)}">{escape(model.name)}</a>)')
    data = [{"id": f"k{k.kernel}", "kernel": k.kernel, **card_data(k.summary)} for k in kernels]
    cards = "".join(_card(k, manifests.get(k.kernel, {}), "../../assets/wheel.png") for k in kernels)
    layers = list(model.layers)
    position = layers.index(layer)
    neighbours = "".join(
        f'<a class="{css}" href="../{quote(layers[i])}/index.html">{arrow} {escape(layers[i])}</a>'
        for i, css, arrow in ((position - 1, "prev", "↑ shallower:"), (position + 1, "next", "↓ deeper:"))
        if 0 <= i < len(layers))
    payload = json.dumps({"kernels": data}).replace("<", "\\u003c")  # nothing in it can close the <script>
    body = (f'{breadcrumb(2, (model.name, "../../index.html#model-" + quote(model.name)), (layer, None))}'
            f'<header class="top"><h1>{escape(model.name)} · {escape(layer)}</h1>'
            f'<p class="facts">{plural(len(kernels), "kernel")} · layer {position + 1} of {len(layers)}</p>'
            f'<p class="neighbours">{neighbours}</p></header>'
            f"{own}"
            f"{depth_strip(model, 2, current=layer)}"
            f"{_controls(kernels)}"
            f'<main class="cards" id="cards">{cards}</main>'
            f'<script type="application/json" id="atlas-data">{payload}</script>')
    return page(f"{model.name} {layer}", body, 2, "layer")


# ---------------------------------------------------------------- kernel page


def _numbers_tables(summary: dict) -> str:
    tables = []
    for group, fields in GROUPS:
        rows = "".join(f'<tr><th>{escape(label)}</th><td class="num">{format_value(summary.get(key), unit)}</td>'
                       f"<td>{escape(meaning)}</td></tr>" for key, label, unit, meaning in fields)
        tables.append(f"<h3>{escape(group)}</h3><table class=\"numbers\">{rows}</table>")
    extra = {key: value for key, value in summary.items()
             if key not in KNOWN and key not in HIDDEN_KEYS and not isinstance(value, (dict, list))}
    if extra:
        tables.append(f"<h3>Everything else in summary.json</h3>{_dict_table(dict(sorted(extra.items())))}")
    nested = {key: value for key, value in summary.items() if isinstance(value, dict) and key != "provenance"}
    for key, value in sorted(nested.items()):
        tables.append(f"<h3>{escape(key)}</h3>{_dict_table(value)}")
    return "".join(tables)


def _dict_table(record: dict) -> str:
    """Key, value and, where known, what the value means."""
    rows = []
    for key, value in record.items():
        if isinstance(value, str):
            shown = escape(value)
        elif isinstance(value, (dict, list)):
            shown = f"<code>{escape(json.dumps(value, sort_keys=True)[:2000])}</code>"
        else:
            shown = format_value(value)
        meaning = escape(MEANINGS.get(str(key), ""))
        rows.append(f'<tr><th>{escape(str(key))}</th><td>{shown}</td><td class="meaning">{meaning}</td></tr>')
    return f'<table class="numbers kv">{"".join(rows)}</table>'


def _section(title: str, content: str, note: str = "") -> str:
    if not content:
        return ""
    note_html = f'<p class="note">{note}</p>' if note else ""
    return f'<section><h2>{escape(title)}</h2>{note_html}{content}</section>'


def _figure(content: str, caption: str) -> str:
    return f"<figure>{content}<figcaption>{caption}</figcaption></figure>"


def _history_svg(history: list[float]) -> str:
    values = [v for v in history if is_number(v)]
    if len(values) < 2:
        return ""
    low, high = min(values), max(values)
    span = high - low or 1.0
    width, height = 240, 80
    points = " ".join(f"{i * width / (len(values) - 1):.1f},{height - 4 - (v - low) / span * (height - 8):.1f}"
                      for i, v in enumerate(values))
    return (f'<svg class="history" width="{width}" height="{height}" viewBox="0 0 {width} {height}">'
            f'<polyline points="{points}"/></svg>')


def kernel_page(kernel: Kernel, manifest: dict, neighbours: tuple[Kernel | None, Kernel | None],
                faithfulness: dict | None) -> str:
    summary = kernel.summary
    wheel = "../../../assets/wheel.png"
    blocks = []
    if manifest.get("error"):
        blocks.append(_section("Pictures missing", f"<p>Some pictures of this kernel could not be made: "
                                                   f"<code>{escape(manifest['error'])}</code></p>"))
    optimal = []
    if "optimal" in manifest:
        optimal.append(_figure(video("", manifest["optimal"], "big", "optimal input", True),
                               f"optimal input · activation {format_value(summary.get('activation'))}"))
    if manifest.get("history"):
        optimal.append(_figure(_history_svg(manifest["history"]), "objective during optimization (per step)"))
    blocks.append(_section("Optimal input", f'<div class="row">{"".join(optimal)}</div>' if optimal else "",
                           "The clip this kernel responds to most, found by activation maximization."))
    if manifest.get("restarts"):
        restarts = "".join(_figure(img(r["png"], f"restart {i}", "small"),
                                   f"restart {i} · {format_value(r.get('activation'))}")
                           for i, r in enumerate(manifest["restarts"]))
        blocks.append(_section("Restarts", f'<div class="row">{restarts}</div>',
                               "Middle frame of every restart: similar clips mean the optimum is stable."))
    parts = []
    if "static" in manifest:
        parts.append(_figure(f'<span class="overlay big">{img(manifest["static"], "static texture", lazy=False)}'
                             f'{arrows_overlay(manifest["arrows"])}</span>', "static texture + mean motion arrows"))
    if "motion" in manifest:
        parts.append(_figure(f'<span class="overlay big">{video("", manifest["motion"], "big", "motion", True)}'
                             f'{img(wheel, "colour wheel", "wheel")}</span>',
                             "motion: hue = direction (wheel), brightness = speed"))
    if "recon" in manifest:
        parts.append(_figure(video("", manifest["recon"], "big", "reconstruction", True),
                             f"reconstruction from texture + motion · {format_value(summary.get('recon_psnr_db'), 'dB')}"))
    blocks.append(_section("Texture and motion", f'<div class="row">{"".join(parts)}</div>' if parts else "",
                           f"Direction {format_value(summary.get('direction_deg'), '°')}, speed "
                           f"{format_value(summary.get('speed_px_per_frame'), 'px/frame')}, coherence "
                           f"{format_value(summary.get('direction_strength'))}."))
    refined = []
    if "refined_static" in manifest:
        overlay = arrows_overlay(manifest["refined_arrows"]) if "refined_arrows" in manifest else ""
        refined.append(_figure(f'<span class="overlay big">{img(manifest["refined_static"], "refined texture", lazy=False)}'
                               f"{overlay}</span>", "texture optimized against the kernel"))
    if "refined_motion" in manifest:
        refined.append(_figure(f'<span class="overlay big">{video("", manifest["refined_motion"], "big", "refined motion", True)}'
                               f'{img(wheel, "colour wheel", "wheel")}</span>', "motion optimized against the kernel"))
    blocks.append(_section("Refined texture and motion", f'<div class="row">{"".join(refined)}</div>' if refined else "",
                           f"Motion reliance {format_value(summary.get('motion_reliance'))}, texture reliance "
                           f"{format_value(summary.get('texture_reliance'))}."))
    texture_curves = drawable_texture_curves(manifest.get("texture_tuning", {}).get("curves"))
    if "tuning_curve" in manifest or texture_curves:
        curve = manifest.get("tuning_curve", {"directions_deg": [], "responses": []})
        preferred = summary.get("preferred_direction_deg", manifest.get("tuning", {}).get("preferred_direction_deg"))
        refined = any(c["label"] == "refined" for c in texture_curves)
        polar = polar_tuning(curve["directions_deg"], curve["responses"], preferred, summary.get("direction_deg"),
                             texture_curves=texture_curves,
                             refined_direction_deg=summary.get("refined_direction_deg") if refined else None)
        keys = []
        if "tuning_curve" in manifest or is_number(preferred):
            keys.append('<span class="key preferred"></span> preferred direction (gratings)')
        keys.append('<span class="key visualized"></span> direction of the visualized motion')
        keys.extend(f'<span class="key texture-{c["label"]}"></span> {TEXTURE_CURVE_NAMES[c["label"]]} moved in '
                    f'every direction' for c in texture_curves)
        if refined and is_number(summary.get("refined_direction_deg")):
            keys.append('<span class="key visualized-refined"></span> direction of the refined motion')
        legend = f'<p class="legend">{" ".join(keys)}</p>'
        captions = []
        if "tuning_curve" in manifest:
            captions.append(f"response to drifting gratings (best frequencies), DSI {format_value(summary.get('dsi'))}")
        if texture_curves:
            captions.append("the kernel's own texture moved at the visualized speed (outlines, each scaled to its "
                            "peak): " + ", ".join(f"{TEXTURE_CURVE_NAMES[c['label']]} DSI {format_value(c.get('dsi'))}"
                                                  for c in texture_curves))
        blocks.append(_section("Direction tuning", _figure(polar, "; ".join(captions)) + legend))
    natural = "".join(_figure(f'<a href="{manifest[role]}">{img(manifest[role], caption, "wide")}</a>', caption)
                      for role, caption in (("dataset_examples", "top-9 natural clips and their DeconvNet projections"),
                                            ("deconv", "DeconvNet projections"),
                                            ("comparison", "optimal input beside the natural clips"))
                      if role in manifest)
    blocks.append(_section("Natural clips and DeconvNet", natural))
    suppression = ""
    if "suppression" in manifest:
        suppression += _figure(video("", manifest["suppression"], "big", "suppression", True),
                               "clip (left) and the clip with this kernel suppressed (right)")
    if "suppression_metrics" in manifest:
        metrics = {k: v for k, v in manifest["suppression_metrics"].items() if not isinstance(v, (dict, list))}
        suppression += _dict_table(metrics)
    blocks.append(_section("Suppression", suppression,
                           "What is left of a clip when this kernel's evidence is removed and other kernels are kept."))
    if faithfulness:
        blocks.append(_section("Faithfulness", _dict_table(faithfulness),
                               "Does the visualized motion agree with the direction the kernel is tuned to?"))
    blocks.append(_section("Numbers", _numbers_tables(summary)))
    records = dict(kernel.provenance)
    # Settings recorded beside the results (not provenance proper, but how these numbers were made).
    if isinstance(manifest.get("tuning", {}).get("sweep"), dict):
        records["tuning.json: grating sweep"] = manifest["tuning"]["sweep"]
    if isinstance(manifest.get("texture_tuning", {}).get("settings"), dict):
        records["texture_tuning.json: settings"] = manifest["texture_tuning"]["settings"]
    if isinstance(manifest.get("suppression_metrics", {}).get("config"), dict):
        records["suppression.json: settings"] = manifest["suppression_metrics"]["config"]
    provenance = "".join(f"<h3>{escape(source)}</h3>{_dict_table(record)}" for source, record in records.items())
    files = "".join(f'<li><a href="{manifest[role]}">{escape(manifest[role])}</a></li>'
                    for role in ("summary_json",) if role in manifest)
    provenance += (f'<p>Source: <code>{escape(str(kernel.directory))}</code></p>'
                   f'{f"<ul>{files}</ul>" if files else ""}')
    blocks.append(_section("How it was made", provenance))
    previous, following = neighbours
    nav = "".join(f'<a class="{css}" href="../{k.slug}/index.html">{label} kernel {k.kernel}</a>'
                  for k, css, label in ((previous, "prev", "←"), (following, "next", "→")) if k is not None)
    badge = ""
    if isinstance(summary.get("audit_pass"), bool):
        badge = (f'<span class="badge {"pass" if summary["audit_pass"] else "fail"}">'
                 f'{"audit pass" if summary["audit_pass"] else "fails audit"}</span>')
    body = (f'{breadcrumb(3, (kernel.model, "../../../index.html#model-" + quote(kernel.model)), (kernel.layer, "../index.html"), (f"kernel {kernel.kernel}", None))}'
            f'<header class="top"><h1>{escape(kernel.model)} · {escape(kernel.layer)} · kernel {kernel.kernel} {badge}</h1>'
            f'<p class="neighbours">{nav}</p></header>{"".join(blocks)}')
    return page(f"{kernel.model} {kernel.layer} kernel {kernel.kernel}", body, 3, "kernel")


def faithfulness_rows(path) -> dict[tuple[str, int], dict]:
    """Rows of a model's faithfulness.csv by (layer, kernel); empty when the file is absent or unreadable."""
    import csv
    from pathlib import Path

    path = Path(path)
    if not path.is_file():
        return {}
    rows = {}
    with open(path, newline="") as handle:
        for row in csv.DictReader(handle):
            try:
                key = (row.get("layer", ""), int(float(row.get("kernel", ""))))
            except ValueError:
                continue
            rows[key] = {k: _number_or_text(v) for k, v in row.items() if k not in ("model", "layer", "kernel")}
    return rows


def _number_or_text(text: str):
    try:
        value = float(text)
    except (TypeError, ValueError):
        return text if text else None
    return value if math.isfinite(value) else None
