"""Assemble the atlas folder: collect the results, render every kernel's media (in parallel), write pages.

The whole site is written into a staging folder beside ``out`` and moved into place at the end, so a
killed build never leaves a half-written atlas that looks complete.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from concurrent.futures import ProcessPoolExecutor
from importlib import resources
from pathlib import Path

from kernelvis.atlas.collect import Kernel, Model, collect
from kernelvis.atlas.kernel_media import build_kernel_media
from kernelvis.atlas.media import write_picture
from kernelvis.atlas.pages import (faithfulness_rows, index_page, kernel_page, layer_page)
from kernelvis.atlas.population import population
from kernelvis.io import atomic_path

ASSETS = ("atlas.css", "atlas.js")
MODEL_FIGURES = (("depth_grid.png", "depth grid"), ("motion_vs_depth.png", "motion vs depth"),
                 ("population.png", "population per layer"), ("reliance.png", "reliance"),
                 ("faithfulness.png", "faithfulness"))


@contextlib.contextmanager
def _staged_site(out: Path):
    """Yield an empty folder beside ``out``; on success it replaces ``out`` whole, on error it is removed."""
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.staging.", dir=out.parent))
    try:
        yield staging
        if out.exists():
            shutil.rmtree(out)
        os.replace(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _write_text(path: Path, text: str) -> None:
    with atomic_path(path) as temporary:
        temporary.write_text(text, encoding="utf-8")


def _media_job(kernel: Kernel, out_dir: Path) -> dict:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    return build_kernel_media(kernel, out_dir)


def _write_assets(site: Path) -> None:
    from kernelvis.render.motion import color_wheel

    assets = site / "assets"
    assets.mkdir(parents=True, exist_ok=True)
    package = resources.files("kernelvis.atlas") / "static"
    for name in ASSETS:
        _write_text(assets / name, (package / name).read_text(encoding="utf-8"))
    write_picture(assets / "wheel.png", color_wheel(64), 64, enlarge=False)


def _copy_model_figures(model: Model, site: Path) -> list[tuple[str, str]]:
    from kernelvis.atlas.media import copy_png_resized

    copied = []
    for name, label in MODEL_FIGURES:
        source = model.directory / "figures" / name
        if source.is_file():
            copy_png_resized(source, site / model.name / "figures" / name, 1600)
            copied.append((name, label))
    return copied


def _make_readable(site: Path) -> None:
    """Atomic writes create owner-only files; a static host serves them as another user."""
    for path in site.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)


def build_atlas(results: str | os.PathLike, out: str | os.PathLike, summaries: list | None = None,
                jobs: int = 1, log=print) -> dict:
    """Build the atlas of ``results`` into ``out`` (replacing what was there). ``summaries``: the kernel
    ``summary.json`` files to include (default: all found). Returns counts {models, layers, kernels, pages, bytes}."""
    models = collect(results, summaries)
    out = Path(out)
    with _staged_site(out) as site:
        _write_assets(site)
        figures = {model.name: _copy_model_figures(model, site) for model in models}
        kernels = [k for model in models for ks in model.layers.values() for k in ks]
        folders = [site / k.model / k.layer / k.slug for k in kernels]
        if jobs > 1 and len(kernels) > 1:
            with ProcessPoolExecutor(max_workers=jobs) as pool:
                manifests = list(pool.map(_media_job, kernels, folders))
        else:
            manifests = [build_kernel_media(k, folder) for k, folder in zip(kernels, folders)]
        by_kernel = {(k.model, k.layer, k.kernel): m for k, m in zip(kernels, manifests)}
        pages = 1
        populations = {model.name: population(model) for model in models}
        _write_text(site / "index.html", index_page(models, figures, populations))
        for model in models:
            faithfulness = faithfulness_rows(model.directory / "faithfulness.csv")
            for layer, layer_kernels in model.layers.items():
                manifests_of_layer = {k.kernel: by_kernel[(k.model, k.layer, k.kernel)] for k in layer_kernels}
                _write_text(site / model.name / layer / "index.html",
                            layer_page(model, layer, manifests_of_layer, populations[model.name]))
                pages += 1
                for position, kernel in enumerate(layer_kernels):
                    neighbours = (layer_kernels[position - 1] if position > 0 else None,
                                  layer_kernels[position + 1] if position + 1 < len(layer_kernels) else None)
                    html = kernel_page(kernel, manifests_of_layer[kernel.kernel], neighbours,
                                       faithfulness.get((layer, kernel.kernel)))
                    _write_text(site / model.name / layer / kernel.slug / "index.html", html)
                    pages += 1
        _make_readable(site)
        size = sum(path.stat().st_size for path in site.rglob("*") if path.is_file())
    counts = {"models": len(models), "layers": sum(len(m.layers) for m in models), "kernels": len(kernels),
              "pages": pages, "bytes": size}
    log(f"atlas: {counts['models']} models, {counts['layers']} layers, {counts['kernels']} kernels, "
        f"{pages} pages, {size / 1e6:.1f} MB -> {out / 'index.html'}")
    return counts
