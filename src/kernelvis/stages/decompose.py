"""Stage 2 over a set of kernels: each optimal input decomposed into texture, motion and appearance change;
per kernel ``decomposition.npz``, its pictures (static.png, motion.gif, recon.gif, arrows.png) and
``stage_decompose.json``."""

from __future__ import annotations

from pathlib import Path

from kernelvis.stages import KernelSet
from kernelvis.stages.inputs import DECOMPOSITION_FILE, stage1_of, stage2_from_decomposition
from kernelvis.stages.records import kernel_stage_output


def decompose_into(video, metadata: dict, out_dir, config, motion_scale: float | None = None):
    """Decompose one video (float32 [T, H, W, 3] in [0, 1]) and write stage 2's files and record into
    ``out_dir``; ``metadata`` (model, layer, kernel, activation of an optimal input; empty for other videos)
    goes into the record. Returns (the :class:`~kernelvis.decompose.fit.Decomposition`, the record)."""
    from kernelvis.decompose.fit import decompose_video
    from kernelvis.decompose.save import save_decomposition_arrays
    from kernelvis.decompose.stats import motion_summary
    from kernelvis.render.decomposition import render_decomposition

    from kernelvis.provenance import make_provenance

    decomposition = decompose_video(video, config)
    record = {**metadata, **motion_summary(video, decomposition)}
    # how it was made: stage 2's whole config (its starts and weights change the motion), and which kernel
    provenance = {**{key: metadata[key] for key in ("model", "layer", "kernel") if key in metadata},
                  **make_provenance("decompose", None, config)}
    with kernel_stage_output(out_dir, "decompose", record) as staging:
        record["motion_scale_px_per_frame"] = render_decomposition(decomposition, staging, motion_scale)
        save_decomposition_arrays(decomposition, staging, provenance)
        record["provenance"] = provenance
    return decomposition, record


def decompose_stage(kernel_set: KernelSet, config, motion_scale: float | None = None) -> list:
    """Stage 2 of every kernel of ``kernel_set`` from its stage-1 optimal input (``config``: a
    :class:`~kernelvis.decompose.config.DecomposeConfig`; ``motion_scale``: px/frame at full HSV brightness,
    None for a robust per-kernel scale). Returns each kernel's record and leaves its
    :class:`~kernelvis.stages.inputs.Stage2` in memory."""
    records = []
    for kernel, kernel_dir in kernel_set.items():
        stage1 = stage1_of(kernel_set, kernel, kernel_dir)
        decomposition, record = decompose_into(stage1.video, stage1.metadata, kernel_dir, config, motion_scale)
        kernel_set.remember("decompose", kernel, stage2_from_decomposition(
            decomposition, Path(kernel_dir) / DECOMPOSITION_FILE, stage1.video.shape))
        records.append(record)
    return records


def decompose_file(video_path, out_dir, config, motion_scale: float | None = None):
    """``kernelvis decompose``: any video file (.npz key video, .gif, .mp4); an ``optimal.npz`` is decomposed
    exactly as :func:`decompose_stage` does its kernel. Returns (decomposition, record)."""
    from kernelvis.io import read_video
    from kernelvis.stages.inputs import load_stage1

    if _is_optimal_npz(video_path):  # read once, as stage 1's record (its video and how it was made)
        stage1 = load_stage1(video_path)
        return decompose_into(stage1.video, stage1.metadata, out_dir, config, motion_scale)
    # any other video; a missing or unreadable file is one line naming it
    return decompose_into(read_video(video_path), {}, out_dir, config, motion_scale)


def _is_optimal_npz(path) -> bool:
    """An existing .npz with stage 1's ``activation`` (only the archive's index is read, no array)."""
    import zipfile

    import numpy as np

    if Path(path).suffix.lower() != ".npz" or not Path(path).is_file():
        return False
    try:
        with np.load(path) as archive:
            return "activation" in archive.files
    except (OSError, ValueError, zipfile.BadZipFile):
        return False  # read_video says what is wrong with it
