"""Writing a decomposition into a kernel directory (the README's Conventions), every file atomically."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from kernelvis.decompose.fit import Decomposition
from kernelvis.io import save_npz, update_json, write_gif, write_png

APPEARANCE_KEYS = ("recon_motion_only", "recon_appearance_only", "gain", "offset", "residual_coef", "residual_image")
"""decomposition.npz keys of the appearance component (issue 16), beside the texture+motion ones."""
FILES = ("decomposition.npz", "static.png", "motion.gif", "recon.gif", "arrows.png", "summary.json")


def save_decomposition(decomposition: Decomposition, out_dir: str | os.PathLike, summary: dict,
                       motion_scale_px_per_frame: float | None = None, summary_path: str | os.PathLike | None = None,
                       fps: float = 8.0) -> Path:
    """Write ``decomposition.npz`` (static, displacement, velocity, recon, static_canvas, margin_px, start
    and the appearance part: recon_motion_only, recon_appearance_only, gain, offset, residual_coef,
    residual_image),
    ``static.png``, ``motion.gif`` (HSV: hue = direction, brightness = speed, frame 0 black),
    ``recon.gif``, ``arrows.png`` (mean velocity over the static image) into ``out_dir`` and merge
    ``summary`` (plus the motion scale used) into ``summary_path`` (default ``out_dir/summary.json``).

    ``motion_scale_px_per_frame``: speed shown at full brightness; None picks it robustly per clip
    (:func:`kernelvis.render.motion.robust_speed_scale`); pass one value to compare kernels.
    Returns the summary path.
    """
    from kernelvis.render.arrows import write_arrows_png
    from kernelvis.render.motion import robust_speed_scale, velocity_to_rgb

    out_dir = Path(out_dir)
    scale = motion_scale_px_per_frame or robust_speed_scale(decomposition.velocity)
    appearance = {name: getattr(decomposition, name) for name in APPEARANCE_KEYS
                  if getattr(decomposition, name) is not None}
    save_npz(out_dir / "decomposition.npz", static=decomposition.static, displacement=decomposition.displacement,
             velocity=decomposition.velocity, recon=decomposition.recon, static_canvas=decomposition.static_canvas,
             margin_px=np.int64(decomposition.margin_px), start=np.str_(decomposition.start), **appearance)
    write_png(out_dir / "static.png", decomposition.static)
    write_gif(out_dir / "motion.gif", velocity_to_rgb(decomposition.velocity, scale), fps=fps)
    write_gif(out_dir / "recon.gif", decomposition.recon, fps=fps)
    write_arrows_png(out_dir / "arrows.png", decomposition.static, decomposition.velocity)
    summary_path = Path(summary_path) if summary_path is not None else out_dir / "summary.json"
    update_json(summary_path, {**summary, "motion_scale_px_per_frame": float(scale)})
    return summary_path


def load_decomposition(path: str | os.PathLike) -> Decomposition:
    """Read a ``decomposition.npz`` written by :func:`save_decomposition`."""
    with np.load(path) as archive:
        # archives written before issue 16 have no appearance part: A is then the identity (None)
        appearance = {name: archive[name] for name in APPEARANCE_KEYS if name in archive.files}
        return Decomposition(static=archive["static"], displacement=archive["displacement"],
                             velocity=archive["velocity"], recon=archive["recon"],
                             static_canvas=archive["static_canvas"], margin_px=int(archive["margin_px"]),
                             start=str(archive["start"]) if "start" in archive.files else "motion", **appearance)
