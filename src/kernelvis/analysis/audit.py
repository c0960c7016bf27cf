"""The optimality audit: is a kernel's "optimal" input really better than what it meets elsewhere?

An optimal input is only worth showing if the kernel responds to it at least as strongly as to the best
stimulus of its tuning sweep (gratings, plaids, random dots) and to the best natural clip of the clip set.
All three are measured the same way: the objective and preprocessing stage 1 used (read from
``optimal.npz``), on the un-transformed clip, the forward pass stopped at the layer. The audit is a
measurement: a kernel that fails it is marked wherever it is drawn, never a reason to stop a run.

It also measures where a kernel's output is positive at all: a kernel nowhere positive on its optimal input, its
tuning sweep and every clip of the clip set is *silent* (:func:`kernelvis.analysis.verdict.kernel_status`). The verdicts drawn from
these measurements (torch-free, for the drawing and checking commands) are in :mod:`kernelvis.analysis.verdict`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
import numpy as np
import torch

from kernelvis.models.loaded import LoadedModel
from kernelvis.models.preprocessing import Preprocessing
from kernelvis.models.activation import layer_output, select_response

@dataclass(frozen=True)
class NaturalResponses:
    responses: np.ndarray
    """float64 [n_clips]: the objective on every clip."""
    best_index: int
    best_activation: float
    max_response: float
    """The largest value of the kernel's map over every clip and position (≤ 0: silent on the set)."""


@torch.no_grad()
def natural_responses_of_kernels(model: LoadedModel, layer: str, kernels: list[int], objectives: list[str],
                                 clips: np.ndarray, preprocessing: Preprocessing, batch_size: int = 16,
                                 device: str | torch.device = "cpu") -> list[NaturalResponses]:
    """Each kernel's objective on each clip (float32 [N, T, H, W, 3] in [0, 1] at the model's clip shape), from
    one pass of the clip set through the model for all ``kernels`` (objective ``objectives[i]`` for
    ``kernels[i]``). A kernel's numbers do not depend on which other kernels are measured with it."""
    model.module.to(device)
    responses = [[] for _ in kernels]
    map_max = [-math.inf] * len(kernels)
    for start in range(0, len(clips), batch_size):
        video01 = torch.from_numpy(np.ascontiguousarray(clips[start:start + batch_size], dtype=np.float32))
        output = layer_output(model, layer, video01.permute(0, 4, 1, 2, 3).to(device), preprocessing)
        for position, (kernel, objective) in enumerate(zip(kernels, objectives)):
            responses[position].append(select_response(output, [kernel], objective).double().cpu().numpy())
            map_max[position] = max(map_max[position], float(output[:, kernel].max()))
    results = []
    for kernel_responses, kernel_max in zip(responses, map_max):
        values = np.concatenate(kernel_responses) if kernel_responses else np.zeros(0)
        best = int(np.argmax(values)) if len(values) else -1
        results.append(NaturalResponses(values, best, float(values[best]) if best >= 0 else math.nan, kernel_max))
    return results


def natural_responses(model: LoadedModel, layer: str, kernel: int, clips: np.ndarray, objective: str,
                      preprocessing: Preprocessing, batch_size: int = 16,
                      device: str | torch.device = "cpu") -> NaturalResponses:
    """The kernel's objective on each clip (float32 [N, T, H, W, 3] in [0, 1] at the model's clip shape)."""
    (result,) = natural_responses_of_kernels(model, layer, [kernel], [objective], clips, preprocessing, batch_size,
                                             device)
    return result


def natural_responses_like(model: LoadedModel, layer: str, kernel: int, clips: np.ndarray, video: np.ndarray,
                           objective: str, preprocessing: Preprocessing,
                           device: str | torch.device = "cpu") -> NaturalResponses:
    """:func:`natural_responses` of a clip set (uint8 or [0, 1], any size) brought to the frames and (H, W) of
    ``video`` (the optimal input [T, H, W, 3]), so both are measured on clips of one shape."""
    from kernelvis.analysis.faithfulness import fit_clips

    return natural_responses(model, layer, kernel, fit_clips(clips, video.shape[0], tuple(video.shape[1:3])),
                             objective, preprocessing, device=device)


def audit_reference_clips(model: LoadedModel, layer: str, results, preprocessing: Preprocessing,
                          clips: np.ndarray | None = None, tuning_config=None,
                          device: str | torch.device = "cpu") -> list[dict]:
    """The clips the audit compares stage 1's results against, as :func:`kernelvis.optimize.api.reference_restart`
    takes them: per result (an :class:`~kernelvis.optimize.api.OptimalInput` of a kernel of ``layer``),
    ``{"tuning": the best stimulus of its tuning sweep, "natural": its best clip of ``clips``}`` (float32
    [T, H, W, 3] in [0, 1] at the optimal input's shape), each found with the result's objective and
    ``preprocessing``. ``tuning_config``: the sweep (default ``TuningConfig()``, the sweep the workflow's tuning stage
    runs); ``clips``: a clip set (uint8 or [0, 1], any size; None: no natural reference). One sweep and one pass
    over the clips per objective of the layer, all kernels at once."""
    from dataclasses import replace

    from kernelvis.analysis.faithfulness import fit_clips
    from kernelvis.analysis.tuning import BLANK, TuningConfig, channel_responses, render_condition, sweep_responses
    from kernelvis.models.preprocessing import clip_frame_shape

    if not results:
        return []
    frames, height, width = results[0].video.shape[:3]
    if any(result.video.shape[:3] != (frames, height, width) for result in results):
        raise ValueError("the optimal inputs of one call must share their clip shape")
    config = tuning_config or TuningConfig()
    size = None if (height, width) == clip_frame_shape(model.preprocessing, None) else height
    if size is not None and height != width:
        raise ValueError(f"a {height}×{width} optimal input is neither the model's native frame nor square")
    config = replace(config, frames=frames, size=size)
    fitted = fit_clips(clips, frames, (height, width)) if clips is not None and len(clips) else None
    references: list[dict] = [{} for _ in results]
    for objective in sorted({result.objective for result in results}):
        rows = [i for i, result in enumerate(results) if result.objective == objective]
        kernels = [results[i].kernel for i in rows]
        conditions, responses = sweep_responses(model, layer, kernels, replace(config, objective=objective),
                                                preprocessing=preprocessing, device=device)
        stimulus = np.array([condition.stimulus != BLANK for condition in conditions])
        natural = (channel_responses(model, layer, kernels, fitted, objective, preprocessing, device=device)
                   if fitted is not None else None)
        for column, row in enumerate(rows):
            best = int(np.argmax(np.where(stimulus, responses[:, column], -np.inf)))
            references[row]["tuning"] = render_condition(conditions[best], frames, (height, width), config.contrast,
                                                         config.seed, config.dot_density)
            if natural is not None:
                references[row]["natural"] = fitted[int(np.argmax(natural[:, column]))]
    return references
