"""Stage 1: the optimal input of one or several kernels by activation maximization (METHODS §0.3).

All kernels × restarts of a layer are optimized in ONE batch (element = (kernel, restart)); the
forward pass stops at the target layer; every element has its own seeded start and its own seeded
sequence of random transforms, so a kernel's result does not depend on what shares its batch.
The best restart of each kernel is chosen by its activation on the UN-transformed clip; all
restarts are kept as candidates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch

from kernelvis.errors import OptimizationDivergedError
from kernelvis.models.layers import check_kernels
from kernelvis.models.loaded import LoadedModel
from kernelvis.models.preprocessing import Preprocessing
from kernelvis.optimize.activation import layer_output
from kernelvis.optimize.objectives import Objective, response_objective, weighted_sum
from kernelvis.optimize.param import make_param
from kernelvis.optimize.transforms import TransformConfig, apply_transforms, draw_transforms
from kernelvis.optimize.save import save_optimal  # noqa: F401  (part of this module's contract)

PREPROCESSINGS = ("native", "paper")
EARLY_STOP_MIN_GAIN = 1e-3
"""Relative gain of the smoothed activation that counts as "still improving"."""
EARLY_STOP_SMOOTHING = 0.1
"""Weight of the newest step in the exponential moving average the early stop watches (the
per-step activation is measured on a randomly transformed clip, so it is noisy)."""


@dataclass(frozen=True)
class OptimizeConfig:
    frames: int | None = None
    """Clip length; None = the model's native frames."""
    size: int | None = None
    """Clip height = width; None = the model's native size."""
    steps: int = 512
    lr: float = 0.05
    restarts: int = 1
    seed: int = 0
    param: str = "pixel"
    """``pixel`` (the paper's; default: higher activation at equal steps, see README) or ``fourier``."""
    preprocessing: str = "native"
    """``native`` (the model's own) or ``paper`` (ImageNet mean/std, upsampled to 32×224×224)."""
    objective: str = "channel"
    """The activation: ``channel`` (mean over the kernel's map, the paper's) or ``neuron`` (centre)."""
    extra_terms: tuple[tuple[float, Objective], ...] = ()
    """Weighted extra objectives added to the activation during the search (diversity, suppression…)."""
    transforms: TransformConfig = field(default_factory=TransformConfig)
    early_stop_patience: int | None = 100
    """Stop once the smoothed activation of every element has not improved for this many steps; None = off."""
    color_sqrt_cov: tuple[tuple[float, float, float], ...] | None = None
    """Colour decorrelation matrix (e.g. from clip statistics); None = Lucid's ImageNet matrix."""
    spectral_slope: float = 1.0
    """Amplitude slope of the fourier parameterization's 1/f^slope scaling."""
    device: str = "cpu"
    progress: bool = False


@dataclass
class OptimalInput:
    kernel: int
    video: np.ndarray
    """float32 [T, H, W, 3] in [0, 1], display space: the best restart."""
    activation: float
    """The kernel's response to ``video`` (un-transformed, the model's preprocessing)."""
    history: np.ndarray
    """float32 [steps run]: per-step activation of the kept restart (on its transformed clip)."""
    candidates: np.ndarray
    """float32 [B, T, H, W, 3]: every restart's final clip."""
    candidate_activations: np.ndarray
    """float32 [B]."""


def element_seeds(seed: int, kernels: Sequence[int], restarts: int) -> list[int]:
    """One 63-bit seed per (kernel, restart), independent of batch composition."""
    return [int(np.random.SeedSequence([seed, kernel, restart]).generate_state(2, np.uint64)[0] >> np.uint64(1))
            for kernel in kernels for restart in range(restarts)]


def model_preprocessing(model: LoadedModel, choice: str) -> Preprocessing:
    if choice == "native":
        return model.preprocessing
    if choice == "paper":
        return model.preprocessing.paper_variant()
    raise ValueError(f"unknown preprocessing {choice!r}; choose from {', '.join(PREPROCESSINGS)}")


class _EarlyStop:
    """Per element: steps since the smoothed activation last rose by a relative EARLY_STOP_MIN_GAIN."""

    def __init__(self, patience: int | None, batch: int):
        self.patience = patience
        self.smoothed = None
        self.best = torch.full((batch,), -float("inf"), dtype=torch.float64)
        self.stale = torch.zeros(batch, dtype=torch.long)

    def should_stop(self, activation: torch.Tensor) -> bool:
        if not self.patience:
            return False
        activation = activation.double()
        self.smoothed = activation if self.smoothed is None else (
            (1 - EARLY_STOP_SMOOTHING) * self.smoothed + EARLY_STOP_SMOOTHING * activation)
        margin = EARLY_STOP_MIN_GAIN * self.best.abs().clamp(min=1e-8)
        improved = torch.isinf(self.best) | (self.smoothed > self.best + margin)  # the first step always counts
        self.best = torch.where(improved, self.smoothed, self.best)
        self.stale = torch.where(improved, torch.zeros_like(self.stale), self.stale + 1)
        return bool((self.stale >= self.patience).all())


def _check_finite(values: torch.Tensor, what: str, step: int | None = None) -> None:
    if not torch.isfinite(values).all():
        where = f" at step {step}" if step is not None else ""
        raise OptimizationDivergedError(
            f"optimization diverged{where}: the {what} became NaN or inf (try a lower --lr or check the model)")


def _progress_bar(config: OptimizeConfig, kernels: Sequence[int]):
    from tqdm.auto import tqdm

    return tqdm(total=config.steps, disable=not config.progress, desc=f"optimize kernels {list(kernels)}",
                unit="step", leave=False)


def optimize_kernels(model: LoadedModel, layer: str, kernels: Sequence[int] | int,
                     config: OptimizeConfig = OptimizeConfig()) -> list[OptimalInput]:
    """Optimal inputs of ``kernels`` of ``layer``, one :class:`OptimalInput` per kernel (in order)."""
    kernels = check_kernels(model.module, layer, kernels)
    if config.restarts < 1 or config.steps < 1:
        raise ValueError("restarts and steps must be at least 1")
    preprocessing = model_preprocessing(model, config.preprocessing)
    frames = config.frames or model.preprocessing.frames
    size = config.size or model.preprocessing.size
    device = torch.device(config.device)
    model.module.to(device)

    seeds = element_seeds(config.seed, kernels, config.restarts)
    element_kernels = torch.tensor(kernels, device=device).repeat_interleave(config.restarts)
    transform_generators = [torch.Generator().manual_seed(seed ^ 0x5EED) for seed in seeds]
    param = make_param(config.param, seeds, frames, size, device, config.color_sqrt_cov, config.spectral_slope)
    response = response_objective(config.objective)
    objective = weighted_sum([(1.0, response), *config.extra_terms]) if config.extra_terms else response
    optimizer = torch.optim.Adam([param.tensor], lr=config.lr)
    early_stop = _EarlyStop(config.early_stop_patience, len(seeds))

    history = []
    with _progress_bar(config, kernels) as bar:
        for step in range(config.steps):
            draw = draw_transforms(transform_generators, config.transforms)
            output = layer_output(model, layer, apply_transforms(param.video(), draw, config.transforms), preprocessing)
            activation = response(output, element_kernels)
            total = objective(output, element_kernels) if config.extra_terms else activation
            _check_finite(total.detach(), "objective", step)
            optimizer.zero_grad(set_to_none=True)
            (-total.sum()).backward()
            optimizer.step()
            activation = activation.detach().cpu()
            history.append(activation)
            bar.update(1)
            bar.set_postfix(activation=f"{activation.max().item():.4g}")
            if early_stop.should_stop(activation):
                break

    with torch.no_grad():
        videos = param.video()
        _check_finite(videos, "clip")
        final = response(layer_output(model, layer, videos, preprocessing), element_kernels)
        _check_finite(final, "activation")
    return _collect(kernels, config.restarts, videos, final.cpu(), torch.stack(history))


def _collect(kernels: list[int], restarts: int, videos: torch.Tensor, activations: torch.Tensor,
             history: torch.Tensor) -> list[OptimalInput]:
    clips = videos.detach().permute(0, 2, 3, 4, 1).cpu().numpy().astype(np.float32)  # -> [B, T, H, W, 3]
    results = []
    for index, kernel in enumerate(kernels):
        rows = slice(index * restarts, (index + 1) * restarts)
        candidate_activations = activations[rows].numpy().astype(np.float32)
        best = int(np.argmax(candidate_activations))
        results.append(OptimalInput(
            kernel=kernel,
            video=clips[rows][best].copy(),
            activation=float(candidate_activations[best]),
            history=history[:, index * restarts + best].numpy().astype(np.float32),
            candidates=clips[rows].copy(),
            candidate_activations=candidate_activations,
        ))
    return results
