"""Drawing a decomposition into a kernel directory: what a person looks at beside ``decomposition.npz``.

:func:`kernelvis.decompose.save.save_decomposition` writes the numbers; this draws them, every file atomically.
"""

from __future__ import annotations

import os
from pathlib import Path

FILES = ("static.png", "motion.gif", "recon.gif", "arrows.png")


def render_decomposition(decomposition, out_dir: str | os.PathLike, motion_scale_px_per_frame: float | None = None,
                         fps: float = 8.0) -> float:
    """Write ``static.png``, ``motion.gif`` (HSV: hue = direction, brightness = speed, frame 0 black),
    ``recon.gif`` and ``arrows.png`` (mean velocity over the static image) into ``out_dir``.

    ``motion_scale_px_per_frame``: speed shown at full brightness; None picks it robustly per clip
    (:func:`kernelvis.render.motion.robust_speed_scale`); pass one value to compare kernels.
    Returns the scale used, which the summary records as ``motion_scale_px_per_frame``.
    """
    from kernelvis.io import write_gif, write_png
    from kernelvis.render.arrows import write_arrows_png
    from kernelvis.render.motion import robust_speed_scale, velocity_to_rgb

    out_dir = Path(out_dir)
    scale = motion_scale_px_per_frame or robust_speed_scale(decomposition.velocity)
    write_png(out_dir / "static.png", decomposition.static)
    write_gif(out_dir / "motion.gif", velocity_to_rgb(decomposition.velocity, scale), fps=fps)
    write_gif(out_dir / "recon.gif", decomposition.recon, fps=fps)
    write_arrows_png(out_dir / "arrows.png", decomposition.static, decomposition.velocity)
    return float(scale)
