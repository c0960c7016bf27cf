"""A kernel's ``summary.json`` and panel, merged from its stage records: the one merge, run by the
``kernel_summary`` rule (``kernelvis figures kernel``) and by ``kernelvis visualize``. Torch-free."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

from kernelvis.stages import STAGES, stage_record_name


def merge_kernel_summary(kernel_dir, stage_paths: Sequence | None = None, model_name: str | None = None,
                         layer: str | None = None, motion_scale: float | None = None) -> dict:
    """Merge the stage records ``stage_paths`` (in order; later stages win where keys repeat) into
    ``kernel_dir/summary.json`` and draw panel.png and panel.gif. ``stage_paths`` None: every
    ``stage_<name>.json`` of :data:`~kernelvis.stages.STAGES` present, merged over an existing summary.json;
    given: exactly those, each required (nothing stale from an earlier config leaks in). summary.json is
    written last: its presence means the kernel is complete. Returns the summary."""
    import numpy as np

    from kernelvis.analysis.verdict import combined_status
    from kernelvis.errors import BadInputError
    from kernelvis.io import save_json
    from kernelvis.render.panels import write_kernel_panel

    kernel_dir = Path(kernel_dir)
    optimal_path, decomposition_path = kernel_dir / "optimal.npz", kernel_dir / "decomposition.npz"
    for required in (optimal_path, decomposition_path):
        if not required.is_file():
            raise BadInputError(f"{required} is missing: run `kernelvis optimize` and `kernelvis decompose` first")
    summary_path = kernel_dir / "summary.json"
    if stage_paths is not None:
        stage_paths, summary, required = [Path(path) for path in stage_paths], {}, True
    else:
        stage_paths = [kernel_dir / stage_record_name(stage) for stage in STAGES]
        summary = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
        required = False
    statuses, details = [], []
    for stage_path in stage_paths:
        if stage_path.is_file():
            record = json.loads(stage_path.read_text())
            record.pop("provenance", None)
            statuses.append(record.get("status"))
            if record.get("status") not in (None, "ok") and record.get("status_detail"):
                details.append(f"{record['status']}: {record['status_detail']}")
            summary.update(record)
        elif required:
            raise BadInputError(f"{stage_path} is missing")
    summary["status"] = combined_status(statuses)
    summary["status_detail"] = "; ".join(details)
    if summary["status"] in ("dead", "diverged"):  # nothing was optimized: an audit verdict would mislead
        summary["audit_pass"] = None
    with np.load(optimal_path) as optimal:
        summary.setdefault("activation", float(optimal["activation"]))
        for key in ("model", "layer", "kernel"):
            if key in optimal.files:
                summary.setdefault(key, optimal[key].item())
    if model_name:
        summary["model"] = model_name
    if layer:
        summary["layer"] = layer
    write_kernel_panel(kernel_dir, summary, motion_scale)
    save_json(summary_path, summary)
    return json.loads(summary_path.read_text())
