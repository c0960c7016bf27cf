"""Writing a stage-1 result into a kernel directory (DESIGN §3): ``optimal.npz``, ``optimal.gif``
and the ``model, layer, kernel, activation`` scalars of ``summary.json``."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from kernelvis.io import normalize_to_unit_range, save_npz, staged_directory, update_json, write_gif

GIF_FPS = 8.0


def save_optimal(result, out_dir: str | os.PathLike, model_name: str, layer: str, kernel: int,
                 summary_path: str | os.PathLike | None = None) -> Path:
    """Write ``result`` (an :class:`~kernelvis.optimize.api.OptimalInput`) into ``out_dir``.

    The npz keeps the clip in display space ([0, 1], as the model saw it); the GIF is min–max
    normalized per clip for display only. Both files appear together or not at all.
    """
    out_dir = Path(out_dir)
    with staged_directory(out_dir) as staging:
        save_npz(staging / "optimal.npz",
                 video=np.asarray(result.video, dtype=np.float32),
                 activation=np.float32(result.activation),
                 history=np.asarray(result.history, dtype=np.float32),
                 candidates=np.asarray(result.candidates, dtype=np.float32),
                 candidate_activations=np.asarray(result.candidate_activations, dtype=np.float32),
                 model=np.str_(model_name), layer=np.str_(layer), kernel=np.int64(kernel))
        write_gif(staging / "optimal.gif", normalize_to_unit_range(result.video), fps=GIF_FPS)
    update_json(Path(summary_path) if summary_path is not None else out_dir / "summary.json",
                {"model": model_name, "layer": layer, "kernel": int(kernel), "activation": float(result.activation)})
    return out_dir
