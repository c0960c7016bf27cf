"""Texture and motion optimized against each kernel of a set, and the kernel's reliance on each: per kernel
``refined.npz``, ``texture.png``, ``motion_refined.gif`` and ``stage_refine.json``. Every kernel is measured
with the objective and preprocessing its stage 1 used (read from stage 1's result)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from kernelvis.stages import KernelSet
from kernelvis.stages.inputs import stage1_of, stage2_of
from kernelvis.stages.records import kernel_stage_output


def write_refined(out_dir, arrays: dict, optimal_video) -> None:
    """refined.npz, texture.png (the refined texture under the frame) and motion_refined.gif
    (optimal input | refined HSV motion | refined reconstruction, as the paper's GIFs)."""
    from kernelvis.io import save_npz, write_gif, write_png
    from kernelvis.render.panels import side_by_side_frames

    save_npz(out_dir / "refined.npz", **arrays)
    write_png(out_dir / "texture.png", arrays["static"])
    write_gif(out_dir / "motion_refined.gif", side_by_side_frames(optimal_video, arrays["velocity"], arrays["recon"]))


def refine_stage(kernel_set: KernelSet, config, neutral_textures: int = 4, seed: int = 0) -> list[dict]:
    """Refinement and reliance of every kernel of ``kernel_set`` (``config``: a
    :class:`~kernelvis.analysis.refine_config.RefineConfig`, whose objective and preprocessing are replaced by
    each kernel's stage-1 ones; 0 steps evaluates the start only). Returns each kernel's record."""
    from kernelvis.analysis.reliance import refine_with_reliance

    records = []
    for kernel, kernel_dir in kernel_set.items():
        stage1, stage2 = stage1_of(kernel_set, kernel, kernel_dir), stage2_of(kernel_set, kernel, kernel_dir)
        kernel_config = replace(config, objective=stage1.objective, preprocessing=stage1.preprocessing,
                                device=kernel_set.device)
        _, arrays, scalars = refine_with_reliance(kernel_set.model, kernel_set.layer, kernel, stage1.video,
                                                  stage2.static_canvas, stage2.displacement, stage2.margin_px,
                                                  kernel_config, neutral_textures, seed)
        record = {"model": kernel_set.model.name, "layer": kernel_set.layer, "kernel": kernel,
                  "refine_objective": kernel_config.objective, "refine_preprocessing": kernel_config.preprocessing,
                  **scalars}
        with kernel_stage_output(kernel_dir, "refine", record) as staging:
            write_refined(staging, arrays, stage1.video)
        # what the texture-conditioned tuning reads of refined.npz, in the dtype it is stored in
        kernel_set.remember("refine", kernel, {"static": np.asarray(arrays["static"], np.float32),
                                               "velocity": np.asarray(arrays["velocity"], np.float32)})
        records.append(record)
    return records

