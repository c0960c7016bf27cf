"""Stage 2: decompose a clip V into a static image I and per-frame displacements D_t with
``V_t(p) ≈ I(p + D_t(p))`` (METHODS §0.4, done right).

The fit runs in three steps, each batched over clips and frames:
1. pairwise flow between consecutive frames, coarse to fine (:mod:`kernelvis.decompose.flow`);
2. chain it into D_t (I anchored to frame 0, ``D_0 = 0``) and splat the frames into a static
   canvas ``margin_px`` larger than the frame on every side, so content that enters from a border
   over the clip has somewhere to live;
3. refine I and D_{1..T-1} jointly with the paper's four losses (reconstruction, TV of D, TV of I,
   closeness of I to frame 0), all frames warped by one ``grid_sample``.
Velocity (apparent content motion, px/frame) follows from D as documented in
:func:`kernelvis.decompose.flow.velocity_from_displacement`.

Deterministic on CPU (no random initialization at all). On CUDA, ``grid_sample``'s backward uses
atomic adds, so results can differ in the last digits between runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from kernelvis.decompose.flow import chain_displacements, pairwise_flow, velocity_from_displacement
from kernelvis.decompose.losses import masked_mse, total_variation
from kernelvis.decompose.optim import VectorAdam
from kernelvis.decompose.warp import pixel_grid, warp_static
from kernelvis.errors import BadInputError, OptimizationDivergedError


@dataclass(frozen=True)
class DecomposeConfig:
    steps: int = 100
    """joint refinement steps of I and D (after the pairwise-flow initialization)"""
    lr: float = 0.01
    """Adam learning rate of the joint refinement (px for D, intensity for I)"""
    flow_levels: int = 4
    """pyramid levels of the pairwise flow (coarsest at least 8 px)"""
    flow_steps: int = 30
    """Adam steps of the pairwise flow at the finest level (each coarser level: twice the next finer)"""
    flow_lr: float = 0.1
    """Adam learning rate of the pairwise flow, px of the level being fitted"""
    flow_tv_weight: float = 0.2
    """TV weight of the pairwise flow (its data term is on contrast-standardized clips)"""
    flow_color: bool = False
    """pairwise flow on RGB instead of luminance (about 2x slower; for purely chromatic motion)"""
    recon_weight: float = 1.0
    tv_displacement_weight: float = 1e-4
    """TV of each D_t (spatial only), mean |neighbour difference| in px"""
    tv_static_weight: float = 1e-4
    """TV of the static canvas, mean |neighbour difference| in intensity"""
    static_weight: float = 0.1
    """mean squared difference between I (cropped to the frame) and frame 0"""
    margin_px: int | None = None
    """canvas margin around the frame; None: the largest initial |D| plus 2 px"""
    seed: int = 0
    """seeds torch for the fit (the fit itself draws no random numbers; kept so a seed is always set)"""
    device: str = "cpu"

    @classmethod
    def paper_weights(cls, **overrides) -> "DecomposeConfig":
        """The paper's loss weights (all 1). On videos in [0, 1] the TV of I then dominates the
        reconstruction and blurs the texture; offered for comparison, not as a default."""
        values = dict(recon_weight=1.0, tv_displacement_weight=1.0, tv_static_weight=1.0, static_weight=1.0)
        values.update(overrides)
        return cls(**values)


@dataclass
class Decomposition:
    static: np.ndarray
    """float32 [H, W, 3] in [0, 1]: the static image I under the frame (canvas cropped)"""
    displacement: np.ndarray
    """float32 [T, H, W, 2] (dx, dy) px with V_t(p) ≈ I(p + D_t(p)); D_0 = 0"""
    velocity: np.ndarray
    """float32 [T, H, W, 2] apparent content motion (vx, vy) px/frame, x right, y down; velocity[0] = 0"""
    recon: np.ndarray
    """float32 [T, H, W, 3]: W(I, D_t), clipped to [0, 1]"""
    static_canvas: np.ndarray
    """float32 [H + 2m, W + 2m, 3]: I on the whole canvas (frame pixel p at canvas p + m)"""
    margin_px: int


def _check_videos(videos: np.ndarray) -> np.ndarray:
    videos = np.asarray(videos, dtype=np.float32)
    if videos.ndim != 5 or videos.shape[-1] != 3:
        raise BadInputError(f"expected videos shaped [B, T, H, W, 3], got {list(videos.shape)}")
    if videos.shape[1] < 2 or min(videos.shape[2:4]) < 8:
        raise BadInputError(f"a video needs at least 2 frames of at least 8x8 px, got {list(videos.shape[1:])}")
    if not np.isfinite(videos).all():
        raise BadInputError("video contains NaN or inf")
    return videos


def resolve_device(device: str) -> torch.device:
    if device == "cuda" and not torch.cuda.is_available():
        raise BadInputError("--device cuda was asked for but no CUDA GPU is available")
    return torch.device(device)


def splat_canvas(clips: torch.Tensor, displacement: torch.Tensor, margin_px: int) -> torch.Tensor:
    """Initial static canvas (B, C, Hc, Wc): each canvas pixel is the bilinear-weighted mean of the frame
    pixels that land on it (frame t's pixel p lands at p + D_t(p) + margin); never-seen pixels get the
    clip's mean colour. clips (B, T, C, H, W), displacement (B, T, H, W, 2)."""
    batch, frames, channels, height, width = clips.shape
    canvas_h, canvas_w = height + 2 * margin_px, width + 2 * margin_px
    position = (pixel_grid(height, width, clips.device, clips.dtype) + displacement + margin_px).reshape(batch, -1, 2)
    values = clips.permute(0, 1, 3, 4, 2).reshape(batch, -1, channels)
    total = clips.new_zeros(batch, canvas_h * canvas_w, channels)
    weight = clips.new_zeros(batch, canvas_h * canvas_w)
    base = position.floor()
    fraction = position - base
    for corner_x in (0, 1):
        for corner_y in (0, 1):
            x = (base[..., 0] + corner_x).long()
            y = (base[..., 1] + corner_y).long()
            w = (fraction[..., 0] if corner_x else 1 - fraction[..., 0]) * (fraction[..., 1] if corner_y else 1 - fraction[..., 1])
            w = w * ((x >= 0) & (x < canvas_w) & (y >= 0) & (y < canvas_h))
            index = y.clamp(0, canvas_h - 1) * canvas_w + x.clamp(0, canvas_w - 1)
            weight.scatter_add_(1, index, w)
            total.scatter_add_(1, index.unsqueeze(-1).expand(-1, -1, channels), values * w.unsqueeze(-1))
    mean_colour = clips.mean(dim=(1, 3, 4)).unsqueeze(1)
    seen = weight.unsqueeze(-1)
    canvas = torch.where(seen > 1e-3, total / seen.clamp_min(1e-3), mean_colour)
    return canvas.reshape(batch, canvas_h, canvas_w, channels).permute(0, 3, 1, 2).contiguous()


def refine(clips: torch.Tensor, canvas: torch.Tensor, displacement: torch.Tensor, margin_px: int,
           config: DecomposeConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """Jointly refine the canvas (B, C, Hc, Wc) and D_{1..T-1} (D_0 stays 0: it fixes I to frame 0)
    with the paper's losses. clips (B, T, C, H, W). Returns (canvas, displacement)."""
    canvas = canvas.detach().clone().requires_grad_(True)
    moving = displacement[:, 1:].detach().clone().requires_grad_(True)
    optimizer = VectorAdam([(canvas, 1), (moving, -1)], config.lr, config.steps)
    targets = clips.transpose(1, 2)  # (B, C, T, H, W), warp_static's layout
    first_frame = clips[:, 0]
    for _ in range(config.steps):
        full = torch.cat([torch.zeros_like(moving[:, :1]), moving], dim=1)
        recon = warp_static(canvas, full, margin_px)
        under_frame = canvas[..., margin_px:canvas.shape[-2] - margin_px, margin_px:canvas.shape[-1] - margin_px]
        loss = (config.recon_weight * masked_mse(recon, targets)
                + config.tv_displacement_weight * total_variation(moving.permute(0, 1, 4, 2, 3))
                + config.tv_static_weight * total_variation(canvas)
                + config.static_weight * masked_mse(under_frame, first_frame))
        loss.backward()
        optimizer.step()
    full = torch.cat([torch.zeros_like(moving[:, :1]), moving], dim=1)
    return canvas.detach(), full.detach()


def decompose_videos(videos: np.ndarray, config: DecomposeConfig = DecomposeConfig()) -> list[Decomposition]:
    """Decompose a batch of equally shaped videos [B, T, H, W, 3] in [0, 1], all fitted together
    (one canvas margin for the batch). Returns one :class:`Decomposition` per video."""
    videos = _check_videos(videos)
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)
    clips = torch.from_numpy(videos).to(device).permute(0, 1, 4, 2, 3).contiguous()  # (B, T, C, H, W)
    flow_clips = clips if config.flow_color else clips.mean(dim=2, keepdim=True)
    flow = pairwise_flow(flow_clips, levels=config.flow_levels, steps=config.flow_steps,
                         lr=config.flow_lr, tv_weight=config.flow_tv_weight)
    with torch.no_grad():
        displacement = chain_displacements(flow)
        margin_px = config.margin_px
        if margin_px is None:
            margin_px = int(math.ceil(float(displacement.abs().max()))) + 2
        canvas = splat_canvas(clips, displacement, margin_px)
    if config.steps > 0:
        canvas, displacement = refine(clips, canvas, displacement, margin_px, config)
    if not (torch.isfinite(canvas).all() and torch.isfinite(displacement).all()):
        raise OptimizationDivergedError("the decomposition diverged (NaN/inf); lower the learning rates")
    with torch.no_grad():
        velocity = velocity_from_displacement(displacement)
        recon = warp_static(canvas, displacement, margin_px).clamp(0, 1)  # (B, C, T, H, W)
    canvas_np = canvas.clamp(0, 1).permute(0, 2, 3, 1).cpu().numpy()
    height, width = videos.shape[2:4]
    return [Decomposition(
        static=np.ascontiguousarray(canvas_np[b, margin_px:margin_px + height, margin_px:margin_px + width]),
        displacement=displacement[b].cpu().numpy(),
        velocity=velocity[b].cpu().numpy(),
        recon=recon[b].permute(1, 2, 3, 0).cpu().numpy(),
        static_canvas=canvas_np[b],
        margin_px=margin_px,
    ) for b in range(videos.shape[0])]


def decompose_video(video: np.ndarray, config: DecomposeConfig = DecomposeConfig()) -> Decomposition:
    """Decompose one video [T, H, W, 3] in [0, 1] into a static image and displacements."""
    video = np.asarray(video, dtype=np.float32)
    if video.ndim != 4:
        raise BadInputError(f"expected a video shaped [T, H, W, 3], got {list(video.shape)}")
    return decompose_videos(video[None], config)[0]
