"""Which frame the static texture I is anchored to (``D_a = 0``, the appearance change the identity there).

The paper ties I to the first frame. An optimal input often fades in: its first frame is dark or flat (the
kernel's temporal receptive field sees an onset), and I anchored there is a faint, noisy copy that the
appearance gain must blow up several times to explain the other frames, while the motion of the content the
kernel responds to is left to a chain of flows that starts from almost nothing. Measured on the demo model's
first layer: 4 of 16 optimal inputs have a first frame with under half the contrast of their best frame.

The contrast rule: frame 0 unless that frame's contrast (the spatial standard deviation of its luminance) is
under ``ANCHOR_CONTRAST_FRACTION`` of the clip's highest; then the first frame that reaches it. The first frame that
does, not the most contrasted one: it keeps the paper's convention wherever the first frame is a fair picture of the
texture and moves the anchor no further than the fade-in. ``DecomposeConfig.anchor`` ``best`` fits a clip whose
anchor the rule moves both ways, from frame 0 and from the rule's frame, and keeps the better final reconstruction.

Stage 2's default stays frame 0 (``first``), the paper's: measured on the demo model's whole conv1 (16 optimal
inputs, 6 of them anchored later by the rule), the later anchor reconstructed worse (median PSNR over the layer
18.62 -> 17.94 dB; kernel 0, whose faint first frame prompted this, 21.1 -> 17.8 dB): the gain explains a fade-in
well, while the motion of the faint frames, reached through a backward chain of flows, is fitted worse. The
texture-conditioned agreement moved by a kernel either way (docs/methods-stage2.md).

Per clip, batched: ``anchor`` tensors are (B,) frame indices. Helpers move between the T frames of a clip and
the T-1 frames other than its anchor (what D and the appearance parameters are fitted on).
"""

from __future__ import annotations

import torch

from kernelvis.decompose.config import ANCHORS  # noqa: F401  (re-exported: the rules and "best")

ANCHOR_CONTRAST_FRACTION = 0.75
"""A first frame with less than this fraction of the clip's highest frame contrast is not the anchor."""
ANCHOR_RULES = ("first", "contrast")
"""What :func:`anchor_frames` picks by: ``first`` = frame 0 always (the paper); ``contrast`` = the rule above."""


def frame_contrast(clips: torch.Tensor) -> torch.Tensor:
    """(B, T) spatial standard deviation of each frame's luminance (mean over channels); clips (B, T, C, H, W)."""
    return clips.mean(dim=2).flatten(2).std(dim=2)


def anchor_frames(clips: torch.Tensor, rule: str = "contrast",
                  fraction: float = ANCHOR_CONTRAST_FRACTION) -> torch.Tensor:
    """(B,) long: each clip's anchor frame by ``rule`` (:data:`ANCHOR_RULES`)."""
    if rule not in ANCHOR_RULES:
        raise ValueError(f"unknown anchor rule {rule!r}; choose from {', '.join(ANCHOR_RULES)}")
    if rule == "first":
        return first_frame_anchors(clips.shape[0], clips.device)
    contrast = frame_contrast(clips)
    enough = contrast >= fraction * contrast.amax(dim=1, keepdim=True)
    return enough.to(torch.uint8).argmax(dim=1)  # the first True (the highest frame always qualifies)


def first_frame_anchors(batch: int, device=None) -> torch.Tensor:
    return torch.zeros(batch, dtype=torch.long, device=device)


def frame_at(values: torch.Tensor, anchor: torch.Tensor, dim: int = 1) -> torch.Tensor:
    """Each clip's anchor frame of ``values`` (B, T, ...) along ``dim`` (kept out: (B, ...))."""
    shape = [1] * values.ndim
    shape[0] = values.shape[0]
    index = anchor.view(shape).expand(*[values.shape[0] if d == 0 else (1 if d == dim else values.shape[d])
                                        for d in range(values.ndim)])
    return values.gather(dim, index).squeeze(dim)


def other_frames(values: torch.Tensor, anchor: torch.Tensor, dim: int = 1) -> torch.Tensor:
    """``values`` (B, T, ...) without each clip's anchor frame along ``dim``: (B, T-1, ...), order kept."""
    frames = values.shape[dim]
    positions = torch.arange(frames - 1, device=values.device)[None, :]
    source = positions + (positions >= anchor[:, None]).long()  # (B, T-1)
    return _gather_frames(values, source, dim)


def with_anchor_frame(values: torch.Tensor, fill: float, anchor: torch.Tensor, dim: int = 1) -> torch.Tensor:
    """``values`` (B, T-1, ...) of the frames other than the anchor, with ``fill`` put back at each clip's anchor
    along ``dim``: (B, T, ...). The inverse of :func:`other_frames`."""
    frames = values.shape[dim] + 1
    padded = torch.cat([values, torch.full_like(values.narrow(dim, 0, 1), fill)], dim=dim)
    positions = torch.arange(frames, device=values.device)[None, :]
    source = positions - (positions > anchor[:, None]).long()
    source = torch.where(positions == anchor[:, None], torch.full_like(source, frames - 1), source)
    return _gather_frames(padded, source, dim)


def _gather_frames(values: torch.Tensor, source: torch.Tensor, dim: int) -> torch.Tensor:
    """values (B, ...) gathered along ``dim`` at per-clip frame indices ``source`` (B, N)."""
    shape = [1] * values.ndim
    shape[0], shape[dim] = source.shape
    sizes = list(values.shape)
    sizes[dim] = source.shape[1]
    return values.gather(dim, source.view(shape).expand(sizes))
