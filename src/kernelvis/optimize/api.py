"""Stage 1: the optimal input of one or several kernels by activation maximization (docs/stage1.md).

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

from kernelvis.models.layers import check_kernels
from kernelvis.models.linearity import probe_kernels, resolve_objective
from kernelvis.models.loaded import LoadedModel
from kernelvis.models.preprocessing import Preprocessing, clip_frame_shape
from kernelvis.models.activation import explained_inplace_errors, layer_output, select_responses
from kernelvis.optimize.objectives import Objective, weighted_sum
from kernelvis.optimize.param import make_param
from kernelvis.optimize.transforms import TransformConfig, apply_transforms, draw_transforms
from kernelvis.optimize.save import save_optimal  # noqa: F401  (part of this module's contract)
from kernelvis.optimizers import Adam

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
    """Clip height = width; None = the model's native frame shape (H×W, not necessarily square)."""
    # steps, lr, restarts and early_stop_patience: chosen on the trained demo model by the optimality audit
    # (benchmarks/stage1_defaults.py, docs/stage1.md: 12/12 kernels pass; lr 0.05, 200 steps with early
    # stopping: 11/12), the same values the workflow passes (config/config.yaml).
    steps: int = 300
    lr: float = 0.1
    restarts: int = 2
    seed: int = 0
    param: str = "pixel"
    """``pixel`` (the paper's; default: higher activation at equal steps, see README) or ``fourier``."""
    preprocessing: str = "native"
    """``native`` (the model's own) or ``paper`` (ImageNet mean/std, upsampled to 32×224×224)."""
    objective: str = "auto"
    """The activation: ``auto`` (``rectified`` where the kernel is affine in the pixels, else ``channel``),
    ``channel`` (mean over the kernel's map, the paper's), ``rectified`` (mean of its positive part) or
    ``neuron`` (centre). See :mod:`kernelvis.models.linearity`."""
    extra_terms: tuple[tuple[float, Objective], ...] = ()
    """Weighted extra objectives added to the activation during the search (diversity, suppression…)."""
    transforms: TransformConfig = field(default_factory=TransformConfig)
    early_stop_patience: int | None = None
    """Stop once the smoothed activation of every element has not improved for this many steps; None = off."""
    color_sqrt_cov: tuple[tuple[float, float, float], ...] | None = None
    """Colour decorrelation matrix (e.g. from clip statistics); None = Lucid's ImageNet matrix."""
    spectral_slope: float = 1.0
    """Amplitude slope of the fourier parameterization's 1/f^slope scaling."""
    device: str = "cpu"
    progress: bool = False
    log_every: int = 0
    """Print a plain ``optimize step N/M`` line every this many steps (0: never); for logs, where a progress
    bar is noise. The first line comes after the first step: the optimization has demonstrably started."""


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
    """float32 [B] (NaN for a restart that diverged)."""
    objective: str = "channel"
    """The objective actually maximized (``auto`` resolved)."""
    status: str = "ok"
    """``ok``; ``dead`` (the kernel's output does not depend on the clip); ``diverged`` (every restart
    became NaN/inf: ``video`` is then its last finite clip)."""
    status_detail: str = ""
    probe: dict = field(default_factory=dict)
    """The linearity probe of the kernel (:class:`kernelvis.models.linearity.KernelProbe`)."""


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


def _progress_bar(config: OptimizeConfig, kernels: Sequence[int]):
    from tqdm.auto import tqdm

    return tqdm(total=config.steps, disable=not config.progress, desc=f"optimize kernels {list(kernels)}",
                unit="step", leave=False)


def resolve_kernel_objectives(model: LoadedModel, layer: str, kernels: Sequence[int], config: OptimizeConfig,
                              preprocessing: Preprocessing, clip_shape: tuple[int, int, int]):
    """(objective per kernel, probe per kernel): ``auto`` resolved by a linearity probe of each kernel."""
    probes = probe_kernels(model.module, layer, list(kernels), preprocessing, clip_shape, config.seed, config.device)
    return [resolve_objective(config.objective, probe) for probe in probes], probes


def optimize_kernels(model: LoadedModel, layer: str, kernels: Sequence[int] | int,
                     config: OptimizeConfig = OptimizeConfig()) -> list[OptimalInput]:
    """Optimal inputs of ``kernels`` of ``layer``, one :class:`OptimalInput` per kernel (in order).

    A property of a kernel is a result, not an error: a kernel whose output does not depend on the clip
    comes back with ``status="dead"``, one whose every restart became NaN/inf with ``status="diverged"``
    (its last finite clip kept). A restart that diverges is frozen at its last finite clip; the others go on.
    """
    kernels = check_kernels(model.module, layer, kernels)
    if config.restarts < 1 or config.steps < 1:
        raise ValueError("restarts and steps must be at least 1")
    preprocessing = model_preprocessing(model, config.preprocessing)
    frames = config.frames or model.preprocessing.frames
    height, width = clip_frame_shape(model.preprocessing, config.size)  # native H×W may be non-square
    device = torch.device(config.device)
    model.module.to(device)
    objectives, probes = resolve_kernel_objectives(model, layer, kernels, config, preprocessing, (frames, height, width))

    seeds = element_seeds(config.seed, kernels, config.restarts)
    element_kernels = torch.tensor(kernels, device=device).repeat_interleave(config.restarts)
    element_objectives = [name for name in objectives for _ in range(config.restarts)]
    transform_generators = [torch.Generator().manual_seed(seed ^ 0x5EED) for seed in seeds]
    param = make_param(config.param, seeds, frames, (height, width), device, config.color_sqrt_cov, config.spectral_slope)

    def response(output, kernels_of_elements):
        return select_responses(output, kernels_of_elements, element_objectives)

    objective = weighted_sum([(1.0, response), *config.extra_terms]) if config.extra_terms else response
    optimizer = Adam(param.tensor, lr=config.lr)
    early_stop = _EarlyStop(config.early_stop_patience, len(seeds))
    frozen = _Frozen(len(seeds))

    history = []
    with _progress_bar(config, kernels) as bar:
        for step in range(config.steps):
            draw = draw_transforms(transform_generators, config.transforms)
            videos = param.video()
            output = layer_output(model, layer, apply_transforms(videos, draw, config.transforms), preprocessing)
            activation = response(output, element_kernels)
            total = objective(output, element_kernels) if config.extra_terms else activation
            frozen.update(videos.detach(), torch.isfinite(total.detach()).cpu() & torch.isfinite(videos.detach()).flatten(1).all(1).cpu(), step)
            if frozen.all_frozen():
                break
            live = frozen.live.to(total.device)
            optimizer.zero_grad()
            with explained_inplace_errors(model, layer):
                (-torch.where(live, total, torch.zeros_like(total)).sum()).backward()
            param.tensor.grad = torch.nan_to_num(param.tensor.grad, nan=0.0, posinf=0.0, neginf=0.0)
            optimizer.step()
            activation = torch.where(frozen.live, activation.detach().cpu(), torch.full_like(activation.detach().cpu(), float("nan")))
            history.append(activation)
            bar.update(1)
            bar.set_postfix(activation=f"{activation.nan_to_num(-float('inf')).max().item():.4g}")
            if config.log_every and (step % config.log_every == 0 or step == config.steps - 1):
                print(f"optimize step {step + 1}/{config.steps}: best activation "
                      f"{activation.nan_to_num(-float('inf')).max().item():.4g}", flush=True)
            if early_stop.should_stop(activation.nan_to_num(-float("inf"))):
                break

    with torch.no_grad():
        videos = frozen.restore(param.video().detach())
        final = response(layer_output(model, layer, videos, preprocessing), element_kernels).cpu()
        final = torch.where(frozen.live & torch.isfinite(final), final, torch.full_like(final, float("nan")))
    if not history:  # every restart diverged at the first step
        history.append(torch.full((len(seeds),), float("nan")))
    results = _collect(kernels, config.restarts, videos, final, torch.stack(history))
    for result, name, probe in zip(results, objectives, probes):
        result.objective, result.probe = name, probe.as_dict()
        if probe.dead:
            result.status = "dead"
            result.status_detail = (f"the output does not depend on the clip (spread {probe.output_spread:.3g} "
                                    f"across probe clips)")
        elif not np.isfinite(result.activation):
            steps = frozen.first_bad_step(kernels.index(result.kernel), config.restarts)
            result.status = "diverged"
            result.status_detail = f"every restart became NaN or inf (first at step {steps})"
    return results


class _Frozen:
    """Restarts that became NaN/inf: frozen at their last finite clip, the rest go on."""

    def __init__(self, batch: int):
        self.live = torch.ones(batch, dtype=torch.bool)
        self.last_good: torch.Tensor | None = None
        self.bad_step = torch.full((batch,), -1, dtype=torch.long)

    def update(self, videos: torch.Tensor, finite: torch.Tensor, step: int) -> None:
        newly_bad = self.live & ~finite
        if self.last_good is None:
            self.last_good = torch.full_like(videos, 0.5)
        if newly_bad.any():
            self.bad_step[newly_bad] = step
            self.live &= ~newly_bad
        keep = self.live.to(videos.device).view(-1, *[1] * (videos.ndim - 1))
        self.last_good = torch.where(keep, videos, self.last_good)

    def all_frozen(self) -> bool:
        return not bool(self.live.any())

    def restore(self, videos: torch.Tensor) -> torch.Tensor:
        if self.last_good is None:
            return videos
        keep = self.live.to(videos.device).view(-1, *[1] * (videos.ndim - 1))
        return torch.where(keep, videos, self.last_good)

    def first_bad_step(self, kernel_position: int, restarts: int) -> int:
        rows = self.bad_step[kernel_position * restarts:(kernel_position + 1) * restarts]
        rows = rows[rows >= 0]
        return int(rows.min()) if len(rows) else -1


def _collect(kernels: list[int], restarts: int, videos: torch.Tensor, activations: torch.Tensor,
             history: torch.Tensor) -> list[OptimalInput]:
    clips = videos.detach().permute(0, 2, 3, 4, 1).cpu().numpy().astype(np.float32)  # -> [B, T, H, W, 3]
    results = []
    for index, kernel in enumerate(kernels):
        rows = slice(index * restarts, (index + 1) * restarts)
        candidate_activations = activations[rows].numpy().astype(np.float32)
        finite = np.isfinite(candidate_activations)
        best = int(np.argmax(np.where(finite, candidate_activations, -np.inf))) if finite.any() else 0
        results.append(OptimalInput(
            kernel=kernel,
            video=clips[rows][best].copy(),
            activation=float(candidate_activations[best]),
            history=history[:, index * restarts + best].numpy().astype(np.float32),
            candidates=clips[rows].copy(),
            candidate_activations=candidate_activations,
        ))
    return results
