"""DeconvNet projections (Zeiler & Fergus 2014) for 3D video networks (docs/baselines.md).

A projection shows which input structure excites one activation (or one whole feature map): the
chosen activation is kept, everything else in the layer is zeroed, and the signal is sent down:
max-pools are undone at their recorded switches, the top-down signal is rectified at every ReLU,
and each convolution is undone with its transposed filters (shared weights, no bias).

Two forms:

* :func:`project_explicit` does exactly those steps for a plain chain of Conv3d / BatchNorm3d /
  ReLU / MaxPool3d modules (the chain is traced and checked, not assumed).
* :func:`project_autograd` works for any model: the gradient of the selected activations with
  respect to the input, with every ``nn.ReLU``'s backward replaced by ``relu(grad_out)``. Max-pool
  backward already routes to the switches and conv backward is the transposed conv, so on a chain
  both forms agree (checked in tests to 1e-5). ReLUs called functionally (``F.relu``) are not seen.

Both return the projection in display space: RGB video (N, 3, T, H, W), the signal carried back
through the model's (affine) preprocessing as well.
"""

from __future__ import annotations

import contextlib
from typing import Iterator, Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from kernelvis.errors import BadInputError
from kernelvis.models.layers import resolve_layer, run_to_layer
from kernelvis.models.loaded import LoadedModel
from kernelvis.models.activation import explained_inplace_errors, layer_output

CHAIN_TYPES = (nn.Conv3d, nn.BatchNorm3d, nn.ReLU, nn.MaxPool3d)


# ---------------------------------------------------------------------------------------------
# The top signal: which activations are projected


def top_signal(output: torch.Tensor, kernels: Sequence[int], positions: Sequence[Sequence[int]] | None = None) -> torch.Tensor:
    """Zeros except, per batch element n, channel ``kernels[n]``: its whole map, or (with
    ``positions``) only its activation at ``positions[n] = (t, h, w)``; kept at its own value."""
    signal = torch.zeros_like(output)
    for n, kernel in enumerate(kernels):
        if positions is None:
            signal[n, kernel] = output[n, kernel]
        else:
            index = (n, kernel) + tuple(int(p) for p in positions[n])
            signal[index] = output[index]
    return signal


def _per_sample(kernels: int | Sequence[int], batch: int) -> list[int]:
    kernels = [int(kernels)] * batch if isinstance(kernels, (int, np.integer)) else [int(k) for k in kernels]
    if len(kernels) != batch:
        raise ValueError(f"{len(kernels)} kernels for a batch of {batch}")
    return kernels


def _through_preprocessing(model: LoadedModel, video01: torch.Tensor, input_signal: torch.Tensor) -> torch.Tensor:
    """Carry a model-input-space signal back to display space (the preprocessing is affine, so
    this is its transpose: channel flip, scale by value_scale/std)."""
    video = video01.detach().clone().requires_grad_(True)
    model_input = model.preprocessing(video)
    if isinstance(model_input, (list, tuple)):
        raise BadInputError("explicit DeconvNet does not handle multi-pathway inputs; use the autograd form")
    (signal,) = torch.autograd.grad(model_input, video, input_signal)
    return signal


# ---------------------------------------------------------------------------------------------
# Autograd form (any model)


class _RectifiedBackward(torch.autograd.Function):
    """ReLU forward; DeconvNet backward: rectify the top-down signal itself (not masked by the
    forward activations: that would be guided backprop)."""

    @staticmethod
    def forward(ctx, x):
        return x.clamp_min(0)

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output.clamp_min(0)


class _LinearBackward(torch.autograd.Function):
    """ReLU forward; identity backward: the signal reaches every input the unit is wired to,
    whatever the ReLU states (used to probe receptive fields)."""

    @staticmethod
    def forward(ctx, x):
        return x.clamp_min(0)

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output


RELU_BACKWARD_RULES = {"deconvnet": _RectifiedBackward, "identity": _LinearBackward}


@contextlib.contextmanager
def override_relu_backward(module: nn.Module, rule: str = "deconvnet") -> Iterator[int]:
    """Within the context every ``nn.ReLU`` of ``module`` back-propagates by ``rule``:
    ``deconvnet`` (``relu(grad_out)``) or ``identity``. In-place ReLUs are made out-of-place
    meanwhile (their own backward would mask the signal). Yields the number of ReLUs overridden."""
    function = RELU_BACKWARD_RULES[rule]
    relus = [m for m in module.modules() if isinstance(m, nn.ReLU)]
    inplace = [m.inplace for m in relus]
    handles = []
    try:
        for relu in relus:
            relu.inplace = False
            handles.append(relu.register_forward_hook(lambda _m, inputs, _out: function.apply(inputs[0])))
        yield len(relus)
    finally:
        for handle in handles:
            handle.remove()
        for relu, flag in zip(relus, inplace):
            relu.inplace = flag


def project_autograd(model: LoadedModel, layer: str, video01: torch.Tensor, kernels: int | Sequence[int],
                     positions: Sequence[Sequence[int]] | None = None) -> torch.Tensor:
    """DeconvNet projection of ``kernels`` (one per clip, or one for all) at ``layer`` for RGB clips
    ``video01`` (N, 3, T, H, W) in [0, 1]; returns (N, 3, T, H, W) in display space."""
    kernels = _per_sample(kernels, video01.shape[0])
    video = video01.detach().clone().requires_grad_(True)
    with torch.enable_grad(), override_relu_backward(model.module, "deconvnet"), explained_inplace_errors(model, layer):
        output = layer_output(model, layer, video)
        signal = top_signal(output.detach(), kernels, positions)
        (projection,) = torch.autograd.grad(output, video, signal)
    return projection


# ---------------------------------------------------------------------------------------------
# Explicit form (plain chains)


def trace_chain(model: LoadedModel, layer: str, video01: torch.Tensor) -> list[nn.Module]:
    """The leaf modules that run from the model input up to ``layer``, checked to form a plain
    chain (each one consumes the previous one's output) of Conv3d/BatchNorm3d/ReLU/MaxPool3d."""
    target = resolve_layer(model.module, layer)
    model_input = model.preprocessing(video01)
    if isinstance(model_input, (list, tuple)):
        raise BadInputError("explicit DeconvNet needs a single-pathway model; use the autograd form")
    calls: list[tuple[nn.Module, torch.Tensor, torch.Tensor]] = []
    handles = [m.register_forward_hook(lambda m, i, o: calls.append((m, i[0] if i else None, o)))
               for m in model.module.modules() if not list(m.children()) or m is target]
    try:
        with torch.no_grad():
            target_output = run_to_layer(model.module, layer, model_input).clone()
    finally:
        for handle in handles:
            handle.remove()
    not_a_chain = BadInputError(
        f"explicit DeconvNet needs a plain Conv3d/BatchNorm3d/ReLU/MaxPool3d chain up to {layer!r}; "
        "use the autograd form (--mode autograd)")
    chain, previous = [], model_input
    for module, inputs, output in calls:
        if not isinstance(module, CHAIN_TYPES) or inputs is not previous:
            raise not_a_chain
        chain.append(module)
        previous = output
        if module is target:
            break
    else:
        raise BadInputError(f"layer {layer!r} was not reached by the forward pass")
    # Tensor identity alone is fooled by in-place operations between modules (a residual ``out += x``
    # keeps the tensor object), so the chain must also reproduce the layer's output.
    with torch.no_grad():
        replay = model.preprocessing(video01)
        for module in chain:
            replay = module(replay)
    if replay.shape != target_output.shape or not torch.allclose(replay, target_output, rtol=1e-4,
                                                                  atol=1e-5 * float(target_output.abs().max()) + 1e-8):
        raise not_a_chain
    return chain


def _unpool(signal: torch.Tensor, switches: torch.Tensor, input_shape: torch.Size) -> torch.Tensor:
    """Place each pooled value at its switch; overlapping windows that share a switch add up."""
    n, c = signal.shape[:2]
    flat = torch.zeros(n, c, int(np.prod(input_shape[2:])), dtype=signal.dtype, device=signal.device)
    flat.scatter_add_(2, switches.flatten(2), signal.flatten(2))
    return flat.view(input_shape)


def _transposed_conv(signal: torch.Tensor, conv: nn.Conv3d, input_shape: torch.Size) -> torch.Tensor:
    if isinstance(conv.padding, str) or conv.padding_mode != "zeros":
        raise BadInputError(f"explicit DeconvNet supports zero-padded Conv3d with numeric padding, not {conv}")
    expected = [(o - 1) * s - 2 * p + d * (k - 1) + 1 for o, s, p, d, k in
                zip(signal.shape[2:], conv.stride, conv.padding, conv.dilation, conv.kernel_size)]
    output_padding = tuple(int(i - e) for i, e in zip(input_shape[2:], expected))
    return F.conv_transpose3d(signal, conv.weight, None, conv.stride, conv.padding, output_padding,
                              conv.groups, conv.dilation)


def _batchnorm_scale(norm: nn.BatchNorm3d) -> torch.Tensor:
    """Eval-mode BatchNorm is affine; its linear part scales channel c by gamma_c / sigma_c."""
    scale = torch.rsqrt(norm.running_var + norm.eps)
    if norm.weight is not None:
        scale = scale * norm.weight
    return scale.view(1, -1, 1, 1, 1)


def project_explicit(model: LoadedModel, layer: str, video01: torch.Tensor, kernels: int | Sequence[int],
                     positions: Sequence[Sequence[int]] | None = None) -> torch.Tensor:
    """Zeiler & Fergus's DeconvNet, step by step (unpool at switches, rectify, transposed filters)
    on the traced chain up to ``layer``; same arguments and result as :func:`project_autograd`."""
    kernels = _per_sample(kernels, video01.shape[0])
    chain = trace_chain(model, layer, video01[:1])
    with torch.no_grad():
        x = model.preprocessing(video01.detach())
        records = []
        for module in chain:
            if isinstance(module, nn.MaxPool3d):
                y, switches = F.max_pool3d(x, module.kernel_size, module.stride, module.padding, module.dilation,
                                           module.ceil_mode, return_indices=True)
                records.append((x.shape, switches))
            else:
                if isinstance(module, nn.BatchNorm3d) and module.training:
                    raise BadInputError("explicit DeconvNet needs the model in eval mode")
                y = module(x)
                records.append((x.shape, None))
            x = y
        signal = top_signal(x, kernels, positions)
        for module, (input_shape, switches) in zip(reversed(chain), reversed(records)):
            if isinstance(module, nn.MaxPool3d):
                signal = _unpool(signal, switches, input_shape)
            elif isinstance(module, nn.ReLU):
                signal = signal.clamp_min(0)
            elif isinstance(module, nn.BatchNorm3d):
                signal = signal * _batchnorm_scale(module)
            else:
                signal = _transposed_conv(signal, module, input_shape)
    return _through_preprocessing(model, video01, signal)


def project(model: LoadedModel, layer: str, video01: torch.Tensor, kernels: int | Sequence[int],
            positions: Sequence[Sequence[int]] | None = None, mode: str = "autograd") -> torch.Tensor:
    """DeconvNet projection with ``mode`` ``autograd`` (any model) or ``explicit`` (plain chains)."""
    if mode == "autograd":
        return project_autograd(model, layer, video01, kernels, positions)
    if mode == "explicit":
        return project_explicit(model, layer, video01, kernels, positions)
    raise BadInputError(f"unknown DeconvNet mode {mode!r}; choose autograd or explicit")


# ---------------------------------------------------------------------------------------------
# First-layer kernels


def first_layer_kernels(model: LoadedModel, layer: str | None = None) -> tuple[str, np.ndarray]:
    """The first Conv3d taking the RGB input (or ``layer``) and its weights as display slices:
    float32 [C, kT, kh, kw, 3] in [0, 1], RGB order (channels flipped back for BGR models)."""
    module = model.module
    if layer is None:
        layer = next((name for name, m in module.named_modules() if isinstance(m, nn.Conv3d) and m.in_channels == 3), None)
        if layer is None:
            raise BadInputError("the model has no Conv3d with 3 input channels")
    conv = resolve_layer(module, layer)
    weight = getattr(conv, "weight", None)
    if weight is None or weight.ndim != 5 or weight.shape[1] != 3:
        raise BadInputError(f"layer {layer!r} is not a 3D convolution on RGB input")
    weight = weight.detach().cpu().numpy()
    if model.preprocessing.channel_order == "BGR":
        weight = weight[:, ::-1]
    return layer, kernel_slices(weight)


def kernel_slices(weight: np.ndarray, shared: str = "kernel") -> np.ndarray:
    """Conv3d weights [C, 3, kT, kh, kw] -> [C, kT, kh, kw, 3] in [0, 1] with grey = 0.

    ``shared="kernel"``: one symmetric scale per kernel over all its temporal slices, so a change
    over time shows as a change in the image (per-slice normalization would hide it);
    ``shared="layer"``: one scale for the whole layer, so weak kernels look weak.
    """
    weight = np.asarray(weight, dtype=np.float32).transpose(0, 2, 3, 4, 1)
    if shared == "kernel":
        peak = np.abs(weight).reshape(weight.shape[0], -1).max(axis=1).reshape(-1, 1, 1, 1, 1)
    elif shared == "layer":
        peak = np.full((1, 1, 1, 1, 1), np.abs(weight).max())
    else:
        raise ValueError(f"shared must be 'kernel' or 'layer', not {shared!r}")
    return (0.5 + 0.5 * weight / np.maximum(peak, 1e-12)).astype(np.float32)
