"""The texture-conditioned tuning curves on the kernel page's polar plot (kernelvis.atlas.svg.polar_tuning,
read from texture_tuning.json by kernelvis.atlas.collect.read_texture_tuning): each texture's curve at the visualized
speed is outlined in its own class, its farthest point lies in the direction of its peak, and a missing file or an
undrawable curve leaves the plot as it was."""

from __future__ import annotations

import csv
import json
import math
import re

import numpy as np
import pytest

from kernelvis.analysis.texture_tuning import TextureTuning, save_texture_tuning
from kernelvis.atlas.collect import Kernel, read_texture_tuning
from kernelvis.atlas.kernel_media import build_kernel_media
from kernelvis.atlas.pages import kernel_page
from kernelvis.atlas.svg import polar_tuning
from kernelvis.io import save_json

SIZE = 200
CENTRE = SIZE / 2
RADIUS = SIZE / 2 - 22
DIRECTIONS = [15.0 * i for i in range(24)]


def bump(peak_deg: float, width: float = 2.0) -> list[float]:
    """A one-lobe curve peaking at ``peak_deg`` (exactly at a sampled direction when it is a multiple of 15°)."""
    return [math.exp(width * (math.cos(math.radians(d - peak_deg)) - 1.0)) for d in DIRECTIONS]


def polygon_points(svg: str, css: str) -> list[tuple[float, float]]:
    match = re.search(rf'<polygon points="([^"]+)" class="{css}"', svg)
    assert match, f"no polygon of class {css}"
    return [tuple(map(float, pair.split(","))) for pair in match.group(1).split()]


def farthest(points: list[tuple[float, float]]) -> tuple[float, float]:
    """(distance from the centre, direction in degrees: 0 = right, 90 = up) of the point farthest out."""
    x, y = max(points, key=lambda p: math.hypot(p[0] - CENTRE, p[1] - CENTRE))
    return math.hypot(x - CENTRE, y - CENTRE), math.degrees(math.atan2(CENTRE - y, x - CENTRE)) % 360


def angle_gap(a: float, b: float) -> float:
    return abs((a - b + 180.0) % 360.0 - 180.0)


def texture_curve(label: str, peak_deg: float, scale: float = 1.0, **extra) -> dict:
    return {"label": label, "directions_deg": DIRECTIONS, "relative": [scale * v for v in bump(peak_deg)], **extra}


@pytest.mark.parametrize("peak_deg", [0.0, 60.0, 135.0, 270.0])
def test_a_texture_curve_reaches_the_rim_in_the_direction_of_its_peak(peak_deg):
    # The grating curve peaks elsewhere (210°) and 50× higher: the texture curve is scaled to its own peak.
    svg = polar_tuning(DIRECTIONS, [50 * v for v in bump(210.0)], size_px=SIZE,
                       texture_curves=[texture_curve("stage2", peak_deg, scale=0.3)])
    distance, direction = farthest(polygon_points(svg, "texture-stage2"))
    assert distance == pytest.approx(RADIUS, abs=0.15)
    assert angle_gap(direction, peak_deg) < 0.5
    grating_distance, grating_direction = farthest(polygon_points(svg, "curve"))
    assert grating_distance == pytest.approx(RADIUS, abs=0.15) and angle_gap(grating_direction, 210.0) < 0.5


def test_stage2_and_refined_curves_are_drawn_in_their_own_classes_with_the_refined_direction():
    svg = polar_tuning(DIRECTIONS, bump(0.0), 0.0, 90.0, size_px=SIZE,
                       texture_curves=[texture_curve("refined", 225.0, dsi=0.5),
                                       texture_curve("stage2", 90.0, preferred_direction_deg=91.0, dsi=0.8)],
                       refined_direction_deg=225.0)
    assert angle_gap(farthest(polygon_points(svg, "texture-stage2"))[1], 90.0) < 0.5
    assert angle_gap(farthest(polygon_points(svg, "texture-refined"))[1], 225.0) < 0.5
    assert svg.index('class="texture-stage2"') < svg.index('class="texture-refined"')  # stage 2's first
    assert "<title>own texture moved at the visualized speed (scaled to its peak): peak 91°, DSI 0.80</title>" in svg
    line = re.search(r'<line x1="100.0" y1="100.0" x2="([\d.]+)" y2="([\d.]+)" class="visualized-refined"', svg)
    x, y = map(float, line.groups())
    assert math.degrees(math.atan2(CENTRE - y, x - CENTRE)) % 360 == pytest.approx(225.0, abs=0.5)
    assert 'id="arrow-visualized-refined"' in svg


@pytest.mark.parametrize("curve", [
    {"label": "stage2", "directions_deg": DIRECTIONS, "relative": [0.0] * 24},                 # all zero
    {"label": "stage2", "directions_deg": DIRECTIONS, "relative": [None] * 24},                # not measured
    {"label": "stage2", "directions_deg": DIRECTIONS, "relative": [float("nan")] * 24},
    {"label": "stage2", "directions_deg": DIRECTIONS, "relative": [-1.0] * 24},                # below baseline
    {"label": "stage2", "directions_deg": DIRECTIONS, "relative": bump(0.0)[:10]},              # lengths differ
    {"label": "stage2", "directions_deg": DIRECTIONS},                                          # no responses
    {"label": "stage2", "relative": bump(0.0)},                                                 # no directions
    {"label": "<script>", "directions_deg": DIRECTIONS, "relative": bump(0.0)},               # unknown texture
    {"directions_deg": DIRECTIONS, "relative": bump(0.0)},
    "not a curve",
    None,
])
def test_an_undrawable_texture_curve_is_left_out_and_the_plot_is_unchanged(curve):
    plain = polar_tuning(DIRECTIONS, bump(30.0), 30.0, 40.0, size_px=SIZE)
    assert polar_tuning(DIRECTIONS, bump(30.0), 30.0, 40.0, size_px=SIZE, texture_curves=[curve]) == plain
    assert "texture-" not in plain and "visualized-refined" not in plain


def test_non_finite_directions_of_a_texture_curve_are_skipped_not_fatal():
    values = bump(120.0)
    values[3], values[4] = None, float("inf")
    svg = polar_tuning([], [], size_px=SIZE, texture_curves=[{"label": "stage2", "directions_deg": DIRECTIONS,
                                                              "relative": values}])
    points = polygon_points(svg, "texture-stage2")
    assert len(points) == 22 and angle_gap(farthest(points)[1], 120.0) < 0.5
    assert 'class="curve"' not in svg  # no grating curve to draw


# ------------------------------------------------------------------------------ texture_tuning.json -> the page

def planted_result(label: str, peak_deg: float) -> TextureTuning:
    """A texture-tuning result whose reference-speed (1.0) curve peaks at ``peak_deg`` and whose other speeds peak
    elsewhere, so reading the wrong row shows."""
    factors = np.array([0.5, 1.0, 2.0])
    curves = np.array([bump(peak_deg + 90.0), bump(peak_deg), bump(peak_deg + 180.0)]) * np.array([[3.0], [1.0], [5.0]])
    return TextureTuning(
        kernel=0, label=label, directions_deg=np.array(DIRECTIONS), speed_factors=factors,
        speeds_px_per_frame=factors * 1.5, responses=curves + 0.2, curves=curves, baseline_response=0.2,
        static_response=0.3, reference_speed_px_per_frame=1.5, visualized_speed_px_per_frame=1.5, speed_clamped=False,
        visualized_direction_deg=peak_deg, preferred_direction_deg=peak_deg, peak_directions_deg=[peak_deg], dsi=0.9,
        vector_average_deg=peak_deg, vector_strength=0.7, peak_response=1.2, best_speed_factor=2.0,
        best_speed_px_per_frame=3.0, best_speed_direction_deg=peak_deg + 180.0, angular_error_deg=0.0, agrees=True,
        agrees_near_peak=True, settings={"directions": 24, "speed_factors": [0.5, 1.0, 2.0]})


def kernel_dir(tmp_path, texture_peaks: dict | None, grating: bool = True):
    directory = tmp_path / "results" / "toy" / "conv" / "kernel_0001"
    summary = {"model": "toy", "layer": "conv", "kernel": 1, "direction_deg": 60.0, "refined_direction_deg": 300.0}
    if grating:
        summary.update(preferred_direction_deg=45.0, dsi=0.4)
    save_json(directory / "summary.json", summary)
    if grating:
        with open(directory / "tuning.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["direction_deg", "spatial_freq", "temporal_freq", "stimulus", "response"])
            for angle in range(0, 360, 45):
                writer.writerow([angle, 0.1, 0.1, "grating", 1.0 + math.cos(math.radians(angle - 45))])
    if texture_peaks is not None:
        save_texture_tuning([planted_result(label, peak) for label, peak in texture_peaks.items()], directory,
                            "toy", "conv")
    return Kernel(model="toy", layer="conv", kernel=1, directory=directory, summary=summary)


def page_of(kernel: Kernel, tmp_path) -> str:
    manifest = build_kernel_media(kernel, tmp_path / "site" / kernel.slug)
    assert "error" not in manifest
    return kernel_page(kernel, manifest, (None, None), None)


def test_read_texture_tuning_takes_the_reference_speed_row_of_the_written_file(tmp_path):
    kernel = kernel_dir(tmp_path, {"stage2": 60.0, "refined": 300.0})
    record = read_texture_tuning(kernel.directory)
    assert [c["label"] for c in record["curves"]] == ["stage2", "refined"]
    stage2, refined = record["curves"]
    assert stage2["relative"] == pytest.approx(bump(60.0)) and refined["relative"] == pytest.approx(bump(300.0))
    assert stage2["preferred_direction_deg"] == 60.0 and refined["dsi"] == 0.9
    assert record["settings"]["directions"] == 24
    assert read_texture_tuning(tmp_path) is None  # no file


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", "{}", '{"curves": {"stage2": {"directions_deg": [0, 90]}}}',
                                     '{"curves": {"stage2": {"directions_deg": [0, 90, 180], "speed_factors": [0.5, 2.0],'
                                     ' "relative": [[1, 2, 3], [3, 2, 1]]}}}'])
def test_a_broken_texture_tuning_file_gives_no_curve(tmp_path, content):
    (tmp_path / "texture_tuning.json").write_text(content)
    record = read_texture_tuning(tmp_path)
    assert record is None or record["curves"] == []


def test_the_kernel_page_overlays_both_texture_curves_on_the_grating_curve(tmp_path):
    page = page_of(kernel_dir(tmp_path, {"stage2": 60.0, "refined": 300.0}), tmp_path)
    svg = re.search(r'<svg class="polar".*?</svg>', page, re.S).group(0)
    size = float(re.search(r'width="(\d+)"', svg).group(1))
    centre, radius = size / 2, size / 2 - 22
    for css, peak in (("texture-stage2", 60.0), ("texture-refined", 300.0)):
        points = [tuple(map(float, p.split(","))) for p in
                  re.search(rf'<polygon points="([^"]+)" class="{css}"', svg).group(1).split()]
        x, y = max(points, key=lambda p: math.hypot(p[0] - centre, p[1] - centre))
        assert math.hypot(x - centre, y - centre) == pytest.approx(radius, abs=0.15)
        assert angle_gap(math.degrees(math.atan2(centre - y, x - centre)) % 360, peak) < 0.5
    assert 'class="curve"' in svg and 'class="visualized-refined"' in svg
    for key in ("preferred", "visualized", "texture-stage2", "texture-refined", "visualized-refined"):
        assert f'<span class="key {key}"></span>' in page
    assert "texture_tuning.json: settings" in page  # the probe's settings under "How it was made"
    assert "own texture DSI 0.9, refined texture DSI 0.9" in page


def test_without_texture_tuning_json_the_page_shows_only_the_grating_curve(tmp_path):
    page = page_of(kernel_dir(tmp_path, None), tmp_path)
    assert 'svg class="polar"' in page and 'class="curve"' in page
    assert "texture-" not in page and "visualized-refined" not in page


def test_texture_curves_alone_still_get_a_polar_plot(tmp_path):
    page = page_of(kernel_dir(tmp_path, {"stage2": 135.0}, grating=False), tmp_path)
    assert 'class="texture-stage2"' in page and 'class="curve"' not in page
    assert "texture-refined" not in page and "visualized-refined" not in page  # no refined curve, no refined arrow
    assert 'class="preferred"' not in page and '<span class="key preferred">' not in page  # no grating tuning at all
    assert 'class="visualized"' in page and '<span class="key visualized">' in page


def test_an_all_zero_texture_file_leaves_the_page_as_without_it(tmp_path):
    kernel = kernel_dir(tmp_path, {"stage2": 10.0})
    path = kernel.directory / "texture_tuning.json"
    record = json.loads(path.read_text())
    record["curves"]["stage2"]["relative"] = [[0.0] * 24 for _ in range(3)]
    path.write_text(json.dumps(record))
    page = page_of(kernel, tmp_path)
    assert 'class="curve"' in page and "texture-stage2" not in page
