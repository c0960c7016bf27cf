"""The optimality audit of a set of kernels: each optimal input against the best stimulus of its tuning sweep
and the best natural clip of a clip set, all measured with the objective and preprocessing its stage 1 used.
Writes ``stage_audit.json`` per kernel; a kernel that fails is a measurement, never a failed run."""

from __future__ import annotations

import math
from pathlib import Path

from kernelvis.stages import KernelSet
from kernelvis.stages.inputs import stage1_of, tuning_of
from kernelvis.stages.records import kernel_stage_output


def audit_stage(kernel_set: KernelSet, clips_path=None, use_tuning: bool = True) -> list[dict]:
    """The audit record of every kernel of ``kernel_set``: against its tuning record (``use_tuning``; from memory
    or its tuning.json) and the clip set ``clips_path`` (None: no natural clips). Kernels measured with the same
    preprocessing share one pass of the clip set. Returns each kernel's record."""
    import torch

    from kernelvis.analysis.verdict import audit_verdict, kernel_status
    from kernelvis.models.activation import layer_output, select_response
    from kernelvis.optimize.api import model_preprocessing
    from kernelvis.provenance import make_provenance

    model, layer = kernel_set.model, kernel_set.layer
    stage1s = [stage1_of(kernel_set, kernel, kernel_dir) for kernel, kernel_dir in kernel_set.items()]
    naturals = _natural_responses(kernel_set, stage1s, clips_path)
    records = []
    for position, ((kernel, kernel_dir), stage1) in enumerate(zip(kernel_set.items(), stage1s)):
        preprocessing = model_preprocessing(model, stage1.preprocessing)
        with torch.no_grad():  # the optimal input measured as every reference is: untransformed, same objective
            model.module.to(kernel_set.device)
            clip = torch.from_numpy(stage1.video).permute(3, 0, 1, 2)[None].to(kernel_set.device)
            output = layer_output(model, layer, clip, preprocessing)
            optimal_activation = float(select_response(output, [kernel], stage1.objective)[0])
            optimal_max_response = float(output[0, kernel].max())
        record = {"model": model.name, "layer": layer, "kernel": kernel, "objective": stage1.objective,
                  "preprocessing": stage1.preprocessing, "status": "ok"}
        best_stimulus = math.nan
        tuning_path = None
        if use_tuning:
            tuning = tuning_of(kernel_set, kernel, kernel_dir)
            tuning_path = Path(kernel_dir) / "tuning.json"
            best_stimulus = float(tuning.get("best_stimulus_activation", tuning.get("best_grating_activation",
                                                                                     math.nan)))
            record["best_stimulus"] = tuning.get("best_stimulus", "")
        best_natural, natural_max_response = math.nan, math.nan
        if naturals is not None:
            natural, labels = naturals[0][position], naturals[1]
            best_natural, natural_max_response = natural.best_activation, natural.max_response
            record.update({"best_natural_clip": natural.best_index,
                           "best_natural_label": str(labels[natural.best_index]),
                           "natural_max_response": natural.max_response, "natural_clips": int(len(labels))})
        # silent: nowhere positive on the optimal input, the sweep (its best stimulus's objective, a lower bound of
        # the map's maximum) and every clip
        record["optimal_max_response"] = optimal_max_response
        record["status"], detail = kernel_status(None, optimal_max_response, best_stimulus, natural_max_response)
        if detail:
            record["status_detail"] = detail
        record.update(audit_verdict(optimal_activation, best_stimulus, best_natural))
        record["provenance"] = make_provenance("audit", model, None, layer=layer, kernel=kernel,
                                               objective=stage1.objective, preprocessing=stage1.preprocessing,
                                               optimal=str(stage1.path), tuning=tuning_path, clips=clips_path)
        with kernel_stage_output(kernel_dir, "audit", record):
            pass
        records.append(record)
    return records


def _natural_responses(kernel_set: KernelSet, stage1s, clips_path):
    """([NaturalResponses per kernel], labels) of the clip set, or None without one. The clips are brought to
    each optimal input's shape; kernels sharing a shape and preprocessing share one pass."""
    if not clips_path:
        return None
    from kernelvis.analysis.audit import natural_responses_of_kernels
    from kernelvis.analysis.faithfulness import fit_clips
    from kernelvis.baselines.dataset_examples import load_clips
    from kernelvis.optimize.api import model_preprocessing

    clips, labels = load_clips(clips_path)
    results = [None] * len(stage1s)
    groups = {}
    for position, stage1 in enumerate(stage1s):
        groups.setdefault((stage1.video.shape, stage1.preprocessing), []).append(position)
    for (shape, preprocessing), positions in groups.items():
        fitted = fit_clips(clips, shape[0], tuple(shape[1:3]))
        measured = natural_responses_of_kernels(
            kernel_set.model, kernel_set.layer, [kernel_set.kernels[i] for i in positions],
            [stage1s[i].objective for i in positions], fitted,
            model_preprocessing(kernel_set.model, preprocessing), device=kernel_set.device)
        for position, natural in zip(positions, measured):
            results[position] = natural
    return results, labels
