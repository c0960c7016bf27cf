"""Frame-to-frame flow by a batched coarse-to-fine pyramid, and how displacements and velocities
follow from it.

Why pairwise first (docs/stage2.md, prototype notes): fitting the static image and all D_t jointly
from D = 0 falls into a degenerate optimum where the static image absorbs the change and the motion
comes out 10–30 % of the truth. Flow between consecutive frames is a small, well-posed problem;
chaining it gives D_t close to the answer, which the joint fit then only refines.

Conventions (the README's Conventions): pixel coordinates (x, y), y down; backward warps ``out(p) = in(p + d(p))``.
- pairwise flow ``u_t``: ``V_{t+1}(p) ≈ V_t(p + u_t(p))`` (t = 0..T-2); content moving at velocity
  v has ``u_t = -v``.
- displacement ``D_t``: ``V_t(p) ≈ I(p + D_t(p))`` with the static image I anchored to frame a (``D_a = 0``;
  a = 0 by default, as in the paper, :mod:`kernelvis.decompose.anchor`), so after it
  ``D_t(p) = u_{t-1}(p) + D_{t-1}(p + u_{t-1}(p))`` and before it the same with the inverse flow.
- velocity ``v_t`` (apparent content motion from frame t-1 to t, px/frame): the content at p in
  frame t was at ``p - v_t(p)`` in frame t-1, i.e. ``p + D_t(p) = (p - v) + D_{t-1}(p - v)``, so
  ``v_t(p) = D_{t-1}(p - v_t(p)) - D_t(p)``; solved by fixed-point iteration from
  ``D_{t-1}(p) - D_t(p)`` (exact for translation, second-order accurate otherwise). ``v_0 = 0``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from kernelvis.decompose.losses import masked_mse, total_variation
from kernelvis.decompose.optim import VectorAdam
from kernelvis.decompose.warp import inside_mask, pixel_grid, sample_at_px

MIN_LEVEL_SIZE_PX = 8
"""Coarsest pyramid level: smaller images carry too little texture to constrain the flow."""


MIN_COARSE_PERIOD_PX = 4.0
"""The coarsest level must still show the clip's dominant spatial period with at least this many
px: coarser, a grating aliases into a pattern that moves another way, and the levels below inherit it."""


def dominant_period_px(images: torch.Tensor) -> float:
    """1 / (power-weighted mean spatial frequency) of (N, C, H, W) images, in px: the period of a
    grating, ~16-20 px for a smooth 1/f texture of 64 px."""
    grey = images.mean(dim=1)
    grey = grey - grey.mean(dim=(-2, -1), keepdim=True)
    power = torch.fft.fft2(grey).abs().square().mean(dim=0)
    fy = torch.fft.fftfreq(grey.shape[-2], device=images.device, dtype=grey.dtype)
    fx = torch.fft.fftfreq(grey.shape[-1], device=images.device, dtype=grey.dtype)
    radius = torch.sqrt(fy[:, None] ** 2 + fx[None, :] ** 2)
    total = float(power.sum())
    if total <= 0:
        return float("inf")
    return total / max(float((power * radius).sum()), 1e-12)


def resolvable_levels(images: torch.Tensor, levels: int) -> int:
    """At most ``levels`` pyramid levels, fewer if the dominant period would shrink below
    ``MIN_COARSE_PERIOD_PX`` on the coarsest."""
    period = dominant_period_px(images)
    if not math.isfinite(period):
        return levels
    return max(1, min(levels, 1 + int(math.floor(math.log2(max(period / MIN_COARSE_PERIOD_PX, 1.0))))))


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


CONTRAST_CHANGE_RATIO = 1.25
"""A clip's frames are standardized one by one (not as a whole) when their contrast (std) varies by
more than this factor over the clip: a change of contrast/brightness that large is the appearance
component's job and would bend the flow (measured: EPE 0.15-0.23 px/frame on a translation whose
brightness rises 39 %, 0.04-0.07 with per-frame standardization). Below it, frames share one
standardization, because a frame's own mean and std also change when content enters and leaves
(smooth noise translating 1.55 px/frame: std x1.11, mean by half the clip's std), and removing that
change biases the flow (measured: 7 % slow)."""


def _standardize(clips: torch.Tensor, per_frame: bool = True) -> torch.Tensor:
    """Zero mean, unit std per clip, so the data term's scale (and so the TV weight's meaning) does not
    depend on the clip's contrast, which varies a lot between optimal inputs; per frame instead for
    clips whose contrast changes over time (``CONTRAST_CHANGE_RATIO``) when
    ``per_frame`` (False: always per clip, as before issue 16)."""
    clip_dims = tuple(range(1, clips.ndim))
    frame_dims = tuple(range(2, clips.ndim))
    clip_centred = clips - clips.mean(dim=clip_dims, keepdim=True)
    clip_std = clip_centred.pow(2).mean(dim=clip_dims, keepdim=True).sqrt().clamp_min(1e-6)
    standardized = clip_centred / clip_std
    if not per_frame:
        return standardized
    frame_mean = clips.mean(dim=frame_dims, keepdim=True)
    frame_centred = clips - frame_mean
    frame_std = frame_centred.pow(2).mean(dim=frame_dims, keepdim=True).sqrt().clamp_min(1e-6)
    changing = frame_std.amax(dim=1) / frame_std.amin(dim=1) > CONTRAST_CHANGE_RATIO
    return torch.where(changing[:, None], frame_centred / frame_std, standardized)


def fit_flow_level(sources: torch.Tensor, targets: torch.Tensor, flow: torch.Tensor, steps: int, lr: float,
                   tv_weight: float, magnitude_weight: float = 0.0) -> torch.Tensor:
    """Refine ``flow`` (B, H, W, 2) so that ``sources(p + flow(p)) ≈ targets(p)`` (B, C, H, W) with
    :class:`~kernelvis.decompose.optim.VectorAdam`.
    Pixels whose sample falls outside the source at the start of the level do not count; TV fills them
    from their neighbours. The mask is fixed for the level: recomputed every step, it would reward a
    pixel near a border for pushing its sample out of the frame, a degenerate way to lower the loss."""
    height, width = sources.shape[-2:]
    grid = pixel_grid(height, width, sources.device, sources.dtype)
    mask = inside_mask(grid + flow, height, width).unsqueeze(1)
    flow = flow.detach().clone().requires_grad_(True)
    optimizer = VectorAdam([(flow, -1)], lr, steps)
    for _ in range(steps):
        warped = sample_at_px(sources, grid + flow, padding_mode="border")
        loss = (masked_mse(warped, targets, mask) + tv_weight * total_variation(flow.permute(0, 3, 1, 2))
                + magnitude_weight * flow.square().mean())
        loss.backward()
        optimizer.step()
    return flow.detach()


def gaussian_pyramid(images: torch.Tensor, sizes: list[tuple[int, int]]) -> list[torch.Tensor]:
    """``images`` (N, C, H, W) at every size of ``sizes`` (coarsest first, finest = the input's size),
    each level blurred (Gaussian, sigma 1 px of the finer level) before halving. Plain 2x2 averaging
    lets a fine grating alias into a coarser pattern that moves in a different direction; blurred,
    it mostly fades out and the finer levels, where it is resolved, determine its motion."""
    levels = [images]
    for size in reversed(sizes[:-1]):
        levels.append(F.interpolate(gaussian_blur(levels[-1], sigma_px=1.0), size=size, mode="area"))
    return levels[::-1]


def gaussian_blur(images: torch.Tensor, sigma_px: float) -> torch.Tensor:
    """Separable Gaussian blur of (N, C, H, W) images, reflecting at the borders."""
    radius = max(1, int(round(3 * sigma_px)))
    taps = torch.arange(-radius, radius + 1, dtype=images.dtype, device=images.device)
    kernel = torch.exp(-0.5 * (taps / sigma_px) ** 2)
    kernel = kernel / kernel.sum()
    channels = images.shape[1]
    padded = F.pad(images, (radius, radius, 0, 0), mode="reflect")
    images = F.conv2d(padded, kernel.view(1, 1, 1, -1).expand(channels, 1, 1, -1), groups=channels)
    padded = F.pad(images, (0, 0, radius, radius), mode="reflect")
    return F.conv2d(padded, kernel.view(1, 1, -1, 1).expand(channels, 1, -1, 1), groups=channels)


def pairwise_flow(clips: torch.Tensor, levels: int = 4, steps: int = 30, lr: float = 0.1,
                  tv_weight: float = 0.2, magnitude_weight: float = 0.0, global_init: bool = True,
                  per_frame: bool = True) -> torch.Tensor:
    """Flow between consecutive frames of every clip, all pairs of all clips optimized together.

    clips: (B, T, C, H, W). Returns u (B, T-1, H, W, 2) with ``clips[:, t+1](p) ≈ clips[:, t](p + u_t(p))``.
    ``levels`` is an upper bound (:func:`resolvable_levels` lowers it for fine patterns).
    ``steps`` Adam steps at the finest level; each coarser level gets twice as many as the next finer
    one (it costs a quarter, and the coarse levels must carry fast motions most of the way).
    ``lr`` is in px of the level being fitted (Adam steps are about ``lr`` in size).
    ``magnitude_weight`` (mean |u|², px of the level) optionally prefers slow flows. It is 0 by
    default: the aperture problem (a grating constrains only its normal velocity) is handled by
    :class:`~kernelvis.decompose.optim.VectorAdam`, which never starts an along-stripe slide, and
    a magnitude prior would shrink every real speed a little.
    ``global_init`` seeds the pyramid with each pair's global shift (:func:`initial_flow`);
    ``per_frame`` standardizes each frame on its own (else each clip, as before issue 16).
    """
    batch, frames, channels, height, width = clips.shape
    if frames < 2:
        return clips.new_zeros(batch, 0, height, width, 2)
    standardized = _standardize(clips, per_frame)
    # Clips that need different pyramids are fitted separately, so a clip's result never depends
    # on what else is in the batch.
    clip_levels = [resolvable_levels(clip, levels) for clip in standardized]
    flow = clips.new_zeros(batch, frames - 1, height, width, 2)
    for group_levels in sorted(set(clip_levels)):
        members = [index for index, value in enumerate(clip_levels) if value == group_levels]
        flow[members] = _pyramid_flow(standardized[members], pyramid_sizes(height, width, group_levels), steps, lr,
                                      tv_weight, magnitude_weight, global_init)
    return flow


GLOBAL_SHIFT_MIN_PX = 1.0
"""A clip's global shifts found by phase correlation seed the pyramid only if their median reaches
this size: slower motions the pyramid finds from zero, and a spurious sub-pixel peak must not bias them."""
GLOBAL_SHIFT_MIN_PEAK = 0.08
"""Phase-correlation peak (1 = identical shifted frames) below which no shift is trusted: flicker,
cuts and incoherent motion give flat correlation surfaces whose maximum is noise."""


GLOBAL_SHIFT_MIN_DISTINCTNESS = 1.5
"""The peak must be this many times the highest value away from it: gratings (a ridge of equal
peaks along the stripes) and flicker give no distinct shift."""


GLOBAL_SHIFT_MAX_COHERENCE = 0.5
"""Images whose gradients mostly share one orientation (structure-tensor coherence above this; a
grating: ~1, textures: < 0.2) constrain only the motion across it. On the pixel lattice their
correlation ridge still has isolated maxima, at shifts along the stripes, so they get no global shift."""


def structure_tensor(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(J_xx, J_yy, J_xy), each (N,): the whole-frame mean structure tensor of (N, C, H, W) images."""
    grey = images.mean(dim=1)
    d_x = grey[:, 1:-1, 2:] - grey[:, 1:-1, :-2]
    d_y = grey[:, 2:, 1:-1] - grey[:, :-2, 1:-1]
    return (d_x * d_x).mean(dim=(1, 2)), (d_y * d_y).mean(dim=(1, 2)), (d_x * d_y).mean(dim=(1, 2))


def coherence_of(j_xx: torch.Tensor, j_yy: torch.Tensor, j_xy: torch.Tensor) -> torch.Tensor:
    """Coherence ((λ1 − λ2)/(λ1 + λ2))² of structure tensors: 1 for stripes, 0 for isotropic texture."""
    return ((j_xx - j_yy) ** 2 + 4 * j_xy ** 2) / (j_xx + j_yy).square().clamp_min(1e-12)


def orientation_coherence(images: torch.Tensor) -> torch.Tensor:
    """(N,) structure-tensor coherence of (N, C, H, W) images, whole frame (:func:`coherence_of`)."""
    return coherence_of(*structure_tensor(images))


def _hann(size: int, like: torch.Tensor) -> torch.Tensor:
    return torch.hann_window(size, periodic=False, dtype=like.dtype, device=like.device)


def global_shift_px(sources: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Phase correlation of (N, C, H, W) image pairs: ``(shift (N, 2) px, peak (N,), second (N,))`` with
    ``targets(p) ≈ sources(p + shift)`` for the dominant global translation.

    Why: a pyramid only carries motions of a few px of its coarsest level, and the coarsest level
    must keep the texture resolvable (:func:`resolvable_levels`), so on fine textures a fast motion
    (2.5-3 px/frame) starts out of reach and the flow locks onto a wrong match. The correlation
    surface sees any shift up to half the frame at once. Sub-pixel by a parabola through the peak
    and its neighbours along each axis; frames are Hann-windowed so the frame border is no edge.
    ``second`` is the surface's highest value more than 2 px from the peak (how distinct the peak is).
    """
    height, width = sources.shape[-2:]
    window = _hann(height, sources)[:, None] * _hann(width, sources)[None, :]

    def prepared(images):
        grey = images.mean(dim=1)
        return (grey - grey.mean(dim=(-2, -1), keepdim=True)) * window

    cross = torch.conj(torch.fft.fft2(prepared(sources))) * torch.fft.fft2(prepared(targets))
    surface = torch.fft.ifft2(cross / cross.abs().clamp_min(1e-12)).real  # (N, H, W), peak at -shift
    flat = surface.reshape(surface.shape[0], -1)
    peak, index = flat.max(dim=1)
    row, col = index // width, index % width

    def refined(values_minus, values_zero, values_plus, position, size):
        curvature = values_minus - 2 * values_zero + values_plus
        offset = torch.where(curvature < 0, 0.5 * (values_minus - values_plus) / curvature.clamp_max(-1e-12),
                             torch.zeros_like(curvature)).clamp(-0.5, 0.5)
        wrapped = torch.where(position > size // 2, position - size, position).to(surface.dtype)
        return wrapped + offset

    # the highest value farther than 2 px from the peak: a grating's surface is a ridge along its
    # stripes (the aperture problem), with no distinct peak, and must not seed the flow
    lag_rows = torch.arange(height, device=surface.device)
    lag_cols = torch.arange(width, device=surface.device)
    d_row = (lag_rows[None, :] - row[:, None]).remainder(height)
    d_col = (lag_cols[None, :] - col[:, None]).remainder(width)
    d_row = torch.minimum(d_row, height - d_row)
    d_col = torch.minimum(d_col, width - d_col)
    near = (d_row[:, :, None] <= 2) & (d_col[:, None, :] <= 2)
    second = surface.masked_fill(near, float("-inf")).reshape(surface.shape[0], -1).amax(dim=1)
    n = torch.arange(surface.shape[0], device=surface.device)
    at = lambda r, c: surface[n, r % height, c % width]  # noqa: E731
    lag_y = refined(at(row - 1, col), peak, at(row + 1, col), row, height)
    lag_x = refined(at(row, col - 1), peak, at(row, col + 1), col, width)
    # ifft of conj(A) B peaks at the lag L with B(p) = A(p - L); our shift is -L.
    return -torch.stack([lag_x, lag_y], dim=-1), peak, second


def initial_flow(sources: torch.Tensor, targets: torch.Tensor, clips: int = 1) -> torch.Tensor:
    """(N, H, W, 2) constant flow per pair from :func:`global_shift_px` where it is trusted (peak >=
    ``GLOBAL_SHIFT_MIN_PEAK`` and distinct, ``GLOBAL_SHIFT_MIN_DISTINCTNESS``), else zero. The N pairs are ``clips`` clips' consecutive pairs; a clip
    uses its shifts only if their median is at least ``GLOBAL_SHIFT_MIN_PX``, for all its pairs alike:
    pairs of one clip started half from a shift and half from zero drift apart (measured on gravel at
    2 px/frame, whose pair shifts straddled a per-pair threshold: EPE 0.2-1.7 px/frame)."""
    height, width = sources.shape[-2:]
    shift, peak, second = global_shift_px(sources, targets)
    trusted = ((peak >= GLOBAL_SHIFT_MIN_PEAK) & (peak >= GLOBAL_SHIFT_MIN_DISTINCTNESS * second)
               & (orientation_coherence(sources) <= GLOBAL_SHIFT_MAX_COHERENCE))
    size = shift.norm(dim=-1).where(trusted, torch.zeros_like(peak)).reshape(clips, -1)
    fast = (size.median(dim=1).values >= GLOBAL_SHIFT_MIN_PX).repeat_interleave(size.shape[1])
    shift = torch.where((trusted & fast)[:, None], shift, torch.zeros_like(shift))
    return shift[:, None, None, :].expand(-1, height, width, -1).contiguous()


def _pyramid_flow(standardized: torch.Tensor, sizes: list[tuple[int, int]], steps: int, lr: float, tv_weight: float,
                  magnitude_weight: float, global_init: bool = True) -> torch.Tensor:
    batch, frames, channels, height, width = standardized.shape
    source_levels = gaussian_pyramid(standardized[:, :-1].reshape(-1, channels, height, width), sizes)
    target_levels = gaussian_pyramid(standardized[:, 1:].reshape(-1, channels, height, width), sizes)
    flow = initial_flow(source_levels[-1], target_levels[-1], batch) if global_init else None
    for level, (size, level_sources, level_targets) in enumerate(zip(sizes, source_levels, target_levels)):
        flow = level_sources.new_zeros(level_sources.shape[0], *size, 2) if flow is None else resize_flow(flow, size)
        level_steps = steps * 2 ** (len(sizes) - 1 - level)
        flow = fit_flow_level(level_sources, level_targets, flow, level_steps, lr, tv_weight, magnitude_weight)
    return flow.reshape(batch, frames - 1, height, width, 2)


GLOBAL_VELOCITY_TIE = 0.01
"""The start from the pairwise flow's median replaces the start from zero only where it leaves this much
less loss (relative, plus 1e-3 of the standardized frames' unit variance): from zero, VectorAdam moves a
grating's translation only across its stripes (the aperture convention: its normal velocity), while the
median of a flow field carries some of the field's along-stripe scatter, which the loss does not see."""
GLOBAL_VELOCITY_TIE_ABS = 1e-3


def global_velocity(clips: torch.Tensor, flow: torch.Tensor, steps: int = 80, lr: float = 0.1,
                    per_frame: bool = True) -> torch.Tensor:
    """(B, 2) one content velocity per clip, px/frame (x right, y down): the single translation that best
    maps every frame of the clip onto the next, all pairs and pixels at once, on the frames standardized
    as the pairwise flow's are. Fitted from two starts, zero and the median of the clip's pairwise ``flow``
    (B, T-1, H, W, 2), which carries fast motions to it; the latter is kept only where it is clearly
    better (``GLOBAL_VELOCITY_TIE``).

    Why: the pairwise flow is a field, fitted pixel by pixel, and on a pattern of thin lines (the optimal
    input of a temporal kernel: one bright column every 4 px, drifting 0.5 px/frame with every other
    frame at half contrast) most pixels have no gradient and the field comes out at half the speed, with
    a jitter the joint fit turns into back-and-forth motion. One translation shared by the whole clip is
    constrained by every line at once; where the clip does translate rigidly it is the better start (the
    fit chooses by reconstruction error, ``kernelvis.decompose.fit``). VectorAdam moves a grating's
    translation only across its stripes, so from zero it finds the normal velocity."""
    batch, pairs, height, width, _ = flow.shape
    if pairs == 0:
        return flow.new_zeros(batch, 2)
    standardized = _standardize(clips, per_frame)
    channels = standardized.shape[2]
    sources = standardized[:, :-1].reshape(batch, pairs * channels, height, width).repeat(2, 1, 1, 1)
    targets = standardized[:, 1:].reshape(batch, pairs * channels, height, width).repeat(2, 1, 1, 1)
    grid = pixel_grid(height, width, clips.device, clips.dtype)
    median = flow.reshape(batch, -1, 2).median(dim=1).values
    shift = torch.cat([torch.zeros_like(median), median]).detach().clone().requires_grad_(True)  # u = -v
    with torch.no_grad():
        mask = inside_mask(grid + median.repeat(2, 1)[:, None, None, :], height, width).unsqueeze(1)

    def per_clip_loss():
        warped = sample_at_px(sources, grid + shift[:, None, None, :], padding_mode="border")
        return ((warped - targets) ** 2 * mask).sum(dim=(1, 2, 3)) / (mask.sum(dim=(1, 2, 3)) * pairs * channels)

    optimizer = VectorAdam([(shift, -1)], lr, steps)
    for _ in range(steps):
        per_clip_loss().sum().backward()  # a sum of per-clip means: each clip's gradient is its own
        optimizer.step()
    with torch.no_grad():
        loss = per_clip_loss()
        use_flow = loss[batch:] < loss[:batch] * (1 - GLOBAL_VELOCITY_TIE) - GLOBAL_VELOCITY_TIE_ABS
        velocity = -torch.where(use_flow[:, None], shift[batch:], shift[:batch])
        # stripes constrain only the motion across them, and on the pixel lattice the fit still slides
        # thin oblique lines along themselves: their velocity is the normal one, by construction
        tensors = [j.reshape(batch, -1).mean(dim=1) for j in structure_tensor(gaussian_blur(standardized.flatten(0, 1), 1.0))]
        across = 0.5 * torch.atan2(2 * tensors[2], tensors[0] - tensors[1])
        normal = torch.stack([torch.cos(across), torch.sin(across)], dim=-1)
        stripes = coherence_of(*tensors) > GLOBAL_SHIFT_MAX_COHERENCE
        normal_velocity = (velocity * normal).sum(dim=-1, keepdim=True) * normal
        return torch.where(stripes[:, None], normal_velocity, velocity)


def inverse_flow(flow: torch.Tensor, iterations: int = 5) -> torch.Tensor:
    """The flow w (N, H, W, 2) back from frame t+1 to frame t, ``V_t(p) ≈ V_{t+1}(p + w(p))``, of a pairwise flow
    u (N, H, W, 2) with ``V_{t+1}(p) ≈ V_t(p + u(p))``: ``w(p) = -u(p + w(p))`` by fixed-point iteration from
    ``-u`` (exact for a translation; u beyond the frame: nearest edge)."""
    height, width = flow.shape[1:3]
    grid = pixel_grid(height, width, flow.device, flow.dtype)
    maps = flow.permute(0, 3, 1, 2)
    inverse = -flow
    for _ in range(iterations):
        inverse = -sample_at_px(maps, grid + inverse).permute(0, 2, 3, 1)
    return inverse


def chain_displacements(flow: torch.Tensor, anchor: torch.Tensor | None = None) -> torch.Tensor:
    """Displacements D (B, T, H, W, 2) relative to each clip's anchor frame a (``anchor`` (B,), default 0) from
    pairwise flow u (B, T-1, H, W, 2): ``D_a = 0``; after it ``D_t(p) = u_{t-1}(p) + D_{t-1}(p + u_{t-1}(p))``;
    before it the same with the inverse flow (:func:`inverse_flow`) from frame t+1 back to t,
    ``D_t(p) = w_t(p) + D_{t+1}(p + w_t(p))`` (D beyond the frame: nearest edge)."""
    batch, pairs, height, width, _ = flow.shape
    grid = pixel_grid(height, width, flow.device, flow.dtype)

    def carried(step: torch.Tensor, previous: torch.Tensor) -> torch.Tensor:
        return step + sample_at_px(previous.permute(0, 3, 1, 2), grid + step).permute(0, 2, 3, 1)

    anchor = flow.new_zeros(batch, dtype=torch.long) if anchor is None else anchor
    displacement = flow.new_zeros(batch, pairs + 1, height, width, 2)
    for first in torch.unique(anchor).tolist():  # clips that share an anchor are chained together
        members = torch.nonzero(anchor == first).flatten()
        part = flow[members]
        for t in range(first + 1, pairs + 1):
            displacement[members, t] = carried(part[:, t - 1], displacement[members, t - 1])
        if first > 0:
            backward = inverse_flow(part[:, :first].flatten(0, 1)).unflatten(0, (len(members), first))
            for t in range(first - 1, -1, -1):
                displacement[members, t] = carried(backward[:, t], displacement[members, t + 1])
    return displacement


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
