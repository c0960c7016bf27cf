"""Network inversion for video (Mahendran & Vedaldi 2015, docs/baselines.md a).

Given a clip x0 and its features Φ0 = Φ_ℓ(x0) at a layer, find the clip x that has the same
features under two natural-image priors, made spatiotemporal:

    x* = argmin_x  ||Φ(x) − Φ0||² / ||Φ0||²  +  λ_α R_α(x)  +  λ_V R_V(x)

* R_α = mean |(x − ½) / B|^α with B = ½ (α = 6): bounds the dynamic range without clamping;
* R_V = mean (Δx² + Δy² + τ·Δt²)^(β/2) / B^β: total variation over space and, weighted by τ,
  over time (β = 2 as in most of the paper's CNN experiments).

Both priors are means over pixels and normalized by the range B, so the λs are O(1) numbers that
do not depend on the clip size (the paper's normalization by size and range, in spirit). The
deeper the layer, the less of the clip its features pin down, so reconstructions from deep layers
are blurrier and further from the original: the property a test checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from kernelvis.errors import OptimizationDivergedError
from kernelvis.models.loaded import LoadedModel
from kernelvis.models.activation import explained_inplace_errors, layer_output
from kernelvis.optimizers import Adam, cosine_decay

HALF_RANGE = 0.5
"""B: half the [0, 1] display range; pixels are measured as deviations from mid-grey in units of B."""


@dataclass(frozen=True)
class InversionConfig:
    steps: int = 200
    lr: float = 0.05
    """Adam step size on display-space pixels; decays by cosine to 1 % of it."""
    alpha: float = 6.0
    alpha_weight: float = 1e-3
    tv_beta: float = 2.0
    tv_weight: float = 0.5
    tv_time_weight: float = 1.0
    """τ: weight of frame-to-frame differences relative to spatial neighbours."""
    init_std: float = 0.01
    seed: int = 0


@dataclass
class Inversion:
    layer: str
    video: np.ndarray
    """float32 [T, H, W, 3] in [0, 1]: the reconstruction (clipped to the display range)"""
    feature_error: float
    """||Φ(x*) − Φ0||² / ||Φ0||² at the end"""
    psnr_db: float
    """of the reconstruction against the original clip"""
    history: np.ndarray
    """float32 [steps]: total loss per step"""


def alpha_prior(video: torch.Tensor, alpha: float) -> torch.Tensor:
    return ((video - 0.5) / HALF_RANGE).abs().pow(alpha).mean()


def total_variation(video: torch.Tensor, beta: float, time_weight: float) -> torch.Tensor:
    """Mean over positions of (Δx² + Δy² + τ Δt²)^(β/2) / B^β for video (N, C, T, H, W); forward
    differences, zero past the last frame/row/column (so every frame, the last included, is smoothed)."""
    def forward_difference(dim: int) -> torch.Tensor:
        difference = video.diff(dim=dim)
        pad = [0, 0] * (video.ndim - 1 - dim) + [0, 1]
        return torch.nn.functional.pad(difference, pad)

    squared = (forward_difference(4).pow(2) + forward_difference(3).pow(2)
               + time_weight * forward_difference(2).pow(2)) / HALF_RANGE**2
    return squared.clamp_min(1e-12).pow(beta / 2).mean()


def psnr_db(reconstruction: np.ndarray, original: np.ndarray) -> float:
    """Peak signal-to-noise ratio for clips in [0, 1]."""
    mse = float(np.mean((np.asarray(reconstruction, np.float64) - np.asarray(original, np.float64)) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(1.0 / mse)


def invert(model: LoadedModel, layer: str, video: np.ndarray, config: InversionConfig = InversionConfig()) -> Inversion:
    """Reconstruct ``video`` (float32 [T, H, W, 3] in [0, 1]) from its features at ``layer``."""
    original = torch.from_numpy(np.asarray(video, dtype=np.float32)).permute(3, 0, 1, 2)[None]
    with torch.no_grad():
        target = layer_output(model, layer, original)
    target_energy = target.pow(2).sum().clamp_min(1e-12)
    generator = torch.Generator().manual_seed(config.seed)
    x = (0.5 + config.init_std * torch.randn(original.shape, generator=generator)).requires_grad_(True)
    optimizer = Adam(x, lr=config.lr)
    history = np.zeros(config.steps, dtype=np.float32)
    for step in range(config.steps):
        optimizer.lr = cosine_decay(config.lr, step, config.steps)  # to 1 % of the rate
        optimizer.zero_grad()
        with torch.enable_grad():
            feature_error = (layer_output(model, layer, x) - target).pow(2).sum() / target_energy
            loss = (feature_error + config.alpha_weight * alpha_prior(x, config.alpha)
                    + config.tv_weight * total_variation(x, config.tv_beta, config.tv_time_weight))
            if not torch.isfinite(loss):
                raise OptimizationDivergedError(f"inversion from layer {layer!r} diverged at step {step} (loss {loss.item()}); lower --lr")
            with explained_inplace_errors(model, layer):
                loss.backward()
        optimizer.step()
        history[step] = loss.item()
    reconstruction = x.detach().clamp(0, 1)
    with torch.no_grad():
        final_error = float((layer_output(model, layer, reconstruction) - target).pow(2).sum() / target_energy)
    result = reconstruction[0].permute(1, 2, 3, 0).numpy().astype(np.float32)
    return Inversion(layer=layer, video=result, feature_error=final_error, psnr_db=psnr_db(result, video), history=history)


def invert_layers(model: LoadedModel, layers: Sequence[str], video: np.ndarray,
                  config: InversionConfig = InversionConfig()) -> list[Inversion]:
    """Per-layer reconstructions of the same clip (same seed and settings for every layer)."""
    return [invert(model, layer, video, config) for layer in layers]
