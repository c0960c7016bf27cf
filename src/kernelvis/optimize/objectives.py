"""Objectives: what the optimizer maximizes, as small composable functions of the layer output.

An objective is any callable ``(output, kernels) -> Tensor (N,)``: ``output`` is the target layer's
output for the whole batch (N, C, T', H', W'), ``kernels`` (N,) the channel each element works on.
It returns one value per element, to be MAXIMIZED. Because it sees the whole batch, a later term can
couple elements (diversity) or look at the other channels (suppression of the rest of the layer).

The kernel's *activation* (what is reported and used to pick the best restart) is always the plain
response from :func:`kernelvis.models.activation.select_response`; extra terms only shape the search.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch

from kernelvis.models.activation import OBJECTIVES, select_response

Objective = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def channel_mean(output: torch.Tensor, kernels: torch.Tensor) -> torch.Tensor:
    """The paper's objective: the kernel's output averaged over time and space (pre-activation)."""
    return select_response(output, kernels, "channel")


def rectified_mean(output: torch.Tensor, kernels: torch.Tensor) -> torch.Tensor:
    """The mean of the kernel's positive output: on a linear layer, unlike the plain mean, it depends on
    what the kernel's weights look like, not only on their sum."""
    return select_response(output, kernels, "rectified")


def smooth_rectified_mean(output: torch.Tensor, kernels: torch.Tensor, temperature: torch.Tensor) -> torch.Tensor:
    """The rectified mean's smooth surrogate: the mean of τ·softplus(A/τ) over the kernel's map, per element with
    its own temperature τ (N,) (0 = the hard rectified mean). Unlike max(A, 0), its gradient is never zero: on a
    map that is negative everywhere it weights every position by sigmoid(A/τ), i.e. it pushes up first the
    positions closest to firing, so a start below zero everywhere still moves (issue 24). As τ → 0 it tends to the
    rectified mean from above (the gap is at most τ·log 2)."""
    kernels = torch.as_tensor(kernels, device=output.device, dtype=torch.long).reshape(-1)
    index = kernels.view(-1, *([1] * (output.ndim - 1))).expand(-1, 1, *output.shape[2:])
    flat = output.gather(1, index)[:, 0].flatten(1)
    temperature = torch.as_tensor(temperature, dtype=flat.dtype, device=flat.device).reshape(-1, 1)
    hard = temperature <= 0
    safe = torch.where(hard, torch.ones_like(temperature), temperature)
    smooth = safe * torch.nn.functional.softplus(flat / safe)
    return torch.where(hard, flat.clamp(min=0), smooth).mean(1)


def map_scale(output: torch.Tensor, kernels: torch.Tensor) -> torch.Tensor:
    """Per element, the root mean square of its kernel's map (detached): the scale a surrogate's temperature is
    measured in, from the element's own map only (no batch-wide statistic: results stay batch-independent)."""
    kernels = torch.as_tensor(kernels, device=output.device, dtype=torch.long).reshape(-1)
    index = kernels.view(-1, *([1] * (output.ndim - 1))).expand(-1, 1, *output.shape[2:])
    flat = output.detach().gather(1, index)[:, 0].flatten(1)
    return flat.pow(2).mean(1).sqrt()


def centre_neuron(output: torch.Tensor, kernels: torch.Tensor) -> torch.Tensor:
    """The kernel's output at the centre position (t, y, x) of its map."""
    return select_response(output, kernels, "neuron")


def response_objective(name: str) -> Objective:
    """``channel``, ``rectified`` or ``neuron`` as an objective callable (``auto`` must be resolved first)."""
    table = {"channel": channel_mean, "rectified": rectified_mean, "neuron": centre_neuron}
    if name not in table:
        raise ValueError(f"unknown objective {name!r}; choose from {', '.join(OBJECTIVES)}")
    return table[name]


def weighted_sum(terms: Sequence[tuple[float, Objective]]) -> Objective:
    """Σ weight · term(output, kernels): e.g. ``weighted_sum([(1, channel_mean), (-0.1, other_channels)])``."""
    terms = [(float(weight), term) for weight, term in terms]
    if not terms:
        raise ValueError("weighted_sum needs at least one term")

    def combined(output: torch.Tensor, kernels: torch.Tensor) -> torch.Tensor:
        return sum(weight * term(output, kernels) for weight, term in terms)

    return combined
