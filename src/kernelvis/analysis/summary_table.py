"""One table row per kernel, from the per-kernel ``summary.json`` files.

The first columns are fixed (the README's Conventions); any other scalar a stage added follows in sorted order, so
new stages show up in ``summary.csv`` without changes here. Non-scalar values are left out.
"""

from __future__ import annotations

import csv
import io as _io
import json
import os
from pathlib import Path

from kernelvis.io import atomic_path

LEADING_COLUMNS = ["model", "layer", "kernel", "status", "objective", "activation", "audit_pass",
                   "optimal_vs_best_grating", "optimal_vs_best_natural", "recon_psnr_db", "direction_deg",
                   "direction_strength", "speed_px_per_frame", "motion_share", "appearance_share",
                   "residual_share", "temporal_change", "motion_index"]


def read_summaries(paths: list[str | os.PathLike]) -> list[dict]:
    rows = []
    for path in paths:
        summary = json.loads(Path(path).read_text())
        rows.append({key: value for key, value in summary.items()
                     if value is None or isinstance(value, (int, float, str, bool))})
    return rows


def table_columns(rows: list[dict]) -> list[str]:
    extra = sorted({key for row in rows for key in row} - set(LEADING_COLUMNS))
    return LEADING_COLUMNS + extra


def write_summary_csv(paths: list[str | os.PathLike], out_path: str | os.PathLike) -> list[dict]:
    """Write ``summary.csv`` (one row per kernel, in the given order) atomically; returns the rows."""
    rows = read_summaries(paths)
    buffer = _io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=table_columns(rows), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    with atomic_path(out_path) as temporary:
        temporary.write_text(buffer.getvalue())
    return rows


def read_summary_csv(path: str | os.PathLike) -> list[dict]:
    """Rows of a summary.csv with numbers parsed back to floats where they are numbers."""
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        for key, value in row.items():
            try:
                row[key] = float(value)
            except (TypeError, ValueError):
                pass
    return rows
