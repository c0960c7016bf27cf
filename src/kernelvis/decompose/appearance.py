"""The appearance component of stage 2: change over time that no motion of one texture produces.

Model (docs/methods-stage2.md): ``A_t(x)(p) = g_t(p) x(p) + b_t(p) + c_t R(p)`` per colour channel, with
- ``g_t``, ``b_t``: gain and offset maps, smooth by construction: bilinear interpolation of a coarse
  ``grid × grid`` control grid per frame and channel (``grid = 1``: one global gain and offset);
- ``c_t R``: a rank-1 temporal residual, one image R (any content) switched on with one number c_t
  per frame (a cut to another image, a pattern that appears or fades).
The anchor frame a (frame 0 by default, :mod:`kernelvis.decompose.anchor`) is the identity
(``g_a = 1``, ``b_a = 0``, ``c_a = 0``), as D_a = 0: the static texture I is frame a's content, so neither I nor A
can absorb the other's scale.

Everything is a handful of numbers per frame plus one image: flexible enough for global flicker,
contrast reversal, colour drift and a cut, but not for arbitrary per-pixel change (that stays in the
residual and shows as unexplained).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from kernelvis.decompose.anchor import first_frame_anchors, other_frames, with_anchor_frame

RIDGE = 1e-4
"""Tikhonov weight of the closed-form gain/offset fit: keeps the normal equations solvable where a
control point sees no texture (gain and offset then share the change evenly)."""


@dataclass
class Appearance:
    """Per-clip appearance parameters for the frames other than each clip's anchor (which is the identity)."""
    gain_delta: torch.Tensor
    """(B, T-1, C, gh, gw): g_t - 1 at the control points"""
    offset: torch.Tensor
    """(B, T-1, C, gh, gw): b_t at the control points"""
    residual_coef: torch.Tensor
    """(B, T-1): c_t"""
    residual_image: torch.Tensor
    """(B, C, H, W): R"""
    anchor: torch.Tensor | None = None
    """(B,) long: each clip's identity frame; None: frame 0. Not a parameter (not in :meth:`tensors`)."""

    def __post_init__(self):
        if self.anchor is None:
            self.anchor = first_frame_anchors(self.gain_delta.shape[0], self.gain_delta.device)

    def tensors(self) -> list[torch.Tensor]:
        return [self.gain_delta, self.offset, self.residual_coef, self.residual_image]

    def detached(self) -> "Appearance":
        return Appearance(*(t.detach().clone() for t in self.tensors()), anchor=self.anchor)

    def rows(self, index: torch.Tensor) -> "Appearance":
        """The clips ``index`` of the batch."""
        return Appearance(*(t[index] for t in self.tensors()), anchor=self.anchor[index])


def identity_appearance(batch: int, frames: int, channels: int, height: int, width: int, grid: int,
                        like: torch.Tensor, anchor: torch.Tensor | None = None) -> Appearance:
    return Appearance(like.new_zeros(batch, frames - 1, channels, grid, grid),
                      like.new_zeros(batch, frames - 1, channels, grid, grid),
                      like.new_zeros(batch, frames - 1), like.new_zeros(batch, channels, height, width), anchor)


def upsample_maps(control: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """(B, T', C, gh, gw) control points -> (B, T', C, H, W) smooth maps (bilinear, corners on the
    corner pixels, so a 1x1 grid is a constant and the maps never depend on H == W)."""
    batch, frames, channels = control.shape[:3]
    if control.shape[-2:] == (1, 1):  # one global value: a broadcast, no interpolation needed
        return control.expand(-1, -1, -1, height, width)
    flat = control.reshape(batch * frames, channels, *control.shape[-2:])
    maps = F.interpolate(flat, size=(height, width), mode="bilinear", align_corners=True)
    return maps.reshape(batch, frames, channels, height, width)


def gain_offset_maps(appearance: Appearance, height: int, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(gain, offset), each (B, T, C, H, W), the anchor frame's identity included."""
    gain = with_anchor_frame(1.0 + upsample_maps(appearance.gain_delta, height, width), 1.0, appearance.anchor)
    offset = with_anchor_frame(upsample_maps(appearance.offset, height, width), 0.0, appearance.anchor)
    return gain, offset


def apply_appearance(frames: torch.Tensor, appearance: Appearance) -> torch.Tensor:
    """``A_t(frames_t)`` for frames (B, C, T, H, W) (warp_static's layout); returns the same layout."""
    height, width = frames.shape[-2:]
    gain, offset = gain_offset_maps(appearance, height, width)
    coef = with_anchor_frame(appearance.residual_coef, 0.0, appearance.anchor)  # (B, T)
    residual = coef[:, None, :, None, None] * appearance.residual_image[:, :, None]
    return gain.transpose(1, 2) * frames + offset.transpose(1, 2) + residual


def appearance_prior(appearance: Appearance) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean squared gain change + offset, mean squared residual term): zero for no appearance change."""
    gain_offset = appearance.gain_delta.square().mean() + appearance.offset.square().mean()
    residual = appearance.residual_coef.square().mean() * appearance.residual_image.square().mean()
    return gain_offset, residual


def _basis(height: int, width: int, grid: int, like: torch.Tensor) -> torch.Tensor:
    """(K, H, W) bilinear hat functions of the control points (K = grid²), summing to 1 everywhere."""
    eye = torch.eye(grid * grid, dtype=like.dtype, device=like.device).reshape(grid * grid, 1, grid, grid)
    return F.interpolate(eye, size=(height, width), mode="bilinear", align_corners=True)[:, 0]


def fit_appearance(base: torch.Tensor, clips: torch.Tensor, grid: int, rank1: bool = True,
                   anchor: torch.Tensor | None = None) -> Appearance:
    """Closed-form A with ``clips_t ≈ A_t(base_t)``: least-squares gain/offset control points per frame
    and channel (ridge ``RIDGE``), then the rank-1 residual from the SVD of what is left.

    base: (B, C, T, H, W) the frames A acts on (the static image, or the warped one);
    clips: (B, T, C, H, W) the targets. The anchor frame (``anchor`` (B,), default 0) stays the identity.
    """
    batch, channels, frames, height, width = base.shape
    anchor = first_frame_anchors(batch, base.device) if anchor is None else anchor
    basis = _basis(height, width, grid, base).reshape(grid * grid, -1)  # (K, P)
    source = other_frames(base, anchor, dim=2).transpose(1, 2).reshape(batch, frames - 1, channels, 1, -1)  # (B, T', C, 1, P)
    target = other_frames(clips, anchor).reshape(batch, frames - 1, channels, -1)  # (B, T', C, P)
    design = torch.cat([basis * source, basis.expand_as(basis * source)], dim=-2)  # (B, T', C, 2K, P)
    normal = design @ design.transpose(-1, -2)
    scale = normal.diagonal(dim1=-2, dim2=-1).mean(dim=-1, keepdim=True).clamp_min(1e-12)
    normal = normal + RIDGE * scale[..., None] * torch.eye(2 * grid * grid, dtype=base.dtype, device=base.device)
    # the ridge pulls towards the identity (gain 1, offset 0), so solve for the change from it
    change = target - source[..., 0, :]
    solution = torch.linalg.solve(normal, (design @ change[..., None]))[..., 0]  # (B, T', C, 2K)
    gain_delta = solution[..., :grid * grid].reshape(batch, frames - 1, channels, grid, grid)
    offset = solution[..., grid * grid:].reshape(batch, frames - 1, channels, grid, grid)
    appearance = Appearance(gain_delta, offset, base.new_zeros(batch, frames - 1),
                            base.new_zeros(batch, channels, height, width), anchor)
    return with_rank1(appearance, base, clips) if rank1 else appearance


def polish_gain_offset(appearance: Appearance, base: torch.Tensor, clips: torch.Tensor) -> Appearance:
    """``appearance`` with gain and offset re-solved in closed form for ``base`` (B, C, T, H, W), its
    rank-1 term kept: the exact least-squares optimum given I and D, where a joint gradient fit still
    trades a little gain against the canvas's brightness."""
    coef = with_anchor_frame(appearance.residual_coef, 0.0, appearance.anchor)
    rank1 = coef[:, :, None, None, None] * appearance.residual_image[:, None]  # (B, T, C, H, W)
    grid = appearance.gain_delta.shape[-1]
    fitted = fit_appearance(base, clips - rank1, grid, rank1=False, anchor=appearance.anchor)
    return Appearance(fitted.gain_delta, fitted.offset, appearance.residual_coef, appearance.residual_image,
                      appearance.anchor)


def with_rank1(appearance: Appearance, base: torch.Tensor, clips: torch.Tensor) -> Appearance:
    """``appearance`` with its rank-1 term replaced by the best one (SVD) for what its gain and offset
    leave of ``clips`` (B, T, C, H, W) when acting on ``base`` (B, C, T, H, W)."""
    batch, channels, frames, height, width = base.shape
    without = Appearance(appearance.gain_delta, appearance.offset, torch.zeros_like(appearance.residual_coef),
                         torch.zeros_like(appearance.residual_image), appearance.anchor)
    rendered = other_frames(apply_appearance(base, without), appearance.anchor, dim=2).transpose(1, 2)  # (B, T', C, H, W)
    left = (other_frames(clips, appearance.anchor) - rendered).reshape(batch, frames - 1, -1)
    u, s, vh = torch.linalg.svd(left, full_matrices=False)
    # balance the two factors: |c_t| <= 1, R carries the intensity
    norm = u[:, :, 0].abs().amax(dim=1, keepdim=True).clamp_min(1e-12)
    return Appearance(appearance.gain_delta, appearance.offset, u[:, :, 0] / norm,
                      (s[:, :1] * norm * vh[:, 0]).reshape(batch, channels, height, width), appearance.anchor)


def select_clips(appearance: Appearance, mask: torch.Tensor, other: Appearance) -> Appearance:
    """Per clip: ``appearance`` where ``mask`` (B,) bool, else ``other``."""
    def pick(a, b):
        return torch.where(mask.view(-1, *([1] * (a.ndim - 1))), a, b)
    return Appearance(*(pick(a, b) for a, b in zip(appearance.tensors(), other.tensors())),
                      anchor=torch.where(mask, appearance.anchor, other.anchor))
