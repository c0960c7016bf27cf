"""Kernel-specific suppression (Zhuang et al., arXiv 2108.11054; docs/baselines.md), adapted to video.

Starting from a real clip x₀, the clip is optimized so that the target kernel k's activation map is
kept while every other kernel of the layer is driven to zero. What is left in the clip is what
kernel k needs; everything the other kernels respond to is removed.

Loss (norms over (t, h, w); maps rectified, as the reference code hooks the ReLU output):

    L = α · ||A_k(x₀) − A_k(x)||₂ / (T'H'W') / s₀  +  β · mean_{j≠k} ||A_j(x)||₁ / (T'H'W') / r₀
        + γ · mean|x − ½|  +  δ_s · TV_space(x) + δ_t · TV_time(x)

with s₀ = ||A_k(x₀)||₂ / (T'H'W') and r₀ = mean_{j≠k} ||A_j(x₀)||₁ / (T'H'W'): normalizing by the
original magnitudes is what makes one set of weights work across layers. The clip is optimized in
display space and kept in [0, 1] (a valid video for the decomposition); the lowest-loss iterate is
returned, not the last. γ pulls removed content to mid-grey (the zero of the reference code's
normalized input).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from scipy.ndimage import uniform_filter

from kernelvis.errors import BadInputError, KernelSilentError, OptimizationDivergedError
from kernelvis.models.loaded import LoadedModel
from kernelvis.models.activation import explained_inplace_errors, layer_output
from kernelvis.optimizers import Adam

EPS = 1e-8


@dataclass(frozen=True)
class SuppressConfig:
    steps: int = 300
    lr: float = 0.01
    """Adam step size in display units ([0, 1] pixel values)."""
    alpha: float = 1.0
    """weight of keeping the target map (L_sel / s₀)."""
    beta: float = 1.0
    """weight of suppressing the other kernels (L_rest / r₀)."""
    gamma: float = 0.1
    """pull toward mid-grey, mean|x − ½| (the reference code's L1 image prior)."""
    spatial_tv: float = 0.5
    temporal_tv: float = 0.5
    """squared-difference total variation across x/y and across frames (the 3D addition)."""
    early_stop_patience: int = 100
    """stop when the best loss has not improved by ``min_delta`` (relative) for this many steps."""
    min_delta: float = 1e-5
    seed: int = 0
    device: str = "cpu"


@dataclass
class SuppressionResult:
    video: np.ndarray
    """float32 [T, H, W, 3] in [0, 1]: the best (lowest-loss) clip."""
    original: np.ndarray
    target_map_before: np.ndarray
    """float32 [T', H', W'] rectified A_k(x₀)."""
    target_map_after: np.ndarray
    history: np.ndarray
    """float32 [steps run] total loss per step."""
    best_step: int
    metrics: dict = field(default_factory=dict)


def rectified_maps(model: LoadedModel, layer: str, video01: torch.Tensor, preprocessing=None) -> torch.Tensor:
    """max(0, A(x)) of the layer, (N, C, T', H', W'): "suppressed" means driven to zero."""
    output = layer_output(model, layer, video01, preprocessing)
    if output.ndim == 4:  # a 2D-on-frames layer: give it a time axis
        output = output[:, :, None]
    return torch.relu(output)


def _total_variation(video: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean squared differences across space (x and y) and across time for (N, 3, T, H, W)."""
    spatial = (video[..., 1:, :] - video[..., :-1, :]).square().mean() + \
        (video[..., :, 1:] - video[..., :, :-1]).square().mean()
    temporal = (video[:, :, 1:] - video[:, :, :-1]).square().mean() if video.shape[2] > 1 else video.new_zeros(())
    return spatial, temporal


def suppression_loss(maps: torch.Tensor, reference_target: torch.Tensor, kernel: int, s0: float, r0: float,
                     video: torch.Tensor, config: SuppressConfig) -> torch.Tensor:
    """The normalized loss of one batch of maps (N, C, T', H', W') against the original target map."""
    positions = float(np.prod(maps.shape[2:]))
    others = torch.cat([maps[:, :kernel], maps[:, kernel + 1:]], dim=1)
    selected = (reference_target - maps[:, kernel]).flatten(1).norm(dim=1).mean() / positions
    rest = others.abs().flatten(2).sum(dim=2).mean() / positions
    spatial_tv, temporal_tv = _total_variation(video)
    return (config.alpha * selected / s0 + config.beta * rest / r0 + config.gamma * (video - 0.5).abs().mean()
            + config.spatial_tv * spatial_tv + config.temporal_tv * temporal_tv)


def suppress(model: LoadedModel, layer: str, kernel: int, clip: np.ndarray,
             config: SuppressConfig = SuppressConfig(), preprocessing=None) -> SuppressionResult:
    """Optimize ``clip`` (float32 [T, H, W, 3] in [0, 1]) to keep kernel ``kernel`` and suppress the rest.
    ``preprocessing``: as stage 1 used (default: the model's native). A kernel that does not respond to
    the clip at all raises :class:`~kernelvis.errors.KernelSilentError`."""
    clip = np.asarray(clip, dtype=np.float32)
    if clip.ndim != 4 or clip.shape[-1] != 3:
        raise BadInputError(f"expected a clip shaped [T, H, W, 3], got {list(clip.shape)}")
    device = torch.device(config.device)
    model.module.to(device)
    torch.manual_seed(config.seed)
    original = torch.from_numpy(clip).permute(3, 0, 1, 2)[None].to(device)
    with torch.no_grad():
        reference = rectified_maps(model, layer, original, preprocessing)
    channels = reference.shape[1]
    if channels < 2:
        raise BadInputError(f"layer {layer!r} has {channels} channel; suppression needs other kernels to suppress")
    if not 0 <= kernel < channels:
        raise BadInputError(f"kernel {kernel} out of range for layer {layer!r}: valid 0..{channels - 1}")
    positions = float(np.prod(reference.shape[2:]))
    reference_target = reference[:, kernel]
    s0 = float(reference_target.flatten(1).norm(dim=1).mean()) / positions + EPS
    others = torch.cat([reference[:, :kernel], reference[:, kernel + 1:]], dim=1)
    r0 = float(others.abs().flatten(2).sum(dim=2).mean()) / positions + EPS
    if float(reference_target.max()) <= 0:
        raise KernelSilentError(f"kernel {kernel} of {layer!r} does not respond to this clip (its rectified map is all "
                            "zero): nothing to preserve; pick a clip it responds to")

    video = original.clone().requires_grad_(True)
    optimizer = Adam(video, lr=config.lr)
    history, best_loss, best_step, best_video, since_best = [], float("inf"), 0, original.clone(), 0
    for step in range(config.steps):
        optimizer.zero_grad()
        maps = rectified_maps(model, layer, video, preprocessing)
        loss = suppression_loss(maps, reference_target, kernel, s0, r0, video, config)
        value = float(loss.detach())
        if not np.isfinite(value):
            raise OptimizationDivergedError(f"suppression loss became {value} at step {step}; lower --lr")
        history.append(value)
        # The loss was measured on the current clip, so that clip is what a "best" value refers to.
        if value < best_loss * (1.0 - config.min_delta):
            best_loss, best_step, best_video, since_best = value, step, video.detach().clone(), 0
        else:
            since_best += 1
            if since_best >= config.early_stop_patience:
                break
        with explained_inplace_errors(model, layer):
            loss.backward()
        optimizer.step()
        with torch.no_grad():
            video.clamp_(0.0, 1.0)

    with torch.no_grad():
        after = rectified_maps(model, layer, best_video, preprocessing)
    metrics = suppression_metrics(reference[0].cpu().numpy(), after[0].cpu().numpy(), kernel)
    metrics.update(best_step=best_step, steps_run=len(history), best_loss=best_loss, s0=s0, r0=r0)
    as_clip = lambda tensor: tensor[0].permute(1, 2, 3, 0).cpu().numpy().astype(np.float32)  # noqa: E731
    return SuppressionResult(video=as_clip(best_video), original=clip, target_map_before=reference[0, kernel].cpu().numpy(),
                             target_map_after=after[0, kernel].cpu().numpy(), history=np.asarray(history, np.float32),
                             best_step=best_step, metrics=metrics)


def map_ssim(a: np.ndarray, b: np.ndarray, data_range: float, window: int = 7) -> float:
    """Mean SSIM of two maps [T', H', W'] (frame by frame, uniform window shrunk to fit small maps)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    size = max(1, min(window, *a.shape[1:]))
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    filt = lambda x: uniform_filter(x, size=(1, size, size), mode="reflect")  # noqa: E731
    mean_a, mean_b = filt(a), filt(b)
    var_a, var_b = filt(a * a) - mean_a**2, filt(b * b) - mean_b**2
    cov = filt(a * b) - mean_a * mean_b
    ssim = ((2 * mean_a * mean_b + c1) * (2 * cov + c2)) / ((mean_a**2 + mean_b**2 + c1) * (var_a + var_b + c2))
    return float(ssim.mean())


def suppression_metrics(before: np.ndarray, after: np.ndarray, kernel: int) -> dict:
    """The reference code's evaluation (mMetric_v3, with its aggregation bug fixed) plus plain ratios.

    ``before``/``after``: rectified maps (C, T', H', W'). Preservation: SSIM and RMSE of the target
    map. Suppression: SSIM to an all-zero map of the other kernels' maps where the target's original
    map is zero, and the fraction of the other kernels' total activation that remains.
    """
    target_before, target_after = before[kernel], after[kernel]
    data_range = float(max(target_before.max(), 1e-12))
    others_before = np.delete(before, kernel, axis=0)
    others_after = np.delete(after, kernel, axis=0)
    off_target = (target_before <= 0)[None]
    others_range = float(max(others_before.max(), 1e-12))
    rest_ssim = float(np.mean([map_ssim(np.where(off_target[0], other, 0.0), np.zeros_like(other), others_range)
                               for other in others_after]))
    preservation_ssim = map_ssim(target_before, target_after, data_range)
    rest_before = float(others_before.sum())
    return {
        "preservation_ssim": preservation_ssim,
        "preservation_rmse": float(np.sqrt(np.mean((target_before - target_after) ** 2))),
        "preservation_rmse_relative": float(np.sqrt(np.mean((target_before - target_after) ** 2)) / data_range),
        "target_activation_before": float(target_before.mean()),
        "target_activation_after": float(target_after.mean()),
        "rest_activation_before": float(others_before.mean()),
        "rest_activation_after": float(others_after.mean()),
        "rest_remaining_fraction": float(others_after.sum() / rest_before) if rest_before > 0 else 0.0,
        "rest_ssim_to_zero": rest_ssim,
        "combined_score": 0.5 * preservation_ssim + 0.5 * rest_ssim,
    }
