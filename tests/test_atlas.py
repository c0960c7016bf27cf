"""The atlas site builder, without a browser: a small fake results tree (two models, moving textures with
known directions) is turned into a site whose pages, links and data are checked against what was planted."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import numpy as np
import pytest

from kernelvis.atlas import build_atlas
from kernelvis.atlas.kernel_media import arrow_field
from kernelvis.atlas.svg import polar_tuning
from kernelvis.io import read_video, save_json, save_npz

FRAMES, SIZE = 6, 16
# model -> layer -> {kernel: (direction_deg, speed_px_per_frame, audit_pass)}; layers in depth order.
PLANTED = {
    "toy": {"conv_b": {3: (90.0, 2.0, True), 1: (0.0, 1.0, False)},   # deeper layer listed first on disk order
            "conv_a": {0: (180.0, 0.5, True), 2: (270.0, 1.5, None)}},
    "other": {"block.0.conv": {5: (45.0, 1.0, True)}},
}
DEPTH_ORDER = {"toy": ["conv_a", "conv_b"], "other": ["block.0.conv"]}


def moving_texture(direction_deg: float, speed: float) -> tuple[np.ndarray, np.ndarray]:
    """A random texture translated by `speed` px/frame towards `direction_deg` (y down on screen)."""
    rng = np.random.default_rng(int(direction_deg))
    texture = rng.random((SIZE, SIZE, 3)).astype(np.float32)
    vx, vy = speed * np.cos(np.radians(direction_deg)), -speed * np.sin(np.radians(direction_deg))
    video = np.stack([np.roll(texture, (int(round(vy * t)), int(round(vx * t))), axis=(0, 1)) for t in range(FRAMES)])
    velocity = np.zeros((FRAMES, SIZE, SIZE, 2), np.float32)
    velocity[1:] = (vx, vy)
    return video, velocity


def make_results(root: Path) -> Path:
    results = root / "results"
    for model, layers in PLANTED.items():
        rows = []
        for layer in DEPTH_ORDER[model]:
            for kernel, (direction, speed, audit) in layers[layer].items():
                kdir = results / model / layer / f"kernel_{kernel:04d}"
                video, velocity = moving_texture(direction, speed)
                provenance = json.dumps({"kernelvis_version": "0.1.0", "seed": 7, "command": "kernelvis optimize"})
                save_npz(kdir / "optimal.npz", video=video, activation=np.float32(3.0 + kernel),
                         history=np.linspace(0, 3, 10).astype(np.float32), candidates=np.stack([video, video[::-1]]),
                         candidate_activations=np.array([3.0, 2.5], np.float32), provenance=np.str_(provenance))
                save_npz(kdir / "decomposition.npz", static=video[0], velocity=velocity, recon=video,
                         displacement=np.cumsum(velocity, axis=0))
                summary = {"model": model, "layer": layer, "kernel": kernel, "activation": 3.0 + kernel,
                           "direction_deg": direction, "speed_px_per_frame": speed, "dsi": 0.1 * kernel,
                           "recon_psnr_db": 30.0, "status": "ok", "custom_metric": 1.25}
                if audit is not None:
                    summary["audit_pass"] = audit
                save_json(kdir / "summary.json", summary)
                with open(kdir / "tuning.csv", "w", newline="") as handle:
                    writer = csv.writer(handle)
                    writer.writerow(["direction_deg", "spatial_freq", "temporal_freq", "speed_px_per_frame",
                                     "stimulus", "response"])
                    for angle in range(0, 360, 45):
                        writer.writerow([angle, 0.1, 0.1, 1.0, "grating", 1.0 + np.cos(np.radians(angle - direction))])
                rows.append({"layer": layer, "kernel": kernel})
        with open(results / model / "summary.csv", "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=["layer", "kernel"])
            writer.writeheader()
            writer.writerows(rows)
    # A kernel the pipeline knows almost nothing about: only its summary (every other stage switched off).
    bare = results / "other" / "block.0.conv" / "kernel_0009"
    save_json(bare / "summary.json", {"model": "other", "layer": "block.0.conv", "kernel": 9})
    return results


class Links(HTMLParser):
    """Every href/src/poster/data-gif/data-mp4 of a page, and the <a href> links separately."""

    def __init__(self):
        super().__init__()
        self.references, self.anchors = [], []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("href", "src", "poster", "data-gif", "data-mp4") and value:
                self.references.append(value)
                if tag == "a" and name == "href":
                    self.anchors.append(value)


def parse(page: Path) -> Links:
    links = Links()
    links.feed(page.read_text(encoding="utf-8"))
    return links


def target(page: Path, reference: str) -> Path:
    return (page.parent / unquote(urlsplit(reference).path)).resolve()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("atlas")
    results = make_results(root)
    counts = build_atlas(results, results / "atlas", log=lambda *_: None)
    return results / "atlas", counts


def all_kernels():
    kernels = [(model, layer, kernel) for model, layers in PLANTED.items() for layer, ks in layers.items() for kernel in ks]
    return kernels + [("other", "block.0.conv", 9)]


def test_every_kernel_and_layer_has_a_page(site):
    atlas, counts = site
    assert counts["kernels"] == len(all_kernels()) == 6
    assert counts["layers"] == 3 and counts["models"] == 2
    assert counts["pages"] == 1 + 3 + 6
    for model, layer, kernel in all_kernels():
        assert (atlas / model / layer / f"kernel_{kernel:04d}" / "index.html").is_file()
    assert sorted(p.relative_to(atlas).as_posix() for p in atlas.glob("*/*/index.html")) == [
        "other/block.0.conv/index.html", "toy/conv_a/index.html", "toy/conv_b/index.html"]


def test_every_reference_of_every_page_resolves_to_a_file(site):
    atlas, _ = site
    pages = sorted(atlas.rglob("*.html"))
    assert len(pages) == 10
    checked = 0
    for page in pages:
        for reference in parse(page).references:
            assert not re.match(r"^[a-z]+://|^//", reference), f"{page}: absolute URL {reference}"
            if reference.startswith("#"):
                continue
            path = target(page, reference)
            assert path.is_file(), f"{page.relative_to(atlas)}: broken reference {reference}"
            assert atlas.resolve() in path.parents, f"{page}: {reference} leaves the atlas folder"
            checked += 1
    assert checked > 100


def test_index_reaches_every_kernel_in_two_clicks(site):
    atlas, _ = site
    index = (atlas / "index.html").resolve()
    first = {target(index, a) for a in parse(index).anchors if not a.startswith("#")}
    second = {target(page, a) for page in first if page.suffix == ".html" for a in parse(page).anchors
              if not a.startswith("#")}
    kernel_pages = {(atlas / m / l / f"kernel_{k:04d}" / "index.html").resolve() for m, l, k in all_kernels()}
    assert kernel_pages <= first | second
    # ... and through the layer pages alone (index -> layer -> kernel), not only through the depth strip.
    layer_pages = {p for p in first if p.parent.parent.parent == atlas.resolve()}
    assert len(layer_pages) == 3
    via_layers = {target(page, a) for page in layer_pages for a in parse(page).anchors}
    assert kernel_pages <= via_layers


def card_data(layer_page: Path) -> list[dict]:
    text = layer_page.read_text(encoding="utf-8")
    payload = re.search(r'<script type="application/json" id="atlas-data">(.*?)</script>', text, re.S).group(1)
    return json.loads(payload)["kernels"]


def test_layers_follow_depth_order_and_cards_carry_the_planted_numbers(site):
    atlas, _ = site
    index = (atlas / "index.html").read_text(encoding="utf-8")
    assert index.index("toy/conv_a/index.html") < index.index("toy/conv_b/index.html")
    data = {k["kernel"]: k for k in card_data(atlas / "toy" / "conv_b" / "index.html")}
    assert set(data) == {1, 3}
    assert data[3]["direction_deg"] == 90.0 and data[3]["audit_pass"] is True
    assert data[1]["audit_pass"] is False and data[1]["speed_px_per_frame"] == 1.0
    unknown = {k["kernel"]: k for k in card_data(atlas / "toy" / "conv_a" / "index.html")}[2]
    assert unknown["audit_pass"] is None
    layer_html = (atlas / "toy" / "conv_b" / "index.html").read_text(encoding="utf-8")
    assert 'class="badge fail"' in layer_html and 'class="badge pass"' in layer_html


def test_kernel_page_shows_numbers_meanings_provenance_and_dashes_for_missing(site):
    atlas, _ = site
    page = (atlas / "toy" / "conv_b" / "kernel_0003" / "index.html").read_text(encoding="utf-8")
    assert "90°" in page and "Where the visualized content moves" in page
    assert "kernelvis optimize" in page and "optimal.npz" in page        # provenance from the npz JSON string
    assert "custom_metric" in page and "1.25" in page                     # unknown fields are still shown
    assert "svg class=\"polar\"" in page and "Restarts" in page
    bare = (atlas / "other" / "block.0.conv" / "kernel_0009" / "index.html").read_text(encoding="utf-8")
    assert bare.count("—") >= 20 and "<h2>Optimal input</h2>" not in bare and "<h2>Optimal input</h2>" in page


def gif_duration_ms(path: Path) -> int:
    from PIL import Image, ImageSequence

    with Image.open(path) as image:
        return sum(frame.info["duration"] for frame in ImageSequence.Iterator(image))


def test_animations_decode_with_the_planted_frames(site):
    atlas, _ = site
    kdir = atlas / "toy" / "conv_a" / "kernel_0000"
    for name, frames in (("optimal", FRAMES), ("recon", FRAMES), ("thumb_optimal", FRAMES), ("motion", FRAMES - 1)):
        assert len(read_video(kdir / f"{name}.mp4")) == frames, name
        # PIL merges identical consecutive GIF frames into one longer frame: the loop keeps its length
        # (GIF delays are whole centiseconds, so 125 ms per frame is stored to within 10 ms).
        assert abs(gif_duration_ms(kdir / f"{name}.gif") - frames * 125) <= 10 * frames, name
    # The motion of a texture moving left (180°) is cyan in HSV: hue 180° = (0, 1, 1). Frame 0 of the velocity
    # (no motion by definition) is left out of the animation, so no frame is black.
    motion = read_video(kdir / "motion.mp4")
    for frame in motion:
        assert np.allclose(frame[8:-8, 8:-8].mean(axis=(0, 1)), [0, 1, 1], atol=0.08)
    big = read_video(kdir / "optimal.mp4")
    assert big.shape[1] >= 192  # 16-px clips are enlarged so H.264 keeps their colours


def test_arrow_field_points_where_the_content_moves():
    _, velocity = moving_texture(270.0, 2.0)  # screen-down: vy > 0
    field = arrow_field(velocity)
    arrows = np.array(field["arrows"])
    assert len(arrows) == 64
    assert np.allclose(arrows[:, 2], 0, atol=1e-6) and np.all(arrows[:, 3] > 0)
    assert field["width"] == SIZE and field["height"] == SIZE


def test_polar_plot_arrow_points_at_the_preferred_direction():
    svg = polar_tuning([0, 90, 180, 270], [0.1, 1.0, 0.1, 0.0], preferred_direction_deg=90.0, size_px=200)
    line = re.search(r'<line x1="100.0" y1="100.0" x2="([\d.]+)" y2="([\d.]+)" class="preferred"', svg)
    assert line and float(line.group(1)) == pytest.approx(100.0) and float(line.group(2)) < 100.0 - 50


def test_summaries_argument_limits_the_atlas_and_the_cli_reports_errors_in_one_line(tmp_path):
    results = make_results(tmp_path)
    chosen = [results / "toy" / "conv_a" / "kernel_0000" / "summary.json"]
    counts = build_atlas(results, tmp_path / "site", summaries=chosen, log=lambda *_: None)
    assert counts["kernels"] == 1 and not (tmp_path / "site" / "other").exists()
    missing = subprocess.run([sys.executable, "-m", "kernelvis", "atlas", "--results", str(tmp_path / "nothing"),
                              "--out", str(tmp_path / "out")], capture_output=True, text=True)
    assert missing.returncode == 1
    assert missing.stderr.strip().count("\n") == 0 and "results directory not found" in missing.stderr
    assert not (tmp_path / "out").exists()


def test_site_files_are_world_readable_for_static_hosts(site):
    atlas, _ = site
    assert all(path.stat().st_mode & 0o004 for path in atlas.rglob("*") if path.is_file())


def test_values_are_shown_for_people_and_text_from_results_is_escaped(tmp_path):
    from kernelvis.atlas.fields import format_value

    assert format_value(None) == format_value(float("nan")) == format_value({}) == "—"
    assert format_value(True) == "pass" and format_value(False) == "fail"
    assert format_value(123.456, "°") == "123°" and format_value(0.12345, "px/frame") == "0.123 px/frame"
    assert format_value(2.5, "×") == "2.5×"
    kdir = tmp_path / "results" / "m" / "l" / "kernel_0000"
    save_json(kdir / "summary.json", {"status": "<script>alert(1)</script>", "audit_pass": False,
                                      "direction_deg": float("nan")})
    build_atlas(tmp_path / "results", tmp_path / "site", log=lambda *_: None)
    for page in (tmp_path / "site" / "m" / "l" / "index.html", tmp_path / "site" / "m" / "l" / "kernel_0000" / "index.html"):
        html = page.read_text(encoding="utf-8")
        assert "<script>alert" not in html and "&lt;script&gt;alert(1)" in html
    data = card_data(tmp_path / "site" / "m" / "l" / "index.html")
    assert data == [{"id": "k0", "kernel": 0, "direction_deg": None, "speed_px_per_frame": None, "dsi": None,
                     "motion_reliance": None, "texture_reliance": None, "activation": None,
                     "direction_strength": None, "audit_pass": False, "status": "<script>alert(1)</script>"}]


def test_diverged_and_unreadable_kernels_still_get_pages(tmp_path, capsys):
    results = tmp_path / "results"
    diverged = results / "m" / "l" / "kernel_0000"
    video, velocity = moving_texture(0.0, 1.0)
    video[2] = np.nan
    velocity[3, :4] = np.inf
    save_npz(diverged / "optimal.npz", video=video, activation=np.float32(np.nan))
    save_npz(diverged / "decomposition.npz", static=video[0], velocity=velocity, recon=video)
    save_json(diverged / "summary.json", {"status": "diverged", "activation": float("nan")})
    broken = results / "m" / "l" / "kernel_0001"
    save_json(broken / "summary.json", {"status": "ok"})
    (broken / "optimal.npz").write_bytes(b"not a zip file")
    counts = build_atlas(results, tmp_path / "site", log=lambda *_: None)
    assert counts["kernels"] == 2
    site = tmp_path / "site" / "m" / "l"
    assert len(read_video(site / "kernel_0000" / "motion.mp4")) == FRAMES - 1
    page = (site / "kernel_0001" / "index.html").read_text(encoding="utf-8")
    assert "Pictures missing" in page and "could not be made" in page
    assert "kernel_0001" in capsys.readouterr().err
    assert 'class="badge warn">diverged' in (site / "index.html").read_text(encoding="utf-8")
