"""The one place that turns a display-space clip into a kernel's scalar response.

Every stage that asks "how much does kernel k like this clip" (stage 1, texture/motion
optimization, reliance indices, tuning, baselines) goes through :func:`kernel_activation`, so
preprocessing, truncation at the target layer and the objective are the same everywhere.
"""

from __future__ import annotations

from typing import Sequence

import torch

from kernelvis.models.layers import run_to_layer
from kernelvis.models.loaded import LoadedModel
from kernelvis.models.preprocessing import Preprocessing

OBJECTIVES = ("channel", "neuron")


def layer_output(model: LoadedModel, layer: str, video01: torch.Tensor,
                 preprocessing: Preprocessing | None = None) -> torch.Tensor:
    """The target layer's output (N, C, T', H', W') (or (N, C, H', W') for 2D layers) for RGB clips
    in [0, 1] shaped (N, 3, T, H, W); the forward pass stops at the layer."""
    preprocessing = preprocessing if preprocessing is not None else model.preprocessing
    return run_to_layer(model.module, layer, preprocessing(video01))


def select_response(output: torch.Tensor, kernels: Sequence[int] | torch.Tensor, objective: str = "channel") -> torch.Tensor:
    """Per batch element n, the response of channel ``kernels[n]``: its mean over all positions
    (``channel``, the paper's objective) or its value at the centre position (``neuron``)."""
    kernels = torch.as_tensor(kernels, device=output.device, dtype=torch.long).reshape(-1)
    if kernels.numel() == 1 and output.shape[0] > 1:
        kernels = kernels.expand(output.shape[0])
    if kernels.numel() != output.shape[0]:
        raise ValueError(f"{kernels.numel()} kernels for a batch of {output.shape[0]}")
    index = kernels.view(-1, *([1] * (output.ndim - 1))).expand(-1, 1, *output.shape[2:])
    maps = output.gather(1, index)[:, 0]  # (N, T', H', W')
    if objective == "channel":
        return maps.flatten(1).mean(1)
    if objective == "neuron":
        centre = tuple(size // 2 for size in maps.shape[1:])
        return maps[(slice(None),) + centre]
    raise ValueError(f"unknown objective {objective!r}; choose from {', '.join(OBJECTIVES)}")


def kernel_activation(model: LoadedModel, layer: str, video01: torch.Tensor, kernels: Sequence[int] | int,
                      objective: str = "channel", preprocessing: Preprocessing | None = None) -> torch.Tensor:
    """Differentiable response (N,) of ``kernels`` (one per batch element, or one for all) to ``video01``."""
    if isinstance(kernels, int):
        kernels = [kernels]
    return select_response(layer_output(model, layer, video01, preprocessing), kernels, objective)
