"""How much a kernel relies on its texture and on its motion.

From a kernel's texture I (on stage 2's canvas) and displacements D_t, five clips are shown to the
kernel in one batched forward pass (plus a baseline):

(a) ``optimal``: the stage-1 optimal input V;
(b) ``recon``: the reconstruction W(I, D);
(c) ``static``: the texture alone, repeated over time, W(I, 0) (the motion removed);
(d) ``neutral_motion``: the same motion applied to neutral textures, W(N, D), where N is smooth
    noise with I's per-channel mean and standard deviation (the texture removed); the activation is
    the mean over ``neutral_textures`` noise seeds;
(e) ``reversed``: the texture moving in the opposite direction, defined as the reconstruction
    played backwards in time, W(I, D_{T-1-t}). Every frame is the same as in (b), only the order
    is reversed, so appearance is untouched and every velocity is negated exactly (for any motion:
    translation, rotation, expansion), which negating D would only do to first order;
baseline: a uniform clip at the reconstruction's mean colour (no texture, no motion).

Each response is measured above the baseline and relative to the reconstruction's, r(x) =
(a_x − a_base) / (a_recon − a_base), which is 1 for the reconstruction itself:

* ``motion_reliance = 1 − clip(r(static), 0, 1)``: the fraction of the response lost when the
  motion is removed (0: a purely spatial kernel; 1: it does not respond to the still texture);
* ``texture_reliance = 1 − clip(r(neutral_motion), 0, 1)``: the fraction lost when the texture is
  replaced by neutral noise moving the same way;
* ``direction_reversal_drop = clip(1 − r(reversed), −1, 1)``: the fraction lost when the motion is
  reversed (≈ 0: no direction preference; 1: reversing silences it; negative: the reversed motion
  is preferred, i.e. the decomposition's direction is the kernel's anti-preferred one);
* ``recon_fraction = r(recon)/r(optimal)``, i.e. (a_recon − a_base) / (a_optimal − a_base): how much of
  the optimal input's response the decomposition keeps.

When the reconstruction does not respond above the baseline (a_recon ≤ a_base) the ratios mean
nothing, and the indices are NaN (written as null).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch

from kernelvis.models.loaded import LoadedModel
from kernelvis.models.preprocessing import Preprocessing
from kernelvis.models.activation import kernel_activation

CLIPS = ("optimal", "recon", "static", "neutral_motion", "reversed", "baseline")
INDICES = ("texture_reliance", "motion_reliance", "direction_reversal_drop")


@dataclass(frozen=True)
class RelianceActivations:
    optimal: float
    recon: float
    static: float
    neutral_motion: float
    reversed: float
    baseline: float


def neutral_textures(static_canvas: np.ndarray, count: int, seed: int) -> np.ndarray:
    """``count`` smooth-noise canvases [count, Hc, Wc, 3] with the texture's per-channel mean and std."""
    from kernelvis.data.synthetic import smooth_noise_texture

    height, width = static_canvas.shape[:2]
    rng = np.random.default_rng(seed)
    mean = static_canvas.reshape(-1, 3).mean(0)
    std = static_canvas.reshape(-1, 3).std(0)
    textures = []
    for noise_seed in rng.integers(0, 2**31 - 1, size=count):
        noise = np.asarray(smooth_noise_texture(max(height, width), seed=int(noise_seed)), dtype=np.float64)
        noise = noise[:height, :width]
        noise = noise if noise.ndim == 3 else np.repeat(noise[..., None], 3, axis=-1)
        flat = noise.reshape(-1, noise.shape[-1])
        standardized = (noise - flat.mean(0)) / np.maximum(flat.std(0), 1e-8)
        textures.append(np.clip(mean + standardized * std, 0.0, 1.0))
    return np.stack(textures).astype(np.float32)


def reliance_activations(model: LoadedModel, layer: str, kernel: int, optimal_video: np.ndarray,
                         static_canvas: np.ndarray, displacement: np.ndarray, margin_px: int,
                         objective: str = "channel", preprocessing: Preprocessing | None = None,
                         neutral_count: int = 4, seed: int = 0, device: str = "cpu") -> RelianceActivations:
    """The kernel's activation of clips (a)–(e) and the baseline, in one batched forward pass."""
    from kernelvis.analysis.refine import render

    device = torch.device(device)
    model.module.to(device)
    canvas = torch.as_tensor(np.asarray(static_canvas, dtype=np.float32), device=device)
    motion = torch.as_tensor(np.asarray(displacement, dtype=np.float32), device=device)
    noise = torch.as_tensor(neutral_textures(np.asarray(static_canvas, dtype=np.float32), neutral_count, seed),
                            device=device)
    with torch.no_grad():
        recon = render(canvas, motion, margin_px)
        clips = [
            torch.as_tensor(np.asarray(optimal_video, dtype=np.float32), device=device).permute(3, 0, 1, 2)[None],
            recon,
            render(canvas, torch.zeros_like(motion), margin_px),
            render(noise, motion, margin_px),
            recon.flip(2),
            recon.mean(dim=(2, 3, 4), keepdim=True).expand_as(recon),
        ]
        responses = kernel_activation(model, layer, torch.cat(clips), kernel, objective, preprocessing).cpu().numpy().astype(np.float64)
    optimal, recon_value, static, *neutral, reversed_, baseline = responses
    return RelianceActivations(float(optimal), float(recon_value), float(static), float(np.mean(neutral)),
                               float(reversed_), float(baseline))


def reliance_indices(activations: RelianceActivations, eps: float = 1e-8) -> dict[str, float]:
    """``texture_reliance``, ``motion_reliance`` (in [0, 1]), ``direction_reversal_drop`` (in [−1, 1]) and
    ``recon_fraction``; definitions in the module docstring. NaN where the reconstruction gets no response."""
    a = activations
    span = a.recon - a.baseline
    if not span > eps * max(1.0, abs(a.recon), abs(a.baseline)):
        nan = float("nan")
        return {"texture_reliance": nan, "motion_reliance": nan, "direction_reversal_drop": nan, "recon_fraction": nan}

    def relative(value: float) -> float:
        return (value - a.baseline) / span

    optimal_span = a.optimal - a.baseline
    return {
        "texture_reliance": float(1.0 - np.clip(relative(a.neutral_motion), 0.0, 1.0)),
        "motion_reliance": float(1.0 - np.clip(relative(a.static), 0.0, 1.0)),
        "direction_reversal_drop": float(np.clip(1.0 - relative(a.reversed), -1.0, 1.0)),
        "recon_fraction": float(span / optimal_span) if optimal_span > eps else float("nan"),
    }


def reliance_summary(activations: RelianceActivations) -> dict[str, float]:
    """The scalars a kernel's summary.json gets: the indices and ``reliance_activation_<clip>``."""
    summary = {f"reliance_activation_{name}": value for name, value in asdict(activations).items()}
    summary.update(reliance_indices(activations))
    return summary


def refine_with_reliance(model: LoadedModel, layer: str, kernel: int, optimal_video: np.ndarray,
                         static_canvas: np.ndarray, displacement: np.ndarray, margin_px: int, config,
                         neutral_count: int = 4, seed: int = 0):
    """The refinement step of the pipeline, as ``kernelvis refine`` and ``kernelvis visualize`` run it: texture and
    motion optimized against the kernel from stage 2's start (``config``: a
    :class:`~kernelvis.analysis.refine_config.RefineConfig` carrying stage 1's objective and preprocessing), then
    the reliance activations measured on what came out. Returns (the refine result, the refined.npz arrays, the
    summary scalars: refinement and reliance together)."""
    from kernelvis.analysis.refine import refine, refined_arrays
    from kernelvis.optimize.api import model_preprocessing

    result = refine(model, layer, kernel, static_canvas, displacement, margin_px, config)
    activations = reliance_activations(model, layer, kernel, optimal_video, result.static_canvas, result.displacement,
                                       result.margin_px, config.objective,
                                       model_preprocessing(model, config.preprocessing), neutral_count, seed,
                                       config.device)
    arrays, scalars = refined_arrays(result)
    return result, arrays, {**scalars, **reliance_summary(activations)}
