"""Stage 2: decompose a clip V into a static image I and per-frame displacements D_t with
``V_t(p) ≈ I(p + D_t(p))`` (docs/stage2.md, done right).

The fit runs in three steps, each batched over clips and frames:
1. pairwise flow between consecutive frames, coarse to fine (:mod:`kernelvis.decompose.flow`);
2. chain it into D_t (I anchored to frame a, ``D_a = 0``: frame 0 by default, as in the paper;
   :mod:`kernelvis.decompose.anchor`) and splat the frames into a static canvas ``margin_px`` larger than the
   frame on every side, so content that enters from a border over the clip has somewhere to live;
3. refine I and D_{1..T-1} jointly with the paper's four losses (reconstruction, TV of D, TV of I,
   closeness of I to frame a), all frames warped by one ``grid_sample``.
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

from kernelvis.decompose.anchor import anchor_frames, frame_at, other_frames, with_anchor_frame
from kernelvis.decompose.config import DecomposeConfig  # noqa: F401  (defined there, used and re-exported here)
from kernelvis.decompose.appearance import (Appearance, appearance_prior, apply_appearance, fit_appearance,
                                            gain_offset_maps, identity_appearance, polish_gain_offset, select_clips,
                                            with_rank1)
from kernelvis.decompose.flow import chain_displacements, global_velocity, pairwise_flow, velocity_from_displacement
from kernelvis.decompose.losses import masked_mse, total_variation
from kernelvis.decompose.optim import VectorAdam
from kernelvis.decompose.warp import pixel_grid, warp_static
from kernelvis.errors import BadInputError, OptimizationDivergedError


APPEARANCE_START_RANGE = 4.0
"""The appearance start is refined only for clips where its closed form leaves at most this many times
the motion start's squared error (refining gains less than that; elsewhere it cannot win)."""
EXPLAINED_MSE = 1e-5
"""MSE (50 dB) within which the two starts count as reconstructing a clip equally well."""
DISTINCT_START_PX = 0.1
"""Mean |D| difference (px, over frames and pixels) below which the translation start is the pairwise flow's
start already and is not fitted a second time."""
APPEARANCE_RATE_SCALE = 5.0
"""Rate of A's gain, offset and coefficients relative to ``DecomposeConfig.lr``."""



@dataclass
class Decomposition:
    static: np.ndarray
    """float32 [H, W, 3] in [0, 1]: the static image I under the frame (canvas cropped)"""
    displacement: np.ndarray
    """float32 [T, H, W, 2] (dx, dy) px with V_t(p) ≈ I(p + D_t(p)); D_a = 0 at the anchor frame a"""
    velocity: np.ndarray
    """float32 [T, H, W, 2] apparent content motion (vx, vy) px/frame, x right, y down; velocity[0] = 0"""
    recon: np.ndarray
    """float32 [T, H, W, 3]: W(I, D_t), clipped to [0, 1]"""
    static_canvas: np.ndarray
    """float32 [H + 2m, W + 2m, 3]: I on the whole canvas (frame pixel p at canvas p + m)"""
    margin_px: int
    recon_motion_only: np.ndarray | None = None
    """float32 [T, H, W, 3]: W(I, D_t) without the appearance change, clipped to [0, 1]"""
    recon_appearance_only: np.ndarray | None = None
    """float32 [T, H, W, 3]: A_t(I), the appearance change of the unmoved texture, clipped to [0, 1]"""
    gain: np.ndarray | None = None
    """float32 [T, g, g, 3]: gain control points g_t (bilinear over the frame; gain[0] = 1)"""
    offset: np.ndarray | None = None
    """float32 [T, g, g, 3]: offset control points b_t (offset[0] = 0)"""
    residual_coef: np.ndarray | None = None
    """float32 [T]: c_t of the rank-1 appearance change (c_0 = 0)"""
    residual_image: np.ndarray | None = None
    """float32 [H, W, 3]: R of the rank-1 appearance change"""
    anchor_frame: int = 0
    """the frame a that I is anchored to (D_a = 0, the appearance change the identity there; frame 0 by default,
    ``DecomposeConfig.anchor``, :mod:`kernelvis.decompose.anchor`)"""
    start: str = "motion"
    """which start of the fit was kept: "motion" (from the pairwise flow), "translation" (from one velocity
    for the whole clip, ``DecomposeConfig.rigid_start``) or "appearance" (see ``_fit_two_starts``)"""


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


def match_to_anchor_frame(clips: torch.Tensor, anchor: torch.Tensor) -> torch.Tensor:
    """clips (B, T, C, H, W) with each frame's per-channel mean and contrast (std) set to the anchor frame's
    (``anchor`` (B,)): undoes a global gain/offset change before the frames are averaged into a canvas."""
    mean = clips.mean(dim=(-2, -1), keepdim=True)
    std = clips.std(dim=(-2, -1), keepdim=True).clamp_min(1e-4)
    return (clips - mean) * (frame_at(std, anchor)[:, None] / std) + frame_at(mean, anchor)[:, None]


def refine(clips: torch.Tensor, canvas: torch.Tensor, displacement: torch.Tensor, margin_px: int,
           config: DecomposeConfig, anchor: torch.Tensor, appearance: Appearance | None = None,
           steps: int | None = None) -> tuple[torch.Tensor, torch.Tensor, Appearance | None]:
    """Jointly refine the canvas (B, C, Hc, Wc), D of the frames other than each clip's anchor (``anchor`` (B,);
    D_a stays 0: it fixes I to frame a) and, if given, the appearance A with the paper's losses plus A's prior.
    clips (B, T, C, H, W). Returns (canvas, displacement, appearance)."""
    steps = config.steps if steps is None else steps
    canvas = canvas.detach().clone().requires_grad_(True)
    moving = other_frames(displacement, anchor).detach().clone().requires_grad_(True)
    groups = [(canvas, 1), (moving, -1)]
    if appearance is not None:
        appearance = appearance.detached()
        for tensor in appearance.tensors():
            tensor.requires_grad_(True)
        # gain/offset/coefficients move by whole units over a fit (a contrast reversal is a gain change
        # of 2), the canvas by fractions of one: their own, larger rate
        groups += [(appearance.gain_delta, None, APPEARANCE_RATE_SCALE), (appearance.offset, None, APPEARANCE_RATE_SCALE),
                   (appearance.residual_coef, None, APPEARANCE_RATE_SCALE), (appearance.residual_image, 1, 1.0)]
    optimizer = VectorAdam(groups, config.lr, steps)
    targets = clips.transpose(1, 2)  # (B, C, T, H, W), warp_static's layout
    anchor_frame = frame_at(clips, anchor)
    for _ in range(steps):
        full = with_anchor_frame(moving, 0.0, anchor)
        recon = warp_static(canvas, full, margin_px)
        prior = 0.0
        if appearance is not None:
            recon = apply_appearance(recon, appearance)
            gain_offset, residual = appearance_prior(appearance)
            prior = config.gain_offset_weight * gain_offset + config.residual_weight * residual
        under_frame = canvas[..., margin_px:canvas.shape[-2] - margin_px, margin_px:canvas.shape[-1] - margin_px]
        loss = (config.recon_weight * masked_mse(recon, targets)
                + config.tv_displacement_weight * total_variation(moving.permute(0, 1, 4, 2, 3))
                + config.tv_static_weight * total_variation(canvas)
                + config.static_weight * masked_mse(under_frame, anchor_frame) + prior)
        loss.backward()
        optimizer.step()
    full = with_anchor_frame(moving, 0.0, anchor)
    return canvas.detach(), full.detach(), (appearance.detached() if appearance is not None else None)


def _per_clip_mse(clips: torch.Tensor, canvas: torch.Tensor, displacement: torch.Tensor, margin_px: int,
                  appearance: Appearance | None) -> torch.Tensor:
    """(B,) mean squared reconstruction error of each clip (values clipped to [0, 1] as saved)."""
    recon = warp_static(canvas, displacement, margin_px)
    if appearance is not None:
        recon = apply_appearance(recon, appearance)
    return (recon.clamp(0, 1) - clips.transpose(1, 2)).square().mean(dim=(1, 2, 3, 4))


def _fit_motion_start(clips: torch.Tensor, displacement: torch.Tensor, margin_px: int, config: DecomposeConfig,
                      anchor: torch.Tensor):
    """The whole fit from one motion start D (B, T, H, W, 2): canvas splatted at D, then the two-start fit
    with appearance (``_fit_two_starts``) or the texture+motion refinement alone.
    Returns (canvas, displacement, appearance or None, appearance start chosen (B,) bool)."""
    with torch.no_grad():
        canvas = splat_canvas(clips, displacement, margin_px)
    if config.appearance:
        return _fit_two_starts(clips, canvas, displacement, margin_px, config, anchor)
    if config.steps > 0:
        canvas, displacement, _ = refine(clips, canvas, displacement, margin_px, config, anchor)
    return canvas, displacement, None, torch.zeros(clips.shape[0], dtype=torch.bool)


def _appearance_share(clips: torch.Tensor, canvas: torch.Tensor, displacement: torch.Tensor, margin_px: int,
                      appearance: Appearance) -> torch.Tensor:
    """(B,) appearance share of a fit (the Shapley split of :func:`kernelvis.decompose.stats.change_shares`)."""
    targets = clips.transpose(1, 2)
    warped = warp_static(canvas, displacement, margin_px)
    still = frame_at(warped, appearance.anchor, dim=2)[:, :, None].expand_as(warped)

    def error(model):
        return (model.clamp(0, 1) - targets).square().sum(dim=(1, 2, 3, 4))

    total = error(still).clamp_min(1e-12)
    motion_left = torch.minimum(error(warped), total)
    appearance_left = torch.minimum(error(apply_appearance(still, appearance)), total)
    both_left = torch.minimum(error(apply_appearance(warped, appearance)), torch.minimum(motion_left, appearance_left))
    return 0.5 * ((total - appearance_left) + (motion_left - both_left)) / total


def _fit_two_starts(clips: torch.Tensor, canvas: torch.Tensor, displacement: torch.Tensor, margin_px: int,
                    config: DecomposeConfig, anchor: torch.Tensor):
    """The three-component fit, from two starts, best kept per clip (docs/methods-stage2.md):
    - motion start: texture + motion + gain/offset refined (``steps``), then the
      rank-1 change fitted in closed form on what they leave and everything refined jointly
      (``appearance_steps``);
    - appearance start: no motion (D = 0, I = the anchor frame), A in closed form, then (only for clips where
      that is within ``APPEARANCE_START_RANGE`` of the motion start's error) everything refined
      jointly (``appearance_steps``), keeping the closed form where refining did not help.
    Each start falls into the basin of its own explanation (flow finds spurious local shifts in a
    flicker, a rank-1 change mimics slow motion), so neither is trusted alone: the appearance start
    wins where it reconstructs clearly better, or as well while the motion start itself leaves most of
    the change to A (see the comment at the choice below)."""
    joint_steps = config.appearance_steps if config.residual_rank1 else 0
    with torch.no_grad():
        # the splat averages every frame that sees a canvas pixel; with the brightness of each frame
        # matched to the anchor frame's first, the canvas is that frame's content (A_a = identity), not the mean
        canvas = splat_canvas(match_to_anchor_frame(clips, anchor), displacement, margin_px)
        # gain/offset only at first: their smooth maps cannot stand in for motion, so the motion is
        # fitted as before issue 16 but no longer bent by brightness changes; R = 0 and c = 0 give
        # each other zero gradient, so the rank-1 term stays off until it is initialized below
        appearance_m = fit_appearance(warp_static(canvas, displacement, margin_px), clips, config.appearance_grid,
                                      rank1=False, anchor=anchor)
    canvas_m, displacement_m, appearance_m = refine(clips, canvas, displacement, margin_px, config, anchor,
                                                    appearance_m, config.steps)
    if config.residual_rank1:
        with torch.no_grad():
            appearance_m = with_rank1(appearance_m, warp_static(canvas_m, displacement_m, margin_px), clips)
        canvas_m, displacement_m, appearance_m = refine(clips, canvas_m, displacement_m, margin_px, config, anchor,
                                                        appearance_m, joint_steps)
    with torch.no_grad():
        appearance_m = polish_gain_offset(appearance_m, warp_static(canvas_m, displacement_m, margin_px), clips)
        error_m = _per_clip_mse(clips, canvas_m, displacement_m, margin_px, appearance_m)
        still = torch.zeros_like(displacement)
        canvas_a = splat_canvas(frame_at(clips, anchor)[:, None], still[:, :1], margin_px)
        appearance_a = fit_appearance(warp_static(canvas_a, still, margin_px), clips, config.appearance_grid,
                                      config.residual_rank1, anchor)
        displacement_a = still
        error_a = _per_clip_mse(clips, canvas_a, still, margin_px, appearance_a)
    # refining the appearance start costs as much as the motion start's last phase: only where it can win
    hopeful = torch.nonzero(error_a <= APPEARANCE_START_RANGE * error_m + 1e-8).flatten()
    if len(hopeful) > 0 and joint_steps > 0:
        subset = appearance_a.rows(hopeful)
        canvas_r, displacement_r, subset = refine(clips[hopeful], canvas_a[hopeful], still[hopeful], margin_px, config,
                                                  anchor[hopeful], subset, joint_steps)
        with torch.no_grad():
            subset = polish_gain_offset(subset, warp_static(canvas_r, displacement_r, margin_px), clips[hopeful])
            error_r = _per_clip_mse(clips[hopeful], canvas_r, displacement_r, margin_px, subset)
            better = error_r < error_a[hopeful]
            chosen = hopeful[better]
            canvas_a, displacement_a = canvas_a.clone(), displacement_a.clone()
            canvas_a[chosen], displacement_a[chosen] = canvas_r[better], displacement_r[better]
            for whole, part in zip(appearance_a.tensors(), subset.tensors()):
                whole[chosen] = part[better]
            error_a[chosen] = error_r[better]
    with torch.no_grad():
        # the appearance start wins if it is clearly better (by more than the tolerance and an MSE of
        # EXPLAINED_MSE), or as good while even the motion start leaves most of the change to A (a
        # flicker: its D is spurious). A drifting grating is exactly a gain plus a rank-1 change too
        # (cos and sin in quadrature), but the motion start explains it with A near the identity,
        # so unless the appearance start is clearly better it stays motion.
        clearly_better = error_a < error_m / (1 + config.start_tolerance) - EXPLAINED_MSE
        as_good = error_a <= error_m * (1 + config.start_tolerance) + EXPLAINED_MSE
        mostly_appearance = _appearance_share(clips, canvas_m, displacement_m, margin_px, appearance_m) >= 0.5
        use_a = clearly_better | (as_good & mostly_appearance)
        pick = lambda a, m: torch.where(use_a.view(-1, *([1] * (a.ndim - 1))), a, m)  # noqa: E731
        return (pick(canvas_a, canvas_m), pick(displacement_a, displacement_m),
                select_clips(appearance_a, use_a, appearance_m), use_a)


def decompose_videos(videos: np.ndarray, config: DecomposeConfig = DecomposeConfig()) -> list[Decomposition]:
    """Decompose a batch of equally shaped videos [B, T, H, W, 3] in [0, 1], all fitted together
    (one canvas margin for the batch, per anchor fitted). Returns one :class:`Decomposition` per video.

    ``config.anchor`` ``best``: every clip is fitted with I anchored to frame 0 and, where the contrast rule
    (:func:`kernelvis.decompose.anchor.anchor_frames`) picks a later frame, with I anchored there too; per clip
    the better final reconstruction is kept (frame 0's on a tie)."""
    videos = _check_videos(videos)
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)
    clips = torch.from_numpy(videos).to(device).permute(0, 1, 4, 2, 3).contiguous()  # (B, T, C, H, W)
    flow_clips = clips if config.flow_color else clips.mean(dim=2, keepdim=True)
    flow = pairwise_flow(flow_clips, levels=config.flow_levels, steps=config.flow_steps,
                         lr=config.flow_lr, tv_weight=config.flow_tv_weight, global_init=config.flow_global_init,
                         per_frame=config.flow_frame_standardize)
    if config.anchor != "best":
        return _decompose_anchored(videos, clips, flow_clips, flow, anchor_frames(clips, config.anchor), config)
    decompositions = _decompose_anchored(videos, clips, flow_clips, flow, anchor_frames(clips, "first"), config)
    later = anchor_frames(clips, "contrast")
    moved = torch.nonzero(later != 0).flatten()
    if len(moved) > 0:
        # which anchor reconstructs a clip better cannot be told before the fit (demo conv2 kernel 23, anchored after
        # its faint first two frames: both motion starts ended 1.3 and 1.5 dB worse; on a clean drift a later anchor
        # fits a little better)
        refits = _decompose_anchored(videos[moved.cpu().numpy()], clips[moved], flow_clips[moved], flow[moved],
                                     later[moved], config)
        for index, refit in zip(moved.tolist(), refits):
            if _reconstruction_mse(videos[index], refit) < _reconstruction_mse(videos[index], decompositions[index]):
                decompositions[index] = refit
    return decompositions


def _reconstruction_mse(video: np.ndarray, decomposition: Decomposition) -> float:
    return float(np.mean((decomposition.recon.astype(np.float64) - video) ** 2))


def _decompose_anchored(videos: np.ndarray, clips: torch.Tensor, flow_clips: torch.Tensor, flow: torch.Tensor,
                        anchor: torch.Tensor, config: DecomposeConfig) -> list[Decomposition]:
    """:func:`decompose_videos` with the anchor frame of every clip given (``anchor`` (B,)) and the pairwise flow
    fitted."""
    device = clips.device
    with torch.no_grad():
        displacement = chain_displacements(flow, anchor)
    starts = [displacement]
    if config.rigid_start:
        velocity = global_velocity(flow_clips, flow, per_frame=config.flow_frame_standardize)
        with torch.no_grad():
            times = torch.arange(clips.shape[1], device=device, dtype=clips.dtype)[None, :] - anchor[:, None]
            starts.append((-velocity[:, None, :] * times[:, :, None])[:, :, None, None, :]
                          .expand_as(displacement).contiguous())
    margin_px = config.margin_px
    if margin_px is None:
        margin_px = int(math.ceil(max(float(start.abs().max()) for start in starts))) + 2
    # every motion start is fitted in full and, per clip, the better final reconstruction kept (the pairwise
    # flow's on a tie): which start wins cannot be told before refinement (measured on demo conv2, choosing
    # by the starts' own errors took the translation for two kernels it then fitted 0.2 and 4.7 dB worse)
    canvas, displacement, appearance, appearance_start = _fit_motion_start(clips, starts[0], margin_px, config, anchor)
    start_names = [("appearance" if bool(flag) else "motion") for flag in appearance_start]
    if len(starts) > 1:
        # where the translation is the flow's start already, a second fit would refit the same
        distinct = torch.nonzero((starts[1] - starts[0]).norm(dim=-1).mean(dim=(1, 2, 3)) > DISTINCT_START_PX).flatten()
        if len(distinct) > 0:
            canvas_t, displacement_t, appearance_t, appearance_start_t = _fit_motion_start(
                clips[distinct], starts[1][distinct], margin_px, config, anchor[distinct])
            with torch.no_grad():
                error_t = _per_clip_mse(clips[distinct], canvas_t, displacement_t, margin_px, appearance_t)
                flow_part = None if appearance is None else appearance.rows(distinct)
                error_m = _per_clip_mse(clips[distinct], canvas[distinct], displacement[distinct], margin_px, flow_part)
                for row, (index, better) in enumerate(zip(distinct.tolist(), (error_t < error_m).tolist())):
                    if not better:
                        continue
                    canvas[index], displacement[index] = canvas_t[row], displacement_t[row]
                    if appearance is not None:
                        for whole, part in zip(appearance.tensors(), appearance_t.tensors()):
                            whole[index] = part[row]
                    start_names[index] = "appearance" if bool(appearance_start_t[row]) else "translation"
    batch, frames, channels, height, width = clips.shape
    if appearance is None:
        appearance = identity_appearance(batch, frames, channels, height, width, config.appearance_grid, clips, anchor)
    if not (torch.isfinite(canvas).all() and torch.isfinite(displacement).all()):
        raise OptimizationDivergedError("the decomposition diverged (NaN/inf); lower the learning rates")
    with torch.no_grad():
        velocity = velocity_from_displacement(displacement)
        motion_only = warp_static(canvas, displacement, margin_px)  # (B, C, T, H, W)
        recon = apply_appearance(motion_only, appearance).clamp(0, 1)
        under_frame = frame_at(motion_only, anchor, dim=2)[:, :, None].expand_as(motion_only)  # I (D_a = 0), every frame
        appearance_only = apply_appearance(under_frame, appearance).clamp(0, 1)
        gain, offset = gain_offset_maps(appearance, config.appearance_grid, config.appearance_grid)
        coef = with_anchor_frame(appearance.residual_coef, 0.0, anchor)
    canvas_np = canvas.clamp(0, 1).permute(0, 2, 3, 1).cpu().numpy()
    height, width = videos.shape[2:4]
    return [Decomposition(
        static=np.ascontiguousarray(canvas_np[b, margin_px:margin_px + height, margin_px:margin_px + width]),
        displacement=displacement[b].cpu().numpy(),
        velocity=velocity[b].cpu().numpy(),
        recon=recon[b].permute(1, 2, 3, 0).cpu().numpy(),
        static_canvas=canvas_np[b],
        margin_px=margin_px,
        recon_motion_only=motion_only[b].clamp(0, 1).permute(1, 2, 3, 0).cpu().numpy(),
        recon_appearance_only=appearance_only[b].permute(1, 2, 3, 0).cpu().numpy(),
        gain=gain[b].permute(0, 2, 3, 1).cpu().numpy(),
        offset=offset[b].permute(0, 2, 3, 1).cpu().numpy(),
        residual_coef=coef[b].cpu().numpy(),
        residual_image=appearance.residual_image[b].permute(1, 2, 0).cpu().numpy(),
        anchor_frame=int(anchor[b]),
        start=start_names[b],
    ) for b in range(videos.shape[0])]


def decompose_video(video: np.ndarray, config: DecomposeConfig = DecomposeConfig()) -> Decomposition:
    """Decompose one video [T, H, W, 3] in [0, 1] into a static image and displacements."""
    video = np.asarray(video, dtype=np.float32)
    if video.ndim != 4:
        raise BadInputError(f"expected a video shaped [T, H, W, 3], got {list(video.shape)}")
    return decompose_videos(video[None], config)[0]
