"""Texture-conditioned direction tuning of a set of kernels: each kernel's own stage-2 texture (and its refined
texture, when the refinement ran) translated rigidly in every direction at the visualized speed, half and
double it, measured with the kernel's stage-1 objective and preprocessing. Per kernel ``texture_tuning.csv``,
``texture_tuning.json`` and ``stage_texture_tuning.json``; the verdict "the visualized motion is where the
kernel wants this texture to move" is ``texture_agrees`` (the curve's peak within 30° of the visualized
direction)."""

from __future__ import annotations

from pathlib import Path

from kernelvis.stages import KernelSet
from kernelvis.stages.inputs import stage1_of, stage2_of
from kernelvis.stages.records import kernel_stage_output

REFINED_FILE = "refined.npz"


def refined_of(kernel_set: KernelSet, kernel: int, kernel_dir):
    """The refined texture and velocity ({static, velocity}) of ``kernel``: from memory, else refined.npz; None
    where the refinement did not run."""
    import numpy as np

    def load():
        path = Path(kernel_dir) / REFINED_FILE
        if not path.is_file():
            return None
        with np.load(path) as archive:
            return {"static": np.ascontiguousarray(archive["static"], np.float32),
                    "velocity": np.ascontiguousarray(archive["velocity"], np.float32)}

    return kernel_set.recall("refine", kernel, load)


def texture_tuning_stage(kernel_set: KernelSet, config=None, use_refined: bool = True) -> list[dict]:
    """Texture-conditioned tuning of every kernel of ``kernel_set`` (``config``: a
    :class:`~kernelvis.analysis.texture_tuning.TextureTuningConfig`, None for its defaults; ``use_refined``:
    also the refined texture, from memory or refined.npz). Kernels measured with the same preprocessing share
    forward passes. Returns each kernel's stage record (the flat scalars)."""
    from kernelvis.analysis.texture_tuning import (TextureTuningConfig, probes_for_kernel, save_texture_tuning,
                                                   texture_tuning)
    from kernelvis.optimize.api import model_preprocessing
    from kernelvis.provenance import make_provenance

    config = config or TextureTuningConfig()
    model, layer = kernel_set.model, kernel_set.layer
    probes, stage1s = {}, {}
    for kernel, kernel_dir in kernel_set.items():
        stage1 = stage1s[kernel] = stage1_of(kernel_set, kernel, kernel_dir)
        refined = refined_of(kernel_set, kernel, kernel_dir) if use_refined else None
        probes[kernel] = probes_for_kernel(kernel, stage1.video, stage2_of(kernel_set, kernel, kernel_dir), refined,
                                           stage1.objective, stage1.activation)
    results = {kernel: [] for kernel in kernel_set.kernels}
    for preprocessing in dict.fromkeys(stage1.preprocessing for stage1 in stage1s.values()):
        group = [probe for kernel in kernel_set.kernels if stage1s[kernel].preprocessing == preprocessing
                 for probe in probes[kernel]]
        for probe, result in zip(group, texture_tuning(model, layer, group, config,
                                                       model_preprocessing(model, preprocessing),
                                                       kernel_set.device)):
            results[probe.kernel].append(result)
    records = []
    for kernel, kernel_dir in kernel_set.items():
        stage1 = stage1s[kernel]
        provenance = make_provenance("texture_tuning", model, config, layer=layer, kernel=kernel,
                                     objective=stage1.objective, preprocessing=stage1.preprocessing,
                                     optimal=str(stage1.path), refined=use_refined)
        record = {"model": model.name, "layer": layer, "kernel": kernel}
        with kernel_stage_output(kernel_dir, "texture_tuning", record) as staging:
            record.update(save_texture_tuning(results[kernel], staging, model.name, layer, stage1.preprocessing,
                                              provenance))
        records.append(record)
    return records
