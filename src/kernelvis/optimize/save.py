"""Writing a stage-1 result into a kernel directory (the README's Conventions): ``optimal.npz``, ``optimal.gif``
and the ``model, layer, kernel, activation`` scalars of ``summary.json``."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from kernelvis.io import normalize_to_unit_range, save_npz, staged_directory, update_json, write_gif

GIF_FPS = 8.0


def save_optimal(result, out_dir: str | os.PathLike, model_name: str, layer: str, kernel: int,
                 summary_path: str | os.PathLike | None = None, provenance: dict | None = None) -> Path:
    """Write ``result`` (an :class:`~kernelvis.optimize.api.OptimalInput`) into ``out_dir``
    (:func:`write_optimal`) and merge :func:`optimal_scalars` into ``summary_path`` (default
    ``out_dir/summary.json``)."""
    write_optimal(result, out_dir, model_name, layer, kernel, provenance)
    update_json(Path(summary_path) if summary_path is not None else Path(out_dir) / "summary.json",
                optimal_scalars(result, model_name, layer, kernel, provenance))
    return Path(out_dir)


def write_optimal(result, out_dir: str | os.PathLike, model_name: str, layer: str, kernel: int,
                  provenance: dict | None = None) -> None:
    """``optimal.npz`` and ``optimal.gif`` of ``result`` in ``out_dir``.

    The npz keeps the clip in display space ([0, 1], as the model saw it) and how it was made
    (``objective`` actually used, ``preprocessing``, ``status``, ``provenance`` JSON); the GIF is min–max
    normalized per clip for display only. Both files appear together or not at all.
    """
    from kernelvis.provenance import provenance_json

    provenance = dict(provenance or {})
    provenance.update({"objective": result.objective, "linearity_probe": result.probe,
                       "reference_restart": getattr(result, "reference_restart", None)})
    if getattr(result, "reference_restart_detail", None):
        provenance["reference_restart_detail"] = result.reference_restart_detail
    with staged_directory(Path(out_dir)) as staging:
        save_npz(staging / "optimal.npz",
                 video=np.asarray(result.video, dtype=np.float32),
                 activation=np.float32(result.activation),
                 history=np.asarray(result.history, dtype=np.float32),
                 candidates=np.asarray(result.candidates, dtype=np.float32),
                 candidate_activations=np.asarray(result.candidate_activations, dtype=np.float32),
                 model=np.str_(model_name), layer=np.str_(layer), kernel=np.int64(kernel),
                 objective=np.str_(result.objective), preprocessing=np.str_(provenance.get("preprocessing", "native")),
                 status=np.str_(result.status), status_detail=np.str_(result.status_detail),
                 provenance=np.str_(provenance_json(provenance)))
        write_gif(staging / "optimal.gif", normalize_to_unit_range(result.video), fps=GIF_FPS)


def optimal_scalars(result, model_name: str, layer: str, kernel: int, provenance: dict | None = None) -> dict:
    """Stage 1's scalars for the kernel's summary (a non-finite activation is None)."""
    activation = float(result.activation)
    return {"model": model_name, "layer": layer, "kernel": int(kernel),
            "activation": activation if np.isfinite(activation) else None, "objective": result.objective,
            "objective_requested": (provenance or {}).get("objective_requested", result.objective),
            "layer_affine": bool(result.probe.get("affine", False)), "status": result.status,
            "status_detail": result.status_detail, "optimize_steps_run": int(len(result.history))}
