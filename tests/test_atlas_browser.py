"""The atlas in a real browser: Debian's ``chromium`` in headless mode.

Opt-in (it needs the tiny workflow's results, a few minutes, shared with tests/test_workflow.py through the
session's tiny_workflow_run in tests/conftest.py): ``KERNELVIS_TEST_BROWSER=1``; skipped with one line when
chromium is absent. ``KERNELVIS_ATLAS_RESULTS=path/to/results`` reuses a finished ``.test`` run instead of
running the workflow. Every page is loaded with ``?selfcheck``: the page's own script then loads every picture
and video it references and writes what failed, the errors it saw and the order of the visible cards into a
hidden ``<pre id="selfcheck">``, which ``--dump-dom`` returns.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from chromium_helper import BROWSER_MARKS, chromium

BIN = Path(sys.executable).parent

pytestmark = BROWSER_MARKS


def self_check(tmp_path: Path, page: Path, fragment: str = "") -> dict:
    url = page.resolve().as_uri() + "?selfcheck" + (f"#{fragment}" if fragment else "")
    result = chromium(tmp_path, "--virtual-time-budget=20000", "--dump-dom", url)
    match = re.search(r'<pre id="selfcheck"[^>]*>(.*?)</pre>', result.stdout, re.S)
    assert match, f"{page}: the page's self-check never finished\n{result.stderr[-2000:]}"
    return json.loads(match.group(1).replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">"))


@pytest.fixture(scope="module")
def atlas(request, tmp_path_factory):
    """The atlas of the .test run, rebuilt after planting audit results: energy kernel 2 fails, the rest pass.
    Planted in a copy: the shared run (tiny_workflow_run) is read by other tests at the same time."""
    given = os.environ.get("KERNELVIS_ATLAS_RESULTS")
    root = tmp_path_factory.mktemp("atlas_browser")
    if not given:  # requested here, not as an argument: KERNELVIS_ATLAS_RESULTS must not cost a workflow run
        given = request.getfixturevalue("tiny_workflow_run") / "results"
        assert (given / "atlas" / "index.html").is_file(), "the workflow did not build the atlas"
    results = root / "results"
    shutil.copytree(given, results, ignore=shutil.ignore_patterns("atlas"))
    summaries = sorted(results.glob("*/*/kernel_*/summary.json"))
    for path in summaries:
        summary = json.loads(path.read_text())
        summary["audit_pass"] = not (summary.get("layer") == "energy" and summary.get("kernel") == 2)
        path.write_text(json.dumps(summary))
    site = root / "site"
    built = subprocess.run([str(BIN / "kernelvis"), "atlas", "--results", str(results), "--out", str(site)],
                           capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr
    return site, results, summaries


def test_every_page_loads_with_every_reference_and_no_errors(atlas, tmp_path):
    site, results, summaries = atlas
    pages = sorted(site.rglob("index.html"))
    assert len(pages) == 1 + len({p.parent.parent for p in summaries}) + len(summaries)
    for page in pages:
        report = self_check(tmp_path, page)
        assert report["done"]
        assert report["broken"] == [], f"{page.relative_to(site)}: broken {report['broken']}"
        assert report["errors"] == [], f"{page.relative_to(site)}: errors {report['errors']}"
        assert report["images"] > 0, page
        if page.parent.name.startswith("kernel_"):
            source = results / page.relative_to(site).parent
            expected = (source / "optimal.npz").is_file() + 2 * (source / "decomposition.npz").is_file()
            assert report["videos"] >= expected, f"{page}: optimal input, motion and reconstruction should animate"


def finite(value):
    """The value if it is a finite number, else None (a dead kernel's direction may be NaN or absent)."""
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) else None


def layer_pages(site: Path) -> list[Path]:
    return sorted(page for page in site.glob("*/*/index.html"))


def test_sorting_by_direction_orders_cards_by_direction_deg(atlas, tmp_path):
    site, results, _ = atlas
    checked = 0
    for page in layer_pages(site):
        kernel_dirs = sorted((results / page.parent.parent.name / page.parent.name).glob("kernel_*"))
        directions = {int(d.name.split("_")[1]): finite(json.loads((d / "summary.json").read_text()).get("direction_deg"))
                      for d in kernel_dirs}
        expected = sorted(directions, key=lambda k: (directions[k] is None, directions[k] or 0.0, k))
        assert self_check(tmp_path, page, "sort=direction_deg&order=asc")["visible"] == expected
        descending = sorted(directions, key=lambda k: (directions[k] is None, -(directions[k] or 0.0), k))
        assert self_check(tmp_path, page, "sort=direction_deg&order=desc")["visible"] == descending
        checked += len(set(directions.values())) > 1
    assert checked >= 1, "no layer with kernels of different directions: the sort was never really tested"


def test_fails_audit_filter_shows_exactly_the_failing_kernels(atlas, tmp_path):
    site, results, _ = atlas
    for page in layer_pages(site):
        kernel_dirs = sorted((results / page.parent.parent.name / page.parent.name).glob("kernel_*"))
        audit = {int(d.name.split("_")[1]): json.loads((d / "summary.json").read_text())["audit_pass"]
                 for d in kernel_dirs}
        failing = sorted(k for k, passed in audit.items() if passed is False)
        assert self_check(tmp_path, page, "audit=fail")["visible"] == failing
        assert self_check(tmp_path, page, "audit=pass")["visible"] == sorted(set(audit) - set(failing))
    energy = site / "planted" / "energy" / "index.html"
    assert self_check(tmp_path, energy, "audit=fail")["visible"] == [2]


def test_screenshots_of_index_layer_and_kernel_pages_are_not_blank(atlas, tmp_path):
    from PIL import Image

    site, _, _ = atlas
    pages = {"index": site / "index.html", "layer": site / "planted" / "energy" / "index.html",
             "kernel": site / "planted" / "energy" / "kernel_0002" / "index.html"}
    for name, page in pages.items():
        shot = tmp_path / f"{name}.png"
        chromium(tmp_path, "--window-size=1280,1600", "--virtual-time-budget=5000", f"--screenshot={shot}",
                 page.resolve().as_uri())
        assert shot.is_file(), f"no screenshot of the {name} page"
        pixels = np.asarray(Image.open(shot).convert("L"), dtype=np.float32)
        assert pixels.shape == (1600, 1280)
        # A blank or failed rendering is one flat colour; a page shows text, pictures and figures on it.
        background = np.bincount(pixels.astype(np.uint8).ravel()).argmax()
        ink = (np.abs(pixels - background) > 40).mean()
        assert pixels.std() > 5 and ink > 0.01, f"{name} page looks blank (std {pixels.std():.1f}, ink {ink:.1%})"
        keep = os.environ.get("KERNELVIS_ATLAS_SCREENSHOTS")
        if keep:
            Path(keep).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(shot, Path(keep) / shot.name)


def test_a_video_that_cannot_play_falls_back_to_its_gif(atlas, tmp_path):
    site, _, _ = atlas
    copy = tmp_path / "site"
    shutil.copytree(site, copy)
    kernel_page = copy / "planted" / "energy" / "kernel_0002" / "index.html"
    (kernel_page.parent / "motion.mp4").unlink()
    dom = chromium(tmp_path, "--virtual-time-budget=5000", "--dump-dom", kernel_page.resolve().as_uri()).stdout
    assert re.search(r'<img[^>]*src="motion\.gif"', dom), "the motion GIF did not replace the broken video"
    assert 'data-gif="motion.gif"' not in dom
    assert 'data-gif="optimal.gif"' in dom  # the playable videos stay videos
