"""Writing a decomposition into a kernel directory (the README's Conventions), every file atomically.

Only the numbers: the pictures drawn from them are :func:`kernelvis.render.decomposition.render_decomposition`.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from kernelvis.decompose.fit import Decomposition
from kernelvis.io import save_npz, update_json

APPEARANCE_KEYS = ("recon_motion_only", "recon_appearance_only", "gain", "offset", "residual_coef", "residual_image")
"""decomposition.npz keys of the appearance component (issue 16), beside the texture+motion ones."""


def save_decomposition(decomposition: Decomposition, out_dir: str | os.PathLike, summary: dict,
                       summary_path: str | os.PathLike | None = None) -> Path:
    """Write ``decomposition.npz`` (:func:`save_decomposition_arrays`) into ``out_dir`` and merge ``summary``
    into ``summary_path`` (default ``out_dir/summary.json``). Returns the summary path.
    """
    save_decomposition_arrays(decomposition, out_dir)
    summary_path = Path(summary_path) if summary_path is not None else Path(out_dir) / "summary.json"
    update_json(summary_path, summary)
    return summary_path


def save_decomposition_arrays(decomposition: Decomposition, out_dir: str | os.PathLike,
                              provenance: dict | None = None) -> Path:
    """Write ``decomposition.npz`` (static, displacement, velocity, recon, static_canvas, margin_px, start,
    anchor_frame and the appearance part: recon_motion_only, recon_appearance_only, gain, offset, residual_coef,
    residual_image; ``provenance`` as JSON when given) into ``out_dir``; returns its path."""
    from kernelvis.provenance import provenance_json

    path = Path(out_dir) / "decomposition.npz"
    appearance = {name: getattr(decomposition, name) for name in APPEARANCE_KEYS
                  if getattr(decomposition, name) is not None}
    recorded = {} if provenance is None else {"provenance": np.str_(provenance_json(provenance))}
    save_npz(path, static=decomposition.static, displacement=decomposition.displacement,
             velocity=decomposition.velocity, recon=decomposition.recon, static_canvas=decomposition.static_canvas,
             margin_px=np.int64(decomposition.margin_px), start=np.str_(decomposition.start),
             anchor_frame=np.int64(decomposition.anchor_frame), **appearance,
             **recorded)
    return path


def load_decomposition(path: str | os.PathLike) -> Decomposition:
    """Read a ``decomposition.npz`` written by :func:`save_decomposition`."""
    with np.load(path) as archive:
        # archives written before issue 16 have no appearance part: A is then the identity (None)
        appearance = {name: archive[name] for name in APPEARANCE_KEYS if name in archive.files}
        return Decomposition(static=archive["static"], displacement=archive["displacement"],
                             velocity=archive["velocity"], recon=archive["recon"],
                             static_canvas=archive["static_canvas"], margin_px=int(archive["margin_px"]),
                             start=str(archive["start"]) if "start" in archive.files else "motion",
                             # archives written before the anchor could move were all anchored to frame 0
                             anchor_frame=int(archive["anchor_frame"]) if "anchor_frame" in archive.files else 0,
                             **appearance)
