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
