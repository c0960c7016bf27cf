"""Frame-to-frame flow by a batched coarse-to-fine pyramid, and how displacements and velocities
follow from it.

Why pairwise first (METHODS §0.4, prototype notes): fitting the static image and all D_t jointly
from D = 0 falls into a degenerate optimum where the static image absorbs the change and the motion
comes out 10–30 % of the truth. Flow between consecutive frames is a small, well-posed problem;
chaining it gives D_t close to the answer, which the joint fit then only refines.

Conventions (DESIGN §3): pixel coordinates (x, y), y down; backward warps ``out(p) = in(p + d(p))``.
- pairwise flow ``u_t``: ``V_{t+1}(p) ≈ V_t(p + u_t(p))`` (t = 0..T-2); content moving at velocity
  v has ``u_t = -v``.
- displacement ``D_t``: ``V_t(p) ≈ I(p + D_t(p))`` with the static image I anchored to frame 0
  (``D_0 = 0``), so ``D_t(p) = u_{t-1}(p) + D_{t-1}(p + u_{t-1}(p))``.
- velocity ``v_t`` (apparent content motion from frame t-1 to t, px/frame): the content at p in
  frame t was at ``p - v_t(p)`` in frame t-1, i.e. ``p + D_t(p) = (p - v) + D_{t-1}(p - v)``, so
  ``v_t(p) = D_{t-1}(p - v_t(p)) - D_t(p)``; solved by fixed-point iteration from
  ``D_{t-1}(p) - D_t(p)`` (exact for translation, second-order accurate otherwise). ``v_0 = 0``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from kernelvis.decompose.losses import masked_mse, total_variation
from kernelvis.decompose.warp import inside_mask, pixel_grid, sample_at_px

MIN_LEVEL_SIZE_PX = 8
"""Coarsest pyramid level: smaller images carry too little texture to constrain the flow."""


def pyramid_sizes(height: int, width: int, levels: int) -> list[tuple[int, int]]:
    """Level sizes, coarsest first, halving until ``MIN_LEVEL_SIZE_PX`` or ``levels`` are reached."""
    sizes = [(height, width)]
    while len(sizes) < levels and min(sizes[-1]) // 2 >= MIN_LEVEL_SIZE_PX:
        sizes.append((sizes[-1][0] // 2, sizes[-1][1] // 2))
    return sizes[::-1]


def resize_flow(flow: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resample a flow (B, H, W, 2) in px to ``size`` (h, w), rescaling the vectors to the new px."""
    height, width = flow.shape[1:3]
    resized = F.interpolate(flow.permute(0, 3, 1, 2), size=size, mode="bilinear", align_corners=True)
    scale = resized.new_tensor([(size[1] - 1) / max(width - 1, 1), (size[0] - 1) / max(height - 1, 1)])
    return resized.permute(0, 2, 3, 1) * scale


def _standardize(clips: torch.Tensor) -> torch.Tensor:
    """Zero mean, unit std per clip: the data term's scale (and so the TV weight's meaning) no longer
    depends on the clip's contrast, which varies a lot between optimal inputs."""
    dims = tuple(range(1, clips.ndim))
    centred = clips - clips.mean(dim=dims, keepdim=True)
    return centred / centred.pow(2).mean(dim=dims, keepdim=True).sqrt().clamp_min(1e-6)


def adam_with_linear_decay(parameters, lr: float, steps: int):
    """Adam whose rate falls linearly to 5 % over ``steps``: at a constant rate Adam keeps jittering
    by about ``lr``, which would be the floor of the end-point error."""
    optimizer = torch.optim.Adam(parameters, lr=lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0 - 0.95 * step / max(steps, 1))
    return optimizer, schedule


def fit_flow_level(sources: torch.Tensor, targets: torch.Tensor, flow: torch.Tensor, steps: int, lr: float,
                   tv_weight: float) -> torch.Tensor:
    """Refine ``flow`` (B, H, W, 2) so that ``sources(p + flow(p)) ≈ targets(p)`` (B, C, H, W) with Adam.
    Pixels whose sample falls outside the source at the start of the level do not count; TV fills them
    from their neighbours. The mask is fixed for the level: recomputed every step, it would reward a
    pixel near a border for pushing its sample out of the frame, a degenerate way to lower the loss."""
    height, width = sources.shape[-2:]
    grid = pixel_grid(height, width, sources.device, sources.dtype)
    mask = inside_mask(grid + flow, height, width).unsqueeze(1)
    flow = flow.detach().clone().requires_grad_(True)
    optimizer, schedule = adam_with_linear_decay([flow], lr, steps)
    for _ in range(steps):
        warped = sample_at_px(sources, grid + flow, padding_mode="border")
        loss = masked_mse(warped, targets, mask) + tv_weight * total_variation(flow.permute(0, 3, 1, 2))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
    return flow.detach()


def pairwise_flow(clips: torch.Tensor, levels: int = 4, steps: int = 30, lr: float = 0.1,
                  tv_weight: float = 0.3) -> torch.Tensor:
    """Flow between consecutive frames of every clip, all pairs of all clips optimized together.

    clips: (B, T, C, H, W). Returns u (B, T-1, H, W, 2) with ``clips[:, t+1](p) ≈ clips[:, t](p + u_t(p))``.
    ``steps`` Adam steps at the finest level; each coarser level gets twice as many as the next finer
    one (it costs a quarter, and the coarse levels must carry fast motions most of the way).
    ``lr`` is in px of the level being fitted (Adam steps are about ``lr`` in size).
    """
    batch, frames, channels, height, width = clips.shape
    if frames < 2:
        return clips.new_zeros(batch, 0, height, width, 2)
    standardized = _standardize(clips)
    sources = standardized[:, :-1].reshape(-1, channels, height, width)
    targets = standardized[:, 1:].reshape(-1, channels, height, width)
    flow = None
    sizes = pyramid_sizes(height, width, levels)
    for level, size in enumerate(sizes):
        level_sources = F.interpolate(sources, size=size, mode="area") if size != (height, width) else sources
        level_targets = F.interpolate(targets, size=size, mode="area") if size != (height, width) else targets
        flow = sources.new_zeros(sources.shape[0], *size, 2) if flow is None else resize_flow(flow, size)
        level_steps = steps * 2 ** (len(sizes) - 1 - level)
        flow = fit_flow_level(level_sources, level_targets, flow, level_steps, lr, tv_weight)
    return flow.reshape(batch, frames - 1, height, width, 2)


def chain_displacements(flow: torch.Tensor) -> torch.Tensor:
    """Displacements D (B, T, H, W, 2) relative to frame 0 from pairwise flow u (B, T-1, H, W, 2):
    ``D_0 = 0``, ``D_t(p) = u_{t-1}(p) + D_{t-1}(p + u_{t-1}(p))`` (D beyond the frame: nearest edge)."""
    batch, pairs, height, width, _ = flow.shape
    displacement = [flow.new_zeros(batch, height, width, 2)]
    for t in range(pairs):
        previous = displacement[-1].permute(0, 3, 1, 2)
        carried = sample_at_px(previous, pixel_grid(height, width, flow.device, flow.dtype) + flow[:, t])
        displacement.append(flow[:, t] + carried.permute(0, 2, 3, 1))
    return torch.stack(displacement, dim=1)


def velocity_from_displacement(displacement: torch.Tensor, iterations: int = 3) -> torch.Tensor:
    """Apparent content velocity (B, T, H, W, 2), px/frame, from displacements D (B, T, H, W, 2):
    ``v_t(p) = D_{t-1}(p - v_t(p)) - D_t(p)`` for t >= 1 (fixed-point iteration), ``v_0 = 0``."""
    batch, frames, height, width, _ = displacement.shape
    if frames < 2:
        return torch.zeros_like(displacement)
    previous = displacement[:, :-1].reshape(-1, height, width, 2)
    current = displacement[:, 1:].reshape(-1, height, width, 2)
    previous_maps = previous.permute(0, 3, 1, 2)
    grid = pixel_grid(height, width, displacement.device, displacement.dtype)
    velocity = previous - current
    for _ in range(iterations):
        velocity = sample_at_px(previous_maps, grid - velocity).permute(0, 2, 3, 1) - current
    velocity = velocity.reshape(batch, frames - 1, height, width, 2)
    return torch.cat([torch.zeros_like(displacement[:, :1]), velocity], dim=1)
