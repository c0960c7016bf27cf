"""Addressing layers and kernels by name, and running a model only up to a layer.

Layers are addressed by their ``named_modules()`` name (``layer2.0.conv1.0``); kernels by output
channel. :func:`run_to_layer` stops the forward pass as soon as the target module has produced its
output, so nothing after the target is computed; this works for any architecture (residual,
multi-pathway, inception-style) because it does not rely on the order of children.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

import torch
import torch.nn as nn

from kernelvis.errors import BadInputError

CONV_TYPES = (nn.Conv3d, nn.Conv2d)


@dataclass(frozen=True)
class LayerInfo:
    name: str
    type: str
    out_channels: int
    kernel_size: tuple[int, ...]


def _out_channels(module: nn.Module) -> int | None:
    channels = getattr(module, "out_channels", None)
    return int(channels) if channels is not None else None


def conv_layers(module: nn.Module) -> list[LayerInfo]:
    """Every convolution (Conv3d, and Conv2d for 2D-on-frames models, plus any module that declares
    ``out_channels`` and ``kernel_size`` such as a 3TConv layer), in definition order."""
    infos = []
    for name, child in module.named_modules():
        if not name:
            continue
        is_conv = isinstance(child, CONV_TYPES) or (
            hasattr(child, "out_channels") and hasattr(child, "kernel_size") and hasattr(child, "weight"))
        if is_conv:
            kernel = child.kernel_size
            kernel = tuple(int(k) for k in (kernel if isinstance(kernel, (tuple, list)) else (kernel,)))
            infos.append(LayerInfo(name, type(child).__name__, int(child.out_channels), kernel))
    return infos


def resolve_layer(module: nn.Module, name: str) -> nn.Module:
    """The module called ``name``; a bad name raises an error that lists close or valid names."""
    modules = dict(module.named_modules())
    if name and name in modules:
        return modules[name]
    convs = [info.name for info in conv_layers(module)]
    close = difflib.get_close_matches(name, list(modules), n=5, cutoff=0.5)
    if close:
        hint = "close matches: " + ", ".join(close)
    elif len(convs) <= 30:
        hint = "conv layers: " + ", ".join(convs)
    else:
        hint = f"{len(convs)} conv layers, e.g. {', '.join(convs[:8])} … (see `kernelvis layers`)"
    raise BadInputError(f"unknown layer {name!r}; {hint}")


def layer_channels(module: nn.Module, name: str) -> int | None:
    """Output channels of a layer if the module declares them (convs do)."""
    return _out_channels(resolve_layer(module, name))


def check_kernels(module: nn.Module, layer: str, kernels) -> list[int]:
    """Validate kernel indices against the layer's output channels; returns them as ints."""
    channels = layer_channels(module, layer)
    kernels = [int(k) for k in ([kernels] if isinstance(kernels, int) else kernels)]
    for kernel in kernels:
        if kernel < 0 or (channels is not None and kernel >= channels):
            raise BadInputError(f"kernel {kernel} out of range for layer {layer!r}: valid 0..{channels - 1}")
    return kernels


class _ReachedTarget(Exception):
    pass


def run_to_layer(module: nn.Module, layer: str, inputs) -> torch.Tensor:
    """Run ``module(inputs)`` and return the output of submodule ``layer``, stopping right there.

    The forward pass is aborted by an exception raised in a forward hook, so no layer after the
    target runs (no wasted compute, no shape errors in heads that expect other sizes). Gradients
    flow from the returned tensor back to ``inputs`` as usual. If ``layer`` is used several times in
    one forward pass, the first call's output is returned.
    """
    target = resolve_layer(module, layer)
    captured: list[torch.Tensor] = []

    def hook(_module, _inputs, output):
        captured.append(output)
        raise _ReachedTarget

    handle = target.register_forward_hook(hook)
    try:
        module(inputs)
    except _ReachedTarget:
        pass
    finally:
        handle.remove()
    if not captured:
        raise BadInputError(f"layer {layer!r} was not reached by the forward pass")
    output = captured[0]
    if isinstance(output, (list, tuple)):
        output = output[0]
    return output
