"""The 3TConv layer (Ras et al. 2020; docs/baselines.md): a 3D kernel built from one 2D slice and learned
per-time-step affine transformations.

A :class:`Conv3T` filter with temporal size ``kT`` learns a 2D slice ``k0`` and, for every transition
``i = 1 .. kT-1``, four scalars: scale ``s_i``, rotation ``r_i`` (radians) and translation
``(tx_i, ty_i)``. Transition ``i`` is the inverse (output -> input) sampling map

    θ_i = s_i · R(r_i) · [I | t_i]        in ``affine_grid``'s normalized [-1, 1] kernel coordinates,

and slice ``k_i = grid_sample(k_{i-1}, affine_grid(θ_i), align_corners=True)`` ("seq" mode: each slice
is the previous one transformed, so the net map is θ_1 ∘ … ∘ θ_i). The weight is an ordinary
conv3d weight rebuilt from the parameters in every forward pass (a plain tensor, so the module stays
``torch.compile``/DDP friendly). Identity initialization (s = 1, r = t = 0) makes the filter the 2D
slice repeated in time.

Sign conventions (θ maps output to input): content *moves opposite* to ``(tx, ty)`` and shrinks when
``s > 1``. With ``align_corners=True`` one pixel is ``2 / (k - 1)`` normalized units, so a slice content
velocity of ``(vx, vy)`` px/frame (x right, y down, as in the README's Conventions) is ``tx = -2 vx / (kw - 1)``,
``ty = -2 vy / (kh - 1)``: see :func:`translation_from_velocity` and :func:`velocity_from_translation`.
Because conv3d is a cross-correlation, a kernel whose slices move right prefers content moving right.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.modules.utils import _triple

from kernelvis.models.demo import DEMO_NUM_CLASSES, DemoNet

MODES = ("seq", "naive")


def translation_from_velocity(vx_px_per_frame, vy_px_per_frame, kernel_hw: tuple[int, int]):
    """Normalized (tx, ty) of a transition that moves slice content by (vx, vy) px (x right, y down)."""
    kh, kw = kernel_hw
    return -2.0 * vx_px_per_frame / max(kw - 1, 1), -2.0 * vy_px_per_frame / max(kh - 1, 1)


def velocity_from_translation(tx, ty, kernel_hw: tuple[int, int]):
    """Inverse of :func:`translation_from_velocity`: content motion in px of a pure translation (tx, ty)."""
    kh, kw = kernel_hw
    return -0.5 * tx * (kw - 1), -0.5 * ty * (kh - 1)


def transition_matrices(scale: torch.Tensor, rotation_rad: torch.Tensor, tx: torch.Tensor,
                        ty: torch.Tensor) -> torch.Tensor:
    """θ = s · R(r) · [I | t] for parameter tensors of equal shape (...): returns (..., 2, 3)."""
    cos, sin = torch.cos(rotation_rad), torch.sin(rotation_rad)
    rows = [torch.stack([cos, -sin, tx * cos - ty * sin], dim=-1),
            torch.stack([sin, cos, tx * sin + ty * cos], dim=-1)]
    return scale[..., None, None] * torch.stack(rows, dim=-2)


class Conv3T(nn.Module):
    """A 3D convolution whose kernel is a 2D slice moved through time by learned affine transforms.

    Learned: ``k0`` (C_out, C_in/groups, kh, kw) and ``scale``, ``rotation_rad``, ``tx``, ``ty`` each
    shaped (kT-1, C_out); ``bias`` as usual. ``weight`` (read-only) is the materialized conv3d weight
    (C_out, C_in/groups, kT, kh, kw), so :func:`kernelvis.models.conv_layers` lists the layer.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, mode: str = "seq"):
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"unknown Conv3T mode {mode!r}; choose from {', '.join(MODES)}")
        self.in_channels, self.out_channels, self.groups, self.mode = in_channels, out_channels, groups, mode
        self.kernel_size = _triple(kernel_size)
        self.stride, self.padding, self.dilation = _triple(stride), _triple(padding), _triple(dilation)
        frames, height, width = self.kernel_size
        transitions = frames - 1
        self.k0 = nn.Parameter(torch.empty(out_channels, in_channels // groups, height, width))
        self.scale = nn.Parameter(torch.ones(transitions, out_channels))
        self.rotation_rad = nn.Parameter(torch.zeros(transitions, out_channels))
        self.tx = nn.Parameter(torch.zeros(transitions, out_channels))
        self.ty = nn.Parameter(torch.zeros(transitions, out_channels))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        # Conv2d's default initialization of the slice (N(0,1) in the reference code explodes without BN).
        nn.init.kaiming_uniform_(self.k0, a=math.sqrt(5))

    def theta(self) -> torch.Tensor:
        """Transition matrices (kT-1, C_out, 2, 3)."""
        return transition_matrices(self.scale, self.rotation_rad, self.tx, self.ty)

    def build_weight(self) -> torch.Tensor:
        """The conv3d weight (C_out, C_in/groups, kT, kh, kw), differentiable in every parameter."""
        theta = self.theta()
        size = tuple(self.k0.shape)
        slices = [self.k0]
        for index in range(theta.shape[0]):
            source = slices[-1] if self.mode == "seq" else self.k0
            grid = F.affine_grid(theta[index].to(self.k0.dtype), size, align_corners=True)
            slices.append(F.grid_sample(source, grid, mode="bilinear", padding_mode="zeros", align_corners=True))
        return torch.stack(slices, dim=2)

    @property
    def weight(self) -> torch.Tensor:
        return self.build_weight()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv3d(x, self.build_weight(), self.bias, self.stride, self.padding, self.dilation, self.groups)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}, mode={self.mode}, bias={self.bias is not None}")


def conv3t_like(conv: nn.Conv3d, mode: str = "seq") -> Conv3T:
    """A fresh (identity-transform) Conv3T with ``conv``'s geometry."""
    return Conv3T(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding, conv.dilation,
                  conv.groups, conv.bias is not None, mode)


@torch.no_grad()
def conv3t_from_conv3d(conv: nn.Conv3d, k0_from: str = "centre", mode: str = "seq") -> Conv3T:
    """Transfer a trained Conv3d: k0 from its centre temporal slice (``centre``) or the mean over time
    (``mean``: keeps the response to a static clip), identity transforms, same bias."""
    layer = conv3t_like(conv, mode)
    weight = conv.weight.detach()
    if k0_from == "centre":
        layer.k0.copy_(weight[:, :, weight.shape[2] // 2])
    elif k0_from == "mean":
        layer.k0.copy_(weight.mean(dim=2))
    else:
        raise ValueError(f"k0_from must be 'centre' or 'mean', got {k0_from!r}")
    if conv.bias is not None:
        layer.bias.copy_(conv.bias.detach())
    return layer


@torch.no_grad()
def conv3t_from_conv2d(conv: nn.Conv2d, frames: int, mode: str = "seq") -> Conv3T:
    """Transfer a trained Conv2d as k0 (as the 3TConv paper does from ImageNet), temporal size ``frames``,
    no temporal stride or padding added beyond ``frames // 2`` padding (keeps the clip length)."""
    layer = Conv3T(conv.in_channels, conv.out_channels, (frames, *conv.kernel_size), (1, *conv.stride),
                   (frames // 2, *conv.padding), (1, *conv.dilation), conv.groups, conv.bias is not None, mode)
    layer.k0.copy_(conv.weight.detach())
    if conv.bias is not None:
        layer.bias.copy_(conv.bias.detach())
    return layer


def convert_to_3t(module: nn.Module, k0_from: str | None = "centre", mode: str = "seq") -> nn.Module:
    """Replace, in place, every Conv3d whose kernel spans time and space (kT > 1, kh or kw > 1) by a Conv3T.

    ``k0_from`` ``centre``/``mean`` transfers the trained weights (:func:`conv3t_from_conv3d`); ``None``
    starts from a fresh slice. 1×1 and purely temporal convolutions stay ordinary Conv3d.
    Returns ``module``.
    """
    for name, child in list(module.named_children()):
        spans = isinstance(child, nn.Conv3d) and child.kernel_size[0] > 1 and max(child.kernel_size[1:]) > 1
        if spans:
            replacement = conv3t_like(child, mode) if k0_from is None else conv3t_from_conv3d(child, k0_from, mode)
            setattr(module, name, replacement.to(child.weight.device))
        else:
            convert_to_3t(child, k0_from, mode)
    return module


@torch.no_grad()
def randomize_translations(module: nn.Module, std_px_per_frame: float, seed: int = 0) -> nn.Module:
    """Give every Conv3T filter a random constant content velocity, N(0, std²) px/frame per axis.

    At identity every 3T filter is static, so a network of them responds identically to a clip and
    its time reverse: left/right motion classes are indistinguishable at initialization and training
    barely leaves that point (measured in ``benchmarks/train_3t.py``). A small random drift per filter
    breaks the symmetry, as random weights do for a 3D conv. Returns ``module``.
    """
    generator = torch.Generator().manual_seed(seed)
    for layer in module.modules():
        if isinstance(layer, Conv3T) and std_px_per_frame > 0:
            velocity = torch.randn(2, layer.out_channels, generator=generator, dtype=torch.float64) * std_px_per_frame
            tx, ty = translation_from_velocity(velocity[0], velocity[1], layer.kernel_size[1:])
            layer.tx.copy_(tx.to(layer.tx.dtype).expand_as(layer.tx))
            layer.ty.copy_(ty.to(layer.ty.dtype).expand_as(layer.ty))
    return module


def build_demo3t_model(num_classes: int = DEMO_NUM_CLASSES, shift_std_px_per_frame: float = 0.0,
                       seed: int = 0) -> nn.Module:
    """The demo architecture (:mod:`kernelvis.models.demo`) with conv1 … conv4 as Conv3T layers;
    identity transforms unless ``shift_std_px_per_frame`` > 0 (see :func:`randomize_translations`)."""
    return randomize_translations(convert_to_3t(DemoNet(num_classes), k0_from=None), shift_std_px_per_frame, seed)


def demo3t_from_demo(demo: nn.Module, k0_from: str = "mean") -> nn.Module:
    """A 3T demo model initialized from a trained 3D demo model (BN, fc copied; k0 from its kernels)."""
    import copy

    return convert_to_3t(copy.deepcopy(demo), k0_from=k0_from)
