"""The one place that turns a display-space clip into a kernel's scalar response.

Every stage that asks "how much does kernel k like this clip" (stage 1, texture/motion
optimization, reliance indices, tuning, baselines) goes through :func:`kernel_activation`, so
preprocessing, truncation at the target layer and the objective are the same everywhere.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from typing import Sequence

import torch

from kernelvis.errors import BadInputError
from kernelvis.models.layers import run_to_layer
from kernelvis.models.loaded import LoadedModel
from kernelvis.models.preprocessing import Preprocessing

OBJECTIVES = ("channel", "rectified", "neuron")
"""``channel``: the paper's mean of the kernel's map; ``rectified``: the mean of its positive part (well
posed where the layer is linear in the pixels, see :mod:`kernelvis.models.linearity`); ``neuron``: the
value at the centre position."""
OBJECTIVE_CHOICES = ("auto",) + OBJECTIVES
"""What a user may ask for: ``auto`` resolves to ``rectified`` on layers that are affine in the pixels and
to ``channel`` elsewhere (:func:`kernelvis.models.linearity.resolve_objective`)."""


def layer_output(model: LoadedModel, layer: str, video01: torch.Tensor,
                 preprocessing: Preprocessing | None = None) -> torch.Tensor:
    """The target layer's output (N, C, T', H', W') (or (N, C, H', W') for 2D layers) for RGB clips
    in [0, 1] shaped (N, 3, T, H, W); the forward pass stops at the layer."""
    preprocessing = preprocessing if preprocessing is not None else model.preprocessing
    return run_to_layer(model.module, layer, preprocessing(video01))


def select_response(output: torch.Tensor, kernels: Sequence[int] | torch.Tensor, objective: str = "channel") -> torch.Tensor:
    """Per batch element n, the response of channel ``kernels[n]``: its mean over all positions
    (``channel``, the paper's objective), the mean of its positive part (``rectified``) or its value at
    the centre position (``neuron``)."""
    kernels = torch.as_tensor(kernels, device=output.device, dtype=torch.long).reshape(-1)
    if kernels.numel() == 1 and output.shape[0] > 1:
        kernels = kernels.expand(output.shape[0])
    if kernels.numel() != output.shape[0]:
        raise ValueError(f"{kernels.numel()} kernels for a batch of {output.shape[0]}")
    index = kernels.view(-1, *([1] * (output.ndim - 1))).expand(-1, 1, *output.shape[2:])
    maps = output.gather(1, index)[:, 0]  # (N, T', H', W')
    if objective == "channel":
        return maps.flatten(1).mean(1)
    if objective == "rectified":
        flat = maps.flatten(1)
        value = flat.clamp(min=0).mean(1)
        # With no position above zero (a start near grey can lie wholly below it, e.g. TransNetV2's
        # first-block kernels) the rectified mean has no gradient at all and ascent never moves; there,
        # borrow the plain mean's gradient. The value is unchanged (mean - mean.detach() is 0).
        stuck = (value == 0).to(flat.dtype)
        mean = flat.mean(1)
        return value + stuck * (mean - mean.detach())
    if objective == "neuron":
        centre = tuple(size // 2 for size in maps.shape[1:])
        return maps[(slice(None),) + centre]
    raise ValueError(f"unknown objective {objective!r}; choose from {', '.join(OBJECTIVES)}")


def select_responses(output: torch.Tensor, kernels: Sequence[int] | torch.Tensor,
                     objectives: Sequence[str]) -> torch.Tensor:
    """Like :func:`select_response` with one objective per batch element (kernels of one batch may need
    different objectives: ``auto`` resolves per kernel)."""
    if len(set(objectives)) == 1:
        return select_response(output, kernels, objectives[0])
    kernels = torch.as_tensor(kernels, device=output.device, dtype=torch.long).reshape(-1)
    result = torch.empty(output.shape[0], dtype=output.dtype, device=output.device)
    for name in sorted(set(objectives)):
        rows = torch.tensor([i for i, objective in enumerate(objectives) if objective == name], device=output.device)
        result = result.index_copy(0, rows, select_response(output.index_select(0, rows), kernels[rows], name))
    return result


def kernel_activation(model: LoadedModel, layer: str, video01: torch.Tensor, kernels: Sequence[int] | int,
                      objective: str = "channel", preprocessing: Preprocessing | None = None) -> torch.Tensor:
    """Differentiable response (N,) of ``kernels`` (one per batch element, or one for all) to ``video01``."""
    if isinstance(kernels, int):
        kernels = [kernels]
    return select_response(layer_output(model, layer, video01, preprocessing), kernels, objective)


class InPlaceModelError(BadInputError):
    """The model changes, in place, a tensor that autograd needs for the gradient to the input."""


def _inplace_modules(module: torch.nn.Module) -> list[str]:
    return [name for name, child in module.named_modules() if name and getattr(child, "inplace", False) is True]


@contextmanager
def explained_inplace_errors(model: LoadedModel | None = None, layer: str | None = None):
    """Around a backward pass through ``model``: autograd's "modified by an inplace operation"
    failure becomes one line that names the cause and the fix (the traceback helps nobody who did
    not write the model's forward)."""
    try:
        yield
    except RuntimeError as error:
        text = str(error)
        if "modified by an inplace operation" not in text:
            raise
        found = re.search(r"\[(torch\.\w+) \[([\d, ]+)\]\], which is output \d+ of (\w+)", text)
        tensor = f" (a [{found.group(2)}] output of {found.group(3)})" if found else ""
        flagged = _inplace_modules(model.module) if model is not None else []
        modules = f"; modules with inplace=True: {', '.join(flagged[:4])}{' …' if len(flagged) > 4 else ''}" if flagged else ""
        who = f"model {model.name!r}" if model is not None else "the model"
        where = f" of layer {layer!r}" if layer else ""
        raise InPlaceModelError(
            f"{who} modifies in place a tensor that autograd needs for the gradient{where}{tensor}, e.g. `x += shortcut` after a ReLU or nn.ReLU(inplace=True){modules}; "
            "use out-of-place ops (`x = x + shortcut`) or inplace=False in the model's forward") from None
