"""Stage 1: the optimal input of one or several kernels by activation maximization (docs/stage1.md).

All kernels × restarts of a layer are optimized in ONE batch (element = (kernel, restart)); the
forward pass stops at the target layer; every element has its own seeded start and its own seeded
sequence of random transforms, so a kernel's result does not depend on what shares its batch.
The best restart of each kernel is chosen by its activation on the UN-transformed clip; all
restarts are kept as candidates. The rectified objective is searched through a smooth surrogate (never a zero
gradient; :data:`RECTIFIED_SURROGATE_TEMPERATURE`) while the true objective is recorded and selects;
:func:`reference_restart` gives kernels that ended below their best tuning stimulus or natural clip one more
candidate started from it (issue 24).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Sequence

import numpy as np
import torch

from kernelvis.models.layers import check_kernels
from kernelvis.models.linearity import probe_kernels, resolve_objective
from kernelvis.models.loaded import LoadedModel
from kernelvis.models.preprocessing import Preprocessing, clip_frame_shape
from kernelvis.models.activation import explained_inplace_errors, layer_output, select_responses
from kernelvis.optimize.objectives import Objective, map_scale, smooth_rectified_mean, weighted_sum
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
RECTIFIED_SURROGATE_TEMPERATURE = 0.5
"""The rectified objective is searched through its smooth surrogate mean(τ·softplus(A/τ)) (issue 24: a start
whose map is negative everywhere has no gradient under max(A, 0), and the search never moved). τ starts at this
multiple of the element's own map RMS (measured every step, per element: batch-independent) and is annealed
linearly to 0 (the hard rectified mean) over the first RECTIFIED_SURROGATE_ANNEAL of the steps; an element whose
map is still nowhere positive keeps the starting τ. What is recorded and selected is always the true objective.
0 turns the surrogate off (benchmarks only)."""
RECTIFIED_SURROGATE_ANNEAL = 0.75
"""Fraction of the steps over which the surrogate's temperature falls to 0."""


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
    reference_restart: str | None = None
    """``tuning`` or ``natural`` when :func:`reference_restart` replaced the search's result by a candidate started
    from that reference (every restart had ended below it); None otherwise."""
    reference_restart_detail: dict = field(default_factory=dict)
    """What the reference restart measured: the references' activations, the search's activation before it, the
    restart's optimized activation and which clip was kept (``optimized``, or ``reference`` itself when the
    optimization from it did not beat it)."""


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
    param = make_param(config.param, seeds, frames, (height, width), device, config.color_sqrt_cov, config.spectral_slope)
    videos, final, history, frozen = _ascend(model, layer, param, seeds, element_kernels, element_objectives, config,
                                             preprocessing, config.steps, kernels)
    results = _collect(kernels, config.restarts, videos, final, history)
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


REFERENCE_RESTART_STEPS = 0.5
"""A reference restart runs this fraction of stage 1's steps (it starts from a clip the kernel already responds
to; the cost per kernel stays within 1.5× of stage 1's single restart)."""
REFERENCE_SOURCES = ("tuning", "natural")


def reference_seeds(seed: int, kernels: Sequence[int]) -> list[int]:
    """One 63-bit seed per kernel for its reference restart (its transforms), distinct from every
    :func:`element_seeds` restart and independent of batch composition."""
    return [int(np.random.SeedSequence([seed, kernel, 1 << 20]).generate_state(2, np.uint64)[0] >> np.uint64(1))
            for kernel in kernels]


def reference_restart(model: LoadedModel, layer: str, results: Sequence[OptimalInput],
                      references: Sequence[dict | None], config: OptimizeConfig = OptimizeConfig(),
                      steps: int | None = None) -> list[OptimalInput]:
    """Stage 1's results after a restart from the best reference of every kernel whose search ended below it.

    ``results``: :func:`optimize_kernels`' results for kernels of ``layer`` (any subset, any order), run with
    ``config``. ``references[i]``: the reference clips of ``results[i]``'s kernel, ``{"tuning": clip, "natural":
    clip}`` (either may be missing or None; None for no references), each float [T, H, W, 3] in [0, 1] at the
    optimal input's shape: the best stimulus of its tuning sweep and its best natural clip, as the audit finds them.

    Each reference is measured with the result's objective and ``config``'s preprocessing (un-transformed clip,
    the true objective). A kernel whose ``activation`` is below its best reference gets one more candidate: the
    parameterization started from that clip, optimized like stage 1 (same transforms, surrogate, lr) for ``steps``
    steps (default ``REFERENCE_RESTART_STEPS × config.steps``), all such kernels in ONE batch, each with its own
    seed (:func:`reference_seeds`): deterministic and batch-independent. The better of the optimized clip and the
    reference clip itself (by the true objective) replaces the result's ``video``, ``activation`` and ``history``
    and is appended to its ``candidates``; ``reference_restart`` names the source (``tuning``/``natural``) and
    ``reference_restart_detail`` records the numbers. Other results (at or above their references, no
    references, status dead or diverged) come back unchanged, with ``reference_restart`` None. Returns new
    :class:`OptimalInput` objects in the order of ``results``; the inputs are not modified.
    """
    if len(references) != len(results):
        raise ValueError(f"{len(references)} reference sets for {len(results)} results")
    out = [replace(result, reference_restart=None, reference_restart_detail={}) for result in results]
    preprocessing = model_preprocessing(model, config.preprocessing)
    device = torch.device(config.device)
    model.module.to(device)
    # (result index, source, clip) of every reference given, measured in one forward pass
    pending = [(index, source, np.asarray(refs[source], dtype=np.float32))
               for index, (result, refs) in enumerate(zip(results, references))
               if refs and result.status not in ("dead", "diverged")
               for source in REFERENCE_SOURCES if refs.get(source) is not None]
    for index, _, clip in pending:
        if clip.shape != results[index].video.shape:
            raise ValueError(f"kernel {results[index].kernel}: reference clip of shape {clip.shape}, optimal input "
                             f"{results[index].video.shape}")
    if not pending:
        return out
    with torch.no_grad():
        clips = torch.from_numpy(np.stack([clip for _, _, clip in pending])).permute(0, 4, 1, 2, 3).to(device)
        measured = select_responses(layer_output(model, layer, clips, preprocessing),
                                    torch.tensor([results[i].kernel for i, _, _ in pending], device=device),
                                    [results[i].objective for i, _, _ in pending]).double().cpu().numpy()
    best: dict[int, tuple[str, np.ndarray, float]] = {}
    activations: dict[int, dict[str, float]] = {}
    for (index, source, clip), value in zip(pending, measured):
        activations.setdefault(index, {})[source] = float(value)
        if np.isfinite(value) and (index not in best or value > best[index][2]):
            best[index] = (source, clip, float(value))
    below = [index for index, (_, _, value) in sorted(best.items())
             if not (np.isfinite(results[index].activation) and results[index].activation >= value)]
    if not below:
        return out

    steps = steps or max(1, int(round(REFERENCE_RESTART_STEPS * config.steps)))
    kernels = [results[index].kernel for index in below]
    seeds = reference_seeds(config.seed, kernels)
    start = torch.from_numpy(np.stack([best[index][1] for index in below])).permute(0, 4, 1, 2, 3)
    frames, height, width = start.shape[2:]
    param = make_param(config.param, seeds, frames, (height, width), device, config.color_sqrt_cov,
                       config.spectral_slope, start=start)
    videos, final, history, _ = _ascend(model, layer, param, seeds, torch.tensor(kernels, device=device),
                                        [results[index].objective for index in below], config, preprocessing, steps,
                                        kernels)
    clips = videos.detach().permute(0, 2, 3, 4, 1).cpu().numpy().astype(np.float32)
    for row, index in enumerate(below):
        source, reference_clip, reference_value = best[index]
        optimized = float(final[row])
        keep_optimized = np.isfinite(optimized) and optimized >= reference_value
        video = clips[row] if keep_optimized else reference_clip.astype(np.float32)
        activation = optimized if keep_optimized else reference_value
        result = out[index]
        out[index] = replace(
            result, video=video.copy(), activation=activation,
            history=history[:, row].numpy().astype(np.float32),
            candidates=np.concatenate([result.candidates, video[None]]),
            candidate_activations=np.append(result.candidate_activations, np.float32(activation)).astype(np.float32),
            reference_restart=source,
            reference_restart_detail={"reference_activations": activations[index], "search_activation":
                                      float(result.activation), "optimized_activation": optimized,
                                      "kept": "optimized" if keep_optimized else "reference", "steps": steps})
    return out


def _ascend(model: LoadedModel, layer: str, param, seeds: Sequence[int], element_kernels: torch.Tensor,
            element_objectives: Sequence[str], config: OptimizeConfig, preprocessing: Preprocessing, steps: int,
            kernels: Sequence[int]):
    """The optimization loop over a batch of elements (one seed, kernel and objective each) from ``param``'s start:
    (final clips (N, 3, T, H, W), their true objective un-transformed (N,) with NaN where diverged, history
    [steps run, N], the :class:`_Frozen` record)."""
    device = param.tensor.device
    transform_generators = [torch.Generator().manual_seed(seed ^ 0x5EED) for seed in seeds]

    def response(output, kernels_of_elements):
        return select_responses(output, kernels_of_elements, element_objectives)

    rectified_rows = torch.tensor([name == "rectified" for name in element_objectives], device=device)
    extra = weighted_sum(config.extra_terms) if config.extra_terms else None
    optimizer = Adam(param.tensor, lr=config.lr)
    early_stop = _EarlyStop(config.early_stop_patience, len(seeds))
    frozen = _Frozen(len(seeds))

    history = []
    with _progress_bar(replace(config, steps=steps), kernels) as bar:
        for step in range(steps):
            draw = draw_transforms(transform_generators, config.transforms)
            videos = param.video()
            output = layer_output(model, layer, apply_transforms(videos, draw, config.transforms), preprocessing)
            activation = response(output, element_kernels)
            total = search_response(output, element_kernels, activation, rectified_rows, step, steps)
            if extra is not None:
                total = total + extra(output, element_kernels)
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
            if config.log_every and (step % config.log_every == 0 or step == steps - 1):
                print(f"optimize step {step + 1}/{steps}: best activation "
                      f"{activation.nan_to_num(-float('inf')).max().item():.4g}", flush=True)
            if early_stop.should_stop(activation.nan_to_num(-float("inf"))):
                break

    with torch.no_grad():
        videos = frozen.restore(param.video().detach())
        final = response(layer_output(model, layer, videos, preprocessing), element_kernels).cpu()
        final = torch.where(frozen.live & torch.isfinite(final), final, torch.full_like(final, float("nan")))
    if not history:  # every restart diverged at the first step
        history.append(torch.full((len(seeds),), float("nan")))
    return videos, final, torch.stack(history), frozen


def search_response(output: torch.Tensor, kernels: torch.Tensor, activation: torch.Tensor, rectified_rows: torch.Tensor,
                    step: int, steps: int) -> torch.Tensor:
    """What the optimizer ascends at ``step``: ``activation`` (the true objective, per element), except on the
    elements with the rectified objective (``rectified_rows``), which ascend its smooth surrogate
    (:func:`~kernelvis.optimize.objectives.smooth_rectified_mean`, temperature: see
    :data:`RECTIFIED_SURROGATE_TEMPERATURE`). Every quantity is per element: batch-independent."""
    if RECTIFIED_SURROGATE_TEMPERATURE <= 0 or not bool(rectified_rows.any()):
        return activation
    anneal = max(0.0, 1.0 - step / max(1.0, RECTIFIED_SURROGATE_ANNEAL * steps))
    start = RECTIFIED_SURROGATE_TEMPERATURE * map_scale(output, kernels).clamp(min=1e-12)
    stuck = activation.detach() <= 0  # nowhere positive: the hard objective would have no gradient
    temperature = torch.where(stuck, start, start * anneal)
    smooth = smooth_rectified_mean(output, kernels, temperature)
    return torch.where(rectified_rows, smooth, activation)


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
