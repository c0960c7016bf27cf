"""A whole layer in a real browser: the layer page of 48 kernels (the arrays of every stage at the demo's clip size)
loads in headless Chromium in under 2 s, every picture and animation it references loads, sorting and the audit
filter act on all 48 cards, and the population row sits above them.

Opt-in like the other browser test (``KERNELVIS_TEST_BROWSER=1``; skipped when chromium is absent). Needs no workflow
run: the results tree is planted (tests/test_atlas_population.py), the site is built in ~30 s on 2 cores.
"""

from __future__ import annotations

import json
import re

import pytest

from kernelvis.atlas import build_atlas
from chromium_helper import BROWSER_MARKS, chromium
from test_atlas_population import whole_layer_results

KERNELS = 48
LOAD_BUDGET_MS = 2000

pytestmark = BROWSER_MARKS


def hidden_json(dom: str, element_id: str) -> dict:
    match = re.search(rf'<pre id="{element_id}"[^>]*>(.*?)</pre>', dom, re.S)
    assert match, f"the page never wrote its {element_id} record"
    return json.loads(match.group(1).replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">"))


@pytest.fixture(scope="module")
def layer_page(tmp_path_factory):
    root = tmp_path_factory.mktemp("whole_layer")
    results = whole_layer_results(root, kernels=KERNELS)
    build_atlas(results, root / "site", jobs=2, log=lambda *_: None)
    return root / "site" / "demo" / "conv2" / "index.html"


def test_a_layer_page_of_48_kernels_loads_in_under_two_seconds(layer_page, tmp_path):
    url = layer_page.resolve().as_uri() + "?timing"
    timings = [hidden_json(chromium(tmp_path, "--dump-dom", url).stdout, "timing") for _ in range(3)]
    assert all(timing["cards"] == KERNELS for timing in timings)
    fastest = min(timing["load_ms"] for timing in timings)  # the best of three: other jobs share the machine
    assert fastest < LOAD_BUDGET_MS, f"the layer page of {KERNELS} kernels took {fastest} ms to load: {timings}"


def test_every_reference_of_a_whole_layer_loads_and_sorting_and_filtering_cover_every_card(layer_page, tmp_path):
    def self_check(fragment: str = "") -> dict:
        url = layer_page.resolve().as_uri() + "?selfcheck" + (f"#{fragment}" if fragment else "")
        return hidden_json(chromium(tmp_path, "--virtual-time-budget=30000", "--dump-dom", url).stdout, "selfcheck")

    report = self_check()
    assert report["done"] and report["broken"] == [] and report["errors"] == []
    assert report["videos"] >= KERNELS  # every card's animation (loaded lazily on the page) was checked
    assert report["visible"] == list(range(KERNELS))
    directions = {k: (30.0 * k) % 360 for k in range(KERNELS)}
    expected = sorted(directions, key=lambda k: (-directions[k], k))
    assert self_check("sort=direction_deg&order=desc")["visible"] == expected
    assert self_check("audit=fail")["visible"] == [k for k in range(KERNELS) if k % 8 == 7]


def test_the_layer_row_precedes_the_cards_and_cards_start_as_lazy_posters(layer_page, tmp_path):
    dom = chromium(tmp_path, "--dump-dom", layer_page.resolve().as_uri()).stdout
    assert dom.index('class="population"') < dom.index('id="cards"')
    html = layer_page.read_text(encoding="utf-8")
    assert html.count("<video") == 0  # no media player per card until it is scrolled to
    assert len(re.findall(r'<img class="anim"[^>]*loading="lazy"[^>]*data-mp4=', html)) == KERNELS
