"""The optimality audit's verdicts and a kernel's status, from measured numbers (no model, no torch).

:mod:`kernelvis.analysis.audit` measures; this module decides what the measurements say, so the commands that
only merge and draw (``figures``, ``check``) need neither torch nor a model.
"""

from __future__ import annotations

import math
from typing import Sequence

from kernelvis.geometry import angular_difference_deg

STATUS_PRIORITY = ("diverged", "dead", "silent", "ok")
"""When stages report different statuses for one kernel, the first of these wins."""
DSI_THRESHOLD = 0.3
"""A kernel is direction selective (for gratings, or for its own texture) above this DSI."""
MAX_ERROR_DEG = 30.0
"""A visualized direction agrees with a preferred one within this angle."""
TEXTURE_LABEL_PREFIXES = {"stage2": "texture_", "refined": "refined_texture_"}
"""Texture-conditioned tuning's record keys per texture: stage 2's texture -> ``texture_*``, the refined one ->
``refined_texture_*`` (here, torch-free, for the analysis that writes them and the atlas and tables that read them)."""



def ratio(optimal: float, best: float) -> float | None:
    """optimal / best where that means "how many times stronger" (best > 0); None otherwise."""
    if not (math.isfinite(optimal) and math.isfinite(best)) or best <= 0:
        return None
    return optimal / best


def audit_verdict(optimal_activation: float, best_stimulus_activation: float = math.nan,
                  best_natural_activation: float = math.nan) -> dict:
    """The audit's scalars: the two ratios and ``audit_pass`` (the optimal input reaches at least each
    reference that was measured; no reference measured, or a NaN optimal activation, is no pass)."""
    references = [value for value in (best_stimulus_activation, best_natural_activation) if math.isfinite(value)]
    passed = math.isfinite(optimal_activation) and bool(references) and all(
        optimal_activation >= value for value in references)
    return {"optimal_activation": optimal_activation if math.isfinite(optimal_activation) else None,
            "best_stimulus_activation": best_stimulus_activation if math.isfinite(best_stimulus_activation) else None,
            "best_natural_activation": best_natural_activation if math.isfinite(best_natural_activation) else None,
            "optimal_vs_best_grating": ratio(optimal_activation, best_stimulus_activation),
            "optimal_vs_best_natural": ratio(optimal_activation, best_natural_activation),
            "audit_pass": passed}


def combined_status(statuses: Sequence[str | None]) -> str:
    """The kernel's status from the statuses its stages reported (see :data:`STATUS_PRIORITY`)."""
    present = {status for status in statuses if status}
    return next((status for status in STATUS_PRIORITY if status in present), "ok")


def audit_share(rows: Sequence[dict]) -> tuple[int, int, list[str]]:
    """(passing, audited, names of the failing kernels) over summary rows; dead, diverged or silent kernels (no
    optimum to audit: :func:`kernel_status`), and rows without an audit, are not audited."""
    audited = [row for row in rows if row.get("audit_pass") not in (None, "")
               and row.get("status", "ok") not in ("dead", "diverged", "silent")]
    failing = [f"{row.get('layer')}/{int(float(row.get('kernel', -1)))}" for row in audited
               if not _truthy(row["audit_pass"])]
    return len(audited) - len(failing), len(audited), failing


def _truthy(value) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "1.0", "yes")
    return bool(value)


def audit_share_line(model_name: str, rows: Sequence[dict], warn_below: float = 0.9) -> list[str]:
    """The log lines: ``demo: 12/12 kernels pass the optimality audit`` and, under ``warn_below``, a warning
    naming the kernels that fail."""
    passing, audited, failing = audit_share(rows)
    lines = [f"{model_name}: {passing}/{audited} kernels pass the optimality audit"]
    if audited and passing < warn_below * audited:
        lines.append(f"WARNING: {model_name}: under {warn_below:.0%} of kernels pass the optimality audit; "
                     f"failing: {', '.join(failing)}")
    statuses = [f"{row.get('layer')}/{int(float(row.get('kernel', -1)))} {row['status']}" for row in rows
                if row.get("status") not in (None, "", "ok")]
    if statuses:
        lines.append(f"{model_name}: kernels with a status: {', '.join(statuses)}")
    return lines


def kernel_status(stage_status: str | None, optimal_max_response: float, tuning_max_response: float = math.nan,
                  natural_max_response: float = math.nan) -> tuple[str, str]:
    """(status, detail) of a kernel from what the audit measured (issue 24: silent means silent).

    ``silent`` when the kernel's output is nowhere positive on the optimal input, on every stimulus of the tuning
    sweep and on every natural clip: each argument is the largest value of the kernel's map there, or a lower bound
    of it (an objective's value: a mean never exceeds the maximum; the rectified mean is positive exactly where
    the map is somewhere positive). NaN = not measured, ignored; nothing measured is never silent. A stage status
    ``dead`` or ``diverged`` wins (see :data:`STATUS_PRIORITY`); otherwise ``ok`` (or ``stage_status``). A kernel
    positive on its optimal input but nowhere on the clips is ``ok``: it responds, just not to that clip set."""
    if stage_status in ("diverged", "dead"):
        return stage_status, ""
    measured = {name: float(value) for name, value in (("optimal input", optimal_max_response),
                                                       ("tuning sweep", tuning_max_response),
                                                       ("natural clips", natural_max_response))
                if value is not None and math.isfinite(float(value))}
    if measured and all(value <= 0 for value in measured.values()):
        return "silent", ("its output is nowhere positive on the " + ", ".join(measured) + " (largest values "
                          + ", ".join(f"{value:.3g}" for value in measured.values()) + ")")
    return stage_status or "ok", ""


def _number(record: dict, key: str) -> float:
    value = record.get(key)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return math.nan
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else math.nan


def _verdict(record: dict, key: str) -> bool | None:
    """A recorded verdict (bool, or its text in a CSV); None where absent or empty."""
    value = record.get(key)
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def texture_inhibited(summary: dict, prefix: str) -> bool:
    """A texture with a direction preference (DSI above the threshold) that no motion excites: every direction at
    the visualized speed leaves the kernel's objective at or below zero (``{prefix}excited`` recorded false), so
    its curve ranks the directions that inhibit the kernel least and there is no verdict. Counted apart so that
    leaving these kernels out of the agreement's denominator is visible."""
    return _number(summary, f"{prefix}dsi") > DSI_THRESHOLD and _verdict(summary, f"{prefix}excited") is False


def inhibited_suffix(count) -> str:
    """`` (+N inhibited)`` after a texture-agreement count where N > 0 kernels had no verdict because no motion
    excites their texture (:func:`texture_inhibited`); empty for 0, None or NaN. One wording for every table and
    figure that shows the count."""
    number = _number({"count": count}, "count")
    return f" (+{int(number)} inhibited)" if number > 0 else ""


def texture_verdict_of(summary: dict, prefix: str, visualized_key: str) -> tuple[bool, bool, bool | None]:
    """(selective, agrees, peak agrees) of one texture's tuning in a summary (``prefix`` ``texture_`` or
    ``refined_texture_``): selective = DSI above the threshold with a verdict; the verdict recorded by the texture
    tuning, or (a summary from before it recorded one) the peak within ``MAX_ERROR_DEG`` of the visualized
    direction."""
    dsi, peak = _number(summary, f"{prefix}dsi"), _number(summary, f"{prefix}preferred_direction_deg")
    visualized = _number(summary, visualized_key)
    error = (float(angular_difference_deg(peak, visualized)) if math.isfinite(peak) and math.isfinite(visualized)
             else math.nan)
    peak_agrees = _verdict(summary, f"{prefix}peak_agrees")
    if peak_agrees is None and math.isfinite(error):
        peak_agrees = error <= MAX_ERROR_DEG
    verdict = _verdict(summary, f"{prefix}agrees")
    if f"{prefix}agrees" not in summary and math.isfinite(error):
        verdict = error <= MAX_ERROR_DEG
    selective = math.isfinite(dsi) and dsi > DSI_THRESHOLD and verdict is not None
    return selective, bool(selective and verdict), peak_agrees
