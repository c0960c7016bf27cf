"""Population numbers per layer, from a model's ``summary.csv`` (one row per kernel): what a whole layer of kernels
does, in one row per layer (``results/{model}/layers.csv``).

Columns (:data:`LAYER_COLUMNS`, then :data:`TEXTURE_COLUMNS` when the summary has texture-conditioned tuning):

- ``kernels``; ``ok`` / ``silent`` / ``dead`` / ``diverged``: how many kernels have each status (a status outside
  these four gets a ``status_<name>`` column);
- ``audited``, ``audit_passing``, ``audit_share``: the optimality audit over the layer's audited kernels, as
  :func:`kernelvis.analysis.verdict.audit_share` counts them (dead or diverged kernels, and kernels without an audit,
  are not audited);
- ``measured``: the kernels whose visualization is a result (every status but dead and diverged: a silent kernel's
  optimal input is still what drives it most). The speed and share statistics are over these kernels (NaN values
  skipped): ``speed_median``, ``speed_q1``, ``speed_q3`` (px/frame, IQR = q3 − q1), ``motion_share_mean``,
  ``appearance_share_mean``, ``residual_share_mean``;
- ``direction_selective``, ``agreeing``, ``agreement``: tuning agreement (the convention of
  :mod:`kernelvis.analysis.faithfulness`): a measured kernel is direction selective when its grating DSI exceeds
  :data:`DSI_THRESHOLD` (0.3) and both its visualized direction (``direction_deg``) and its preferred direction
  (``preferred_direction_deg``) are known; it agrees when the two lie within :data:`MAX_ERROR_DEG` (30°);
  ``agreement`` = agreeing / direction selective (NaN when none is selective);
- with ``texture_preferred_direction_deg`` and ``texture_dsi`` in the summary (texture-conditioned tuning: the
  kernel's own texture translated in every direction): ``texture_selective``, ``texture_agreeing``,
  ``texture_agreement``, the same verdict against the texture-conditioned peak, and ``texture_inhibited``: kernels
  with a texture DSI above the threshold that no motion of the texture excites (no verdict, so not in
  ``texture_selective``; :func:`kernelvis.analysis.verdict.texture_inhibited`). Absent columns leave these out.

Angles are degrees counter-clockwise from screen-right in [0, 360) (:mod:`kernelvis.geometry`). No torch here: the
figures command draws from finished tables.
"""

from __future__ import annotations

import math
import os
from typing import Sequence

import numpy as np
import pandas as pd

from kernelvis.analysis.verdict import (DSI_THRESHOLD, MAX_ERROR_DEG, STATUS_PRIORITY, TEXTURE_LABEL_PREFIXES,
                                        audit_share, inhibited_suffix, texture_inhibited, texture_verdict_of)
from kernelvis.geometry import angular_difference_deg

UNMEASURED = ("dead", "diverged")
"""Statuses whose visualization is not a result: left out of every statistic but the status counts."""
STATUSES = ("ok", "silent", "dead", "diverged")
SHARE_KEYS = ("motion_share", "appearance_share", "residual_share")

LAYER_COLUMNS = ["model", "layer", "kernels", *STATUSES, "audited", "audit_passing", "audit_share", "measured",
                 "speed_median", "speed_q1", "speed_q3", "motion_share_mean", "appearance_share_mean",
                 "residual_share_mean", "direction_selective", "agreeing", "agreement"]
TEXTURE_COLUMNS = ["texture_selective", "texture_agreeing", "texture_agreement", "texture_inhibited"]
TEXTURE_KEYS = ("texture_preferred_direction_deg", "texture_dsi")
"""The summary columns of texture-conditioned tuning; with both present the table gets :data:`TEXTURE_COLUMNS`."""

assert set(STATUS_PRIORITY) == set(STATUSES)


def _numbers(frame: pd.DataFrame, column: str) -> pd.Series:
    """A column as floats (NaN where absent, empty or not a number)."""
    if column not in frame:
        return pd.Series(np.nan, index=frame.index, dtype=float)
    return pd.to_numeric(frame[column], errors="coerce").astype(float)


def summary_frame(rows: Sequence[dict] | pd.DataFrame) -> pd.DataFrame:
    """summary.csv rows as a DataFrame with the columns this module reads normalized: ``layer`` as text (in row
    order), ``status`` (empty → ``ok``), the numbers as floats; other columns kept as they are."""
    frame = pd.DataFrame(list(rows)) if not isinstance(rows, pd.DataFrame) else rows.copy()
    if frame.empty:
        return pd.DataFrame(columns=["model", "layer", "kernel", "status"])
    frame["layer"] = frame["layer"].astype(str) if "layer" in frame else ""
    if "model" not in frame:
        frame["model"] = ""
    status = frame["status"] if "status" in frame else pd.Series("ok", index=frame.index)
    frame["status"] = status.where(status.notna() & (status.astype(str).str.strip() != ""), "ok").astype(str)
    return frame


def _agreement(frame: pd.DataFrame, preferred_key: str, dsi_key: str) -> tuple[pd.Series, pd.Series]:
    """(selective, agrees) per kernel: DSI above the threshold with both directions known; within 30°."""
    preferred, visualized, dsi = (_numbers(frame, preferred_key), _numbers(frame, "direction_deg"),
                                  _numbers(frame, dsi_key))
    error = pd.Series(angular_difference_deg(preferred.to_numpy(), visualized.to_numpy()), index=frame.index)
    measured = ~frame["status"].isin(UNMEASURED)
    selective = measured & (dsi > DSI_THRESHOLD) & error.notna()
    return selective, selective & (error <= MAX_ERROR_DEG)


def _texture_agreement(frame: pd.DataFrame) -> tuple[pd.Series, pd.Series, pd.Series]:
    """(selective, agrees, inhibited) per kernel for its own texture: the texture tuning's recorded verdict
    (:func:`kernelvis.analysis.verdict.texture_verdict_of`) and whether it has none because no motion excites the
    texture (:func:`kernelvis.analysis.verdict.texture_inhibited`), measured kernels only."""
    measured = ~frame["status"].isin(UNMEASURED)
    prefix = TEXTURE_LABEL_PREFIXES["stage2"]
    records = frame.astype(object).where(frame.notna(), None).to_dict("records")
    verdicts = [texture_verdict_of(row, prefix, "direction_deg") for row in records]
    selective = pd.Series([v[0] for v in verdicts], index=frame.index, dtype=bool) & measured
    agrees = pd.Series([v[1] for v in verdicts], index=frame.index, dtype=bool) & selective
    inhibited = pd.Series([texture_inhibited(row, prefix) for row in records], index=frame.index, dtype=bool) & measured
    return selective, agrees, inhibited


def has_texture_tuning(frame: pd.DataFrame) -> bool:
    return all(key in frame and _numbers(frame, key).notna().any() for key in TEXTURE_KEYS)


def layer_table(rows: Sequence[dict] | pd.DataFrame) -> pd.DataFrame:
    """One row per layer (layers in the order they first appear, i.e. depth order in summary.csv); see the module
    docstring for the columns."""
    frame = summary_frame(rows)
    texture = has_texture_tuning(frame)
    columns = LAYER_COLUMNS + (TEXTURE_COLUMNS if texture else [])
    if frame.empty:
        return pd.DataFrame(columns=columns)
    frame["_selective"], frame["_agrees"] = _agreement(frame, "preferred_direction_deg", "dsi")
    if texture:
        frame["_texture_selective"], frame["_texture_agrees"], frame["_texture_inhibited"] = _texture_agreement(frame)
    extra_statuses = sorted(set(frame["status"]) - set(STATUSES))
    table = []
    for layer, members in frame.groupby("layer", sort=False):
        counts = members["status"].value_counts()
        # NaN (a kernel without the key among kernels with it) is no audit, as None and "" are
        passing, audited, _ = audit_share(members.astype(object).where(members.notna(), None).to_dict("records"))
        measured = members[~members["status"].isin(UNMEASURED)]
        speed = _numbers(measured, "speed_px_per_frame").dropna()
        row = {"model": str(members["model"].iloc[0]) if pd.notna(members["model"].iloc[0]) else "",
               "layer": layer, "kernels": len(members),
               **{status: int(counts.get(status, 0)) for status in STATUSES},
               **{f"status_{status}": int(counts.get(status, 0)) for status in extra_statuses},
               "audited": audited, "audit_passing": passing,
               "audit_share": passing / audited if audited else math.nan,
               "measured": len(measured),
               "speed_median": float(speed.median()) if len(speed) else math.nan,
               "speed_q1": float(speed.quantile(0.25)) if len(speed) else math.nan,
               "speed_q3": float(speed.quantile(0.75)) if len(speed) else math.nan,
               **{f"{key}_mean": float(_numbers(measured, key).mean()) for key in SHARE_KEYS}}
        for prefix, flag in (("", "_selective"), ("texture_", "_texture_selective")):
            if flag not in members:
                continue
            selective = int(members[flag].sum())
            agreeing = int(members[flag.replace("selective", "agrees")].sum())
            row.update({("direction_selective" if not prefix else "texture_selective"): selective,
                        f"{prefix}agreeing": agreeing,
                        f"{prefix}agreement": agreeing / selective if selective else math.nan})
        if "_texture_inhibited" in members:
            row["texture_inhibited"] = int(members["_texture_inhibited"].sum())
        table.append(row)
    after = columns.index(STATUSES[-1]) + 1  # unknown statuses beside the known ones
    columns = columns[:after] + [f"status_{status}" for status in extra_statuses] + columns[after:]
    return pd.DataFrame(table, columns=columns)


def direction_histogram(directions_deg, bins: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """(counts, bin centres in degrees) of angles in [0, 360), ``bins`` equal sectors, the first centred on 0°
    (screen-right), so a kernel moving right is counted in the sector around 0°, not split at its edge."""
    width = 360.0 / bins
    angles = np.asarray([a for a in np.asarray(directions_deg, dtype=float).ravel() if math.isfinite(a)])
    index = np.floor(np.mod(angles + width / 2.0, 360.0) / width).astype(int) % bins
    return np.bincount(index, minlength=bins), np.arange(bins) * width


def layer_directions(rows: Sequence[dict] | pd.DataFrame) -> dict[str, dict[str, np.ndarray]]:
    """Per layer (depth order): the measured kernels' visualized directions (``visualized``, every kernel with a
    direction), and the preferred directions of the direction-selective ones (``preferred``: gratings;
    ``texture_preferred``: texture-conditioned, when recorded)."""
    frame = summary_frame(rows)
    if frame.empty:
        return {}
    frame["_selective"], _ = _agreement(frame, "preferred_direction_deg", "dsi")
    texture = has_texture_tuning(frame)
    if texture:
        frame["_texture_selective"], _ = _agreement(frame, *TEXTURE_KEYS)
    result = {}
    for layer, members in frame.groupby("layer", sort=False):
        measured = members[~members["status"].isin(UNMEASURED)]
        entry = {"visualized": _numbers(measured, "direction_deg").dropna().to_numpy(),
                 "preferred": _numbers(members[members["_selective"]], "preferred_direction_deg").to_numpy(),
                 "speed": _numbers(measured, "speed_px_per_frame").dropna().to_numpy()}
        if texture:
            entry["texture_preferred"] = _numbers(members[members["_texture_selective"]],
                                                  "texture_preferred_direction_deg").to_numpy()
        result[layer] = entry
    return result


def write_layer_csv(table: pd.DataFrame, path: str | os.PathLike) -> None:
    """The per-layer table as CSV (written atomically; NaN as an empty field)."""
    from kernelvis.io import atomic_path

    with atomic_path(path) as temporary:
        table.to_csv(temporary, index=False, float_format="%.6g", lineterminator="\n")


def _share(count, total) -> str:
    known = isinstance(total, (int, float)) and math.isfinite(total) and total > 0
    return f"{int(count)}/{int(total)}" if known else "–"


def _fmt(value, digits: int = 2) -> str:
    return f"{value:.{digits}f}" if isinstance(value, (int, float)) and math.isfinite(value) else "–"


def markdown_table(table: pd.DataFrame) -> str:
    """The per-layer table for docs: one line per layer, counts as k/n ("–" where nothing was counted)."""
    texture = all(column in table for column in TEXTURE_COLUMNS)
    header = ["layer", "kernels", "status", "audit pass", "speed px/frame median [IQR]",
              "shares motion / appearance / residual", "tuning agreement (DSI > 0.3)"]
    if texture:
        header.append("texture-tuning agreement")
    lines = ["| " + " | ".join(header) + " |",
             "|---|---:|---|---:|---|---|---:|" + ("---:|" if texture else "")]
    status_columns = [c for c in table.columns if c in STATUSES or c.startswith("status_")]
    for row in table.to_dict("records"):
        statuses = ", ".join(f"{int(row[c])} {c.removeprefix('status_')}" for c in status_columns
                             if pd.notna(row[c]) and row[c])
        speed = (f"{_fmt(row['speed_median'])} [{_fmt(row['speed_q1'])}–{_fmt(row['speed_q3'])}]"
                 if math.isfinite(row["speed_median"]) else "–")
        shares = " / ".join(_fmt(row[f"{key}_mean"]) for key in SHARE_KEYS)
        cells = [str(row["layer"]), str(int(row["kernels"])), statuses or "–", _share(row["audit_passing"], row["audited"]),
                 speed, shares, _share(row["agreeing"], row["direction_selective"])]
        if texture:
            cells.append(_share(row["texture_agreeing"], row["texture_selective"])
                         + inhibited_suffix(row.get("texture_inhibited")))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
