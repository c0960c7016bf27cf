"""The atlas's population views and posters, without a browser: the index's per-layer table and each layer page's
row carry the numbers of :func:`kernelvis.analysis.population.layer_table`; a flickering clip's poster shows a frame
with content. ``whole_layer_results`` (a 48-kernel layer) is shared with the browser test of a whole layer."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest

from kernelvis.atlas import build_atlas
from kernelvis.atlas.media import poster_index, write_animation
from kernelvis.io import save_json, save_npz

FRAMES, SIZE = 16, 48


def flicker(frames: int = FRAMES, size: int = SIZE, on=(5, 6, 11, 12)) -> np.ndarray:
    """A checkerboard that is on in a few frames and black in all others (the middle frame included)."""
    video = np.zeros((frames, size, size, 3), np.float32)
    board = ((np.indices((size, size)).sum(axis=0) // 6) % 2).astype(np.float32)
    for t in on:
        video[t] = board[..., None] * np.array([1.0, 0.8, 0.3], np.float32)
    return video


def moving(direction_deg: float, speed: float, seed: int, frames: int = FRAMES, size: int = SIZE):
    rng = np.random.default_rng(seed)
    texture = rng.random((size, size, 3)).astype(np.float32)
    vx, vy = speed * np.cos(np.radians(direction_deg)), -speed * np.sin(np.radians(direction_deg))
    video = np.stack([np.roll(texture, (int(round(vy * t)), int(round(vx * t))), axis=(0, 1)) for t in range(frames)])
    velocity = np.zeros((frames, size, size, 2), np.float32)
    velocity[1:] = (vx, vy)
    return video, velocity


def whole_layer_results(root: Path, kernels: int = 48, flickering: int = 1) -> Path:
    """results/demo/conv2 with ``kernels`` kernels (every stage's arrays at the demo's clip size), directions every
    30° by kernel index, audit failing every 8th, tuning agreeing on even kernels; kernel ``flickering`` flickers
    (black first and middle frames). results/demo/conv1 holds 2 more kernels so the model has two layers."""
    results = root / "results"
    rows = []
    for layer, count in (("conv1", 2), ("conv2", kernels)):
        for kernel in range(count):
            kdir = results / "demo" / layer / f"kernel_{kernel:04d}"
            direction = (30.0 * kernel) % 360
            video, velocity = moving(direction, 0.5 + 0.1 * (kernel % 10), seed=kernel)
            if layer == "conv2" and kernel == flickering:
                video, velocity = flicker(), np.zeros_like(velocity)
            save_npz(kdir / "optimal.npz", video=video, activation=np.float32(2.0),
                     history=np.linspace(0, 2, 20).astype(np.float32), candidates=np.stack([video, video]),
                     candidate_activations=np.array([2.0, 1.9], np.float32))
            save_npz(kdir / "decomposition.npz", static=video[0], velocity=velocity, recon=video)
            summary = {"model": "demo", "layer": layer, "kernel": kernel, "status": "ok", "activation": 2.0,
                       "audit_pass": kernel % 8 != 7, "direction_deg": direction, "direction_strength": 0.8,
                       "speed_px_per_frame": 0.5 + 0.1 * (kernel % 10), "motion_share": 0.6,
                       "appearance_share": 0.3, "residual_share": 0.1, "dsi": 0.5,
                       "preferred_direction_deg": direction if kernel % 2 == 0 else (direction + 90) % 360}
            save_json(kdir / "summary.json", summary)
            with open(kdir / "tuning.csv", "w", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow(["direction_deg", "spatial_freq", "temporal_freq", "stimulus", "response"])
                for angle in range(0, 360, 45):
                    writer.writerow([angle, 0.1, 0.1, "grating", 1.0 + np.cos(np.radians(angle - direction))])
            rows.append(summary)
    with open(results / "demo" / "summary.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return results


def test_poster_of_a_flickering_clip_is_a_frame_with_content(tmp_path):
    video = flicker()
    assert video[len(video) // 2].std() == 0  # the old poster (middle frame) is black
    index = poster_index(video)
    assert index in (5, 6, 11, 12) and video[index].std() > 0.2
    from PIL import Image

    names = write_animation(tmp_path / "clip", video, 96)
    poster = np.asarray(Image.open(tmp_path / names["png"]).convert("RGB"), dtype=np.float32)
    assert poster.std() > 40 and poster.max() > 200


def test_poster_of_a_steady_clip_stays_the_middle_frame_and_a_fade_shows_its_brightest():
    video, _ = moving(0.0, 1.0, seed=3)  # every frame the same texture, rolled: same spread
    assert poster_index(video) == len(video) // 2
    fade = np.linspace(0, 1, 9, dtype=np.float32)[:, None, None, None] * np.ones((9, 4, 4, 3), np.float32)
    assert poster_index(fade) == 8  # all frames flat: the brightest, not the black first one
    assert poster_index(video[:1]) == 0


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("population_atlas")
    results = whole_layer_results(root, kernels=12)
    build_atlas(results, root / "site", log=lambda *_: None)
    return root / "site", results


def rows_of(html: str, table_class: str = "population") -> dict[str, str]:
    table = re.search(rf'<table class="{table_class}">(.*?)</table>', html, re.S).group(1)
    return {match.group(1): match.group(0) for match in re.finditer(r'<tr[^>]*data-layer="([^"]+)".*?</tr>', table, re.S)}


def test_index_shows_the_per_layer_table_with_the_planted_numbers(site):
    atlas, _ = site
    html = (atlas / "index.html").read_text(encoding="utf-8")
    rows = rows_of(html)
    assert list(rows) == ["conv1", "conv2"]
    conv2 = rows["conv2"]
    assert 'href="demo/conv2/index.html"' in conv2
    # 12 kernels: kernel 7 fails the audit; even kernels agree with their tuning (6 of 12 selective)
    assert ">12<" in conv2 and "12 ok" in conv2 and "11/12" in conv2 and "6/12" in conv2
    assert "0.60 / 0.30 / 0.10" in conv2 and 'class="rose"' in conv2
    # 12 kernels every 30°: one wedge per sector
    assert conv2.count("<path d=") == 12


def test_layer_page_shows_its_own_row_only(site):
    atlas, _ = site
    html = (atlas / "demo" / "conv2" / "index.html").read_text(encoding="utf-8")
    rows = rows_of(html)
    assert list(rows) == ["conv2"] and "11/12" in rows["conv2"]
    assert html.index('class="population"') < html.index('id="cards"')


def test_population_figure_is_linked_when_the_workflow_made_it(tmp_path):
    from kernelvis.analysis.summary_table import read_summary_csv
    from kernelvis.render.population import population_figure
    from kernelvis.render.savefig import save_figure

    results = whole_layer_results(tmp_path, kernels=3)
    save_figure(population_figure(read_summary_csv(results / "demo" / "summary.csv"), "demo"),
                results / "demo" / "figures" / "population.png")
    build_atlas(results, tmp_path / "site", log=lambda *_: None)
    assert (tmp_path / "site" / "demo" / "figures" / "population.png").is_file()
    assert 'src="demo/figures/population.png"' in (tmp_path / "site" / "index.html").read_text(encoding="utf-8")


def test_card_posters_of_a_flickering_kernel_are_not_black(site):
    from PIL import Image

    atlas, _ = site
    kernel = atlas / "demo" / "conv2" / "kernel_0001"
    for name in ("thumb_optimal.png", "optimal.png", "restart_0.png"):
        pixels = np.asarray(Image.open(kernel / name).convert("RGB"), dtype=np.float32)
        assert pixels.std() > 30, f"{name} is blank"
    summary = json.loads((kernel / "summary.json").read_text())
    assert summary["kernel"] == 1
