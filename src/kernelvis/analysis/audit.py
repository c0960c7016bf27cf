"""The optimality audit: is a kernel's "optimal" input really better than what it meets elsewhere?

An optimal input is only worth showing if the kernel responds to it at least as strongly as to the best
stimulus of its tuning sweep (gratings, plaids, random dots) and to the best natural clip of the clip set.
All three are measured the same way: the objective and preprocessing stage 1 used (read from
``optimal.npz``), on the un-transformed clip, the forward pass stopped at the layer. The audit is a
measurement: a kernel that fails it is marked wherever it is drawn, never a reason to stop a run.

It also finds kernels that are *silent*: their output is nowhere positive on any clip of the clip set
(their rectified map is all zero), so no natural clip can show what they respond to.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from kernelvis.models.loaded import LoadedModel
from kernelvis.models.preprocessing import Preprocessing
from kernelvis.optimize.activation import layer_output, select_response

STATUS_PRIORITY = ("diverged", "dead", "silent", "ok")
"""When stages report different statuses for one kernel, the first of these wins."""


@dataclass(frozen=True)
class NaturalResponses:
    responses: np.ndarray
    """float64 [n_clips]: the objective on every clip."""
    best_index: int
    best_activation: float
    max_response: float
    """The largest value of the kernel's map over every clip and position (≤ 0: silent on the set)."""


@torch.no_grad()
def natural_responses(model: LoadedModel, layer: str, kernel: int, clips: np.ndarray, objective: str,
                      preprocessing: Preprocessing, batch_size: int = 16,
                      device: str | torch.device = "cpu") -> NaturalResponses:
    """The kernel's objective on each clip (float32 [N, T, H, W, 3] in [0, 1] at the model's clip shape)."""
    model.module.to(device)
    responses, map_max = [], -math.inf
    for start in range(0, len(clips), batch_size):
        video01 = torch.from_numpy(np.ascontiguousarray(clips[start:start + batch_size], dtype=np.float32))
        output = layer_output(model, layer, video01.permute(0, 4, 1, 2, 3).to(device), preprocessing)
        responses.append(select_response(output, [kernel], objective).double().cpu().numpy())
        map_max = max(map_max, float(output[:, kernel].max()))
    responses = np.concatenate(responses) if responses else np.zeros(0)
    best = int(np.argmax(responses)) if len(responses) else -1
    return NaturalResponses(responses, best, float(responses[best]) if best >= 0 else math.nan, map_max)


def natural_responses_like(model: LoadedModel, layer: str, kernel: int, clips: np.ndarray, video: np.ndarray,
                           objective: str, preprocessing: Preprocessing,
                           device: str | torch.device = "cpu") -> NaturalResponses:
    """:func:`natural_responses` of a clip set (uint8 or [0, 1], any size) brought to the frames and (H, W) of
    ``video`` (the optimal input [T, H, W, 3]), so both are measured on clips of one shape."""
    from kernelvis.analysis.faithfulness import fit_clips

    return natural_responses(model, layer, kernel, fit_clips(clips, video.shape[0], tuple(video.shape[1:3])),
                             objective, preprocessing, device=device)


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
    """(passing, audited, names of the failing kernels) over summary rows; dead or diverged kernels, and rows
    without an audit, are not audited."""
    audited = [row for row in rows if row.get("audit_pass") not in (None, "")
               and row.get("status", "ok") not in ("dead", "diverged")]
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
