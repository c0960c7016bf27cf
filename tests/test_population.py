"""Population numbers and the population figure per layer, on a planted summary.csv whose answers are known:
3 layers × 10 kernels with chosen directions, speeds, shares, statuses, audit verdicts and tuning."""

from __future__ import annotations

import csv
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kernelvis.analysis.population import (DSI_THRESHOLD, LAYER_COLUMNS, MAX_ERROR_DEG, TEXTURE_COLUMNS,
                                           direction_histogram, layer_directions, layer_table, markdown_table)
from kernelvis.analysis.summary_table import read_summary_csv

LONG = "SDDCNN.0.DDCNN.0.Conv3D_1.layers.1"
COLUMNS = ["model", "layer", "kernel", "status", "audit_pass", "direction_deg", "direction_strength",
           "speed_px_per_frame", "motion_share", "appearance_share", "residual_share", "preferred_direction_deg", "dsi"]


def planted_rows() -> list[dict]:
    rows = []
    # conv1: all ok; speeds 1..10; 8 pass, 2 fail; kernels 0-5 direction selective: 0-2 agree (350° vs 10° agrees
    # across 0°), 3-5 are 90° off; 6-9 are not selective (DSI 0.1) though 6 would "agree".
    directions = [350, 0, 0, 90, 90, 180, 270, 270, 270, 270]
    preferred = [10, 20, 330, 180, 0, 270, 270, 270, 100, 0]
    for k in range(10):
        rows.append({"model": "toy", "layer": "conv1", "kernel": k, "status": "ok", "audit_pass": k not in (3, 7),
                     "direction_deg": directions[k], "direction_strength": 0.5, "speed_px_per_frame": k + 1.0,
                     "motion_share": 0.5, "appearance_share": 0.3, "residual_share": 0.2,
                     "preferred_direction_deg": preferred[k], "dsi": 0.5 if k < 6 else 0.1})
    # the long layer: 0-1 dead, 2 diverged (out of every statistic but the counts, even with numbers that would
    # count), 3 silent (not audited either: nothing of it is positive; its speeds count), 4-9 ok (4, 5 fail the
    # audit); speeds 2, 2, 2, 4, 4, 4, 6 for 3..9
    for k in range(10):
        status = "dead" if k < 2 else "diverged" if k == 2 else "silent" if k == 3 else "ok"
        rows.append({"model": "toy", "layer": LONG, "kernel": k, "status": status,
                     "audit_pass": False if k < 3 else k not in (4, 5),
                     "direction_deg": 45.0, "direction_strength": 0.9,
                     "speed_px_per_frame": 100.0 if k < 3 else [2, 2, 2, 4, 4, 4, 6][k - 3],
                     "motion_share": 1.0 if k < 3 else 0.2, "appearance_share": 0.0 if k < 3 else 0.7,
                     "residual_share": 0.0 if k < 3 else 0.1,
                     "preferred_direction_deg": 45.0, "dsi": 0.9 if k < 3 else (0.4 if k in (3, 4) else 0.3)})
    # conv3: no audit, no tuning (empty cells), shares missing on two kernels, no direction on kernel 9
    for k in range(10):
        rows.append({"model": "toy", "layer": "conv3", "kernel": k, "status": "", "audit_pass": "",
                     "direction_deg": "" if k == 9 else 135.0, "direction_strength": 0.1,
                     "speed_px_per_frame": 0.5,
                     "motion_share": "" if k < 2 else 0.8, "appearance_share": "" if k < 2 else 0.1,
                     "residual_share": "" if k < 2 else 0.1, "preferred_direction_deg": "", "dsi": ""})
    return rows


def write_summary(path: Path, rows: list[dict], columns: list[str] = COLUMNS) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture
def summary_csv(tmp_path) -> Path:
    return write_summary(tmp_path / "results" / "toy" / "summary.csv", planted_rows())


def test_thresholds_are_those_of_the_faithfulness_table():
    faithfulness = pytest.importorskip("kernelvis.analysis.faithfulness")
    assert DSI_THRESHOLD == faithfulness.DSI_THRESHOLD and MAX_ERROR_DEG == faithfulness.MAX_ERROR_DEG


def test_layer_table_gives_the_planted_numbers(summary_csv):
    table = layer_table(read_summary_csv(summary_csv))
    assert list(table.columns) == LAYER_COLUMNS  # no texture columns without texture tuning
    assert list(table["layer"]) == ["conv1", LONG, "conv3"]  # order of summary.csv (depth), not sorted
    conv1, long, conv3 = table.to_dict("records")

    assert conv1["kernels"] == 10 and conv1["ok"] == 10 and conv1["silent"] == conv1["dead"] == 0
    assert (conv1["audit_passing"], conv1["audited"], conv1["audit_share"]) == (8, 10, 0.8)
    assert conv1["measured"] == 10
    assert conv1["speed_median"] == 5.5 and conv1["speed_q1"] == 3.25 and conv1["speed_q3"] == 7.75
    assert conv1["motion_share_mean"] == pytest.approx(0.5) and conv1["appearance_share_mean"] == pytest.approx(0.3)
    assert conv1["residual_share_mean"] == pytest.approx(0.2)
    assert (conv1["agreeing"], conv1["direction_selective"], conv1["agreement"]) == (3, 6, 0.5)

    assert (long["kernels"], long["ok"], long["silent"], long["dead"], long["diverged"]) == (10, 6, 1, 2, 1)
    assert (long["audit_passing"], long["audited"]) == (4, 6)  # dead, diverged and silent are not audited
    assert long["audit_share"] == pytest.approx(4 / 6)
    assert long["measured"] == 7
    assert long["speed_median"] == 4.0 and long["speed_q1"] == 2.0 and long["speed_q3"] == 4.0
    assert long["motion_share_mean"] == pytest.approx(0.2) and long["appearance_share_mean"] == pytest.approx(0.7)
    # DSI 0.3 is not above the threshold: only the silent kernel 3 and kernel 4 are selective, and agree
    assert (long["agreeing"], long["direction_selective"], long["agreement"]) == (2, 2, 1.0)

    assert conv3["ok"] == 10  # an empty status is ok
    assert conv3["audited"] == 0 and math.isnan(conv3["audit_share"])
    assert conv3["speed_median"] == 0.5
    assert conv3["motion_share_mean"] == pytest.approx(0.8)  # empty shares skipped, not counted as 0
    assert conv3["direction_selective"] == 0 and math.isnan(conv3["agreement"])


def test_texture_agreement_is_added_when_the_summary_records_texture_tuning(summary_csv):
    rows = read_summary_csv(summary_csv)
    for row in rows:
        # conv1: the texture peak agrees with the visualized direction for kernels 0..4 (DSI 0.6), 5..9 are 180° off
        # (DSI 0.6 for 5, 6; 0.2 for the rest: not selective); other layers have no texture tuning (NaN)
        if row["layer"] == "conv1":
            k = int(row["kernel"])
            row["texture_preferred_direction_deg"] = (row["direction_deg"] + (5 if k < 5 else 180)) % 360
            row["texture_dsi"] = 0.6 if k < 7 else 0.2
        else:
            row["texture_preferred_direction_deg"], row["texture_dsi"] = "", ""
    table = layer_table(rows)
    assert list(table.columns) == LAYER_COLUMNS + TEXTURE_COLUMNS
    conv1, long, conv3 = table.to_dict("records")
    assert (conv1["texture_agreeing"], conv1["texture_selective"]) == (5, 7)
    assert conv1["texture_agreement"] == pytest.approx(5 / 7)
    assert long["texture_selective"] == 0 and math.isnan(long["texture_agreement"])
    assert conv1["texture_inhibited"] == 0
    for row in rows:  # recorded verdicts; kernel 5 (selective, 180° off) is one that no motion excites: no verdict
        k = int(row["kernel"]) if row["layer"] == "conv1" else -1
        row["texture_agrees"] = "True" if 0 <= k < 5 else ("False" if k == 6 else "")
        row["texture_excited"] = "False" if k == 5 else ("True" if k >= 0 else "")
    conv1 = layer_table(rows).to_dict("records")[0]
    assert (conv1["texture_agreeing"], conv1["texture_selective"], conv1["texture_inhibited"]) == (5, 6, 1)
    assert conv1["agreement"] == 0.5  # the grating verdict is unchanged
    directions = layer_directions(rows)
    assert sorted(directions["conv1"]["texture_preferred"]) == sorted(
        [(d + 5) % 360 for d in (350, 0, 0, 90, 90)] + [0.0, 90.0])
    assert "texture agreement" in markdown_table(table).splitlines()[0].replace("texture-tuning", "texture")
    assert "| 5/6 (+1 inhibited) |" in markdown_table(layer_table(rows)).splitlines()[2]


def test_direction_histogram_centres_sectors_on_the_axes():
    counts, centres = direction_histogram([350, 0, 10, 14.9, 15.1, 90, 275, float("nan")], bins=12)
    assert centres[0] == 0 and centres[3] == 90
    assert counts[0] == 4 and counts[1] == 1 and counts[3] == 1 and counts[9] == 1 and counts.sum() == 7


def test_layer_directions_leave_out_dead_kernels_and_count_selective_preferences(summary_csv):
    directions = layer_directions(read_summary_csv(summary_csv))
    assert len(directions["conv1"]["visualized"]) == 10
    assert sorted(directions["conv1"]["preferred"]) == sorted([10, 20, 330, 180, 0, 270])
    assert len(directions[LONG]["visualized"]) == 7 and len(directions[LONG]["preferred"]) == 2
    assert len(directions["conv3"]["visualized"]) == 9 and len(directions["conv3"]["preferred"]) == 0


def test_markdown_table_reports_counts(summary_csv):
    lines = markdown_table(layer_table(read_summary_csv(summary_csv))).splitlines()
    assert len(lines) == 2 + 3
    assert lines[2] == ("| conv1 | 10 | 10 ok | 8/10 | 5.50 [3.25–7.75] | 0.50 / 0.30 / 0.20 | 3/6 |")
    assert lines[3].startswith(f"| {LONG} | 10 | 6 ok, 1 silent, 2 dead, 1 diverged | 4/6 | 4.00 [2.00–4.00] |")
    assert lines[4].endswith("| – | 0.50 [0.50–0.50] | 0.80 / 0.10 / 0.10 | – |")


def nonblank(png: Path) -> float:
    from PIL import Image

    with Image.open(png) as image:
        return float(np.asarray(image.convert("L"), dtype=np.float32).std())


def test_command_writes_the_figure_its_pdf_the_layer_csv_and_markdown(summary_csv, tmp_path):
    figure = summary_csv.parent / "figures" / "population.png"
    layers = summary_csv.parent / "layers.csv"
    markdown = tmp_path / "layers.md"
    result = subprocess.run([sys.executable, "-m", "kernelvis", "figures", "population", str(summary_csv),
                             "--out-file", str(figure), "--table", str(layers), "--markdown", str(markdown),
                             "--title", "toy"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert figure.is_file() and figure.with_suffix(".pdf").is_file()
    assert nonblank(figure) > 20
    from PIL import Image

    with Image.open(figure) as image:
        assert image.height > image.width * 0.5  # three rows of panels
    written = pd.read_csv(layers)
    assert list(written.columns) == LAYER_COLUMNS
    assert list(written["layer"]) == ["conv1", LONG, "conv3"]
    assert written.loc[0, "audit_share"] == 0.8 and written.loc[1, "dead"] == 2
    assert pd.isna(written.loc[2, "audit_share"])  # NaN is an empty field, not the text "nan"
    assert "nan" not in layers.read_text()
    assert markdown.read_text().startswith("| layer | kernels |")
    # docs/results.md's section, from the CSV read back: the same table
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "population_tables.py"
    printed = subprocess.run([sys.executable, str(script), str(summary_csv.parent.parent)], capture_output=True,
                             text=True)
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout == f"### toy\n\n{markdown.read_text()}\n"


def test_figure_of_a_summary_without_tuning_or_shares_is_still_drawn(tmp_path):
    from kernelvis.render.population import population_figure
    from kernelvis.render.savefig import save_figure

    rows = [{"model": "m", "layer": "l", "kernel": k, "status": "ok", "direction_deg": 30.0 * k,
             "speed_px_per_frame": 1.0} for k in range(4)]
    rows.append({"model": "m", "layer": "l", "kernel": 4, "status": "dead"})
    png = tmp_path / "population.png"
    save_figure(population_figure(rows, "m"), png)
    assert nonblank(png) > 10
    table = layer_table(rows)
    assert table.loc[0, "kernels"] == 5 and table.loc[0, "measured"] == 4 and table.loc[0, "dead"] == 1
    assert math.isnan(table.loc[0, "motion_share_mean"]) and table.loc[0, "direction_selective"] == 0


def test_check_expects_the_population_figure_and_the_layer_table(tmp_path):
    from kernelvis.commands.check import expected_files

    config = {"models": [{"name": "toy", "layers": {"conv1": [0]}}], "tuning": {"enabled": False},
              "refine": {"enabled": False}}
    _, files = expected_files(config, tmp_path)
    assert tmp_path / "toy" / "figures" / "population.png" in files and tmp_path / "toy" / "layers.csv" in files


def test_kernels_without_an_audit_among_audited_ones_are_not_counted():
    rows = [{"layer": "l", "kernel": 0, "audit_pass": True}, {"layer": "l", "kernel": 1, "audit_pass": False},
            {"layer": "l", "kernel": 2}, {"layer": "l", "kernel": 3, "audit_pass": None}]
    row = layer_table(rows).iloc[0]
    assert (row["audit_passing"], row["audited"], row["ok"]) == (1, 2, 4)


def test_the_population_command_needs_no_torch(summary_csv):
    code = ("import sys; from kernelvis.cli import main; "
            f"main(['figures', 'population', {str(summary_csv)!r}, '--out-file', {str(summary_csv.parent / 'p.png')!r}]); "
            "assert 'torch' not in sys.modules, 'torch was imported'")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
