"""Texture and motion optimization against the kernel itself (the step after stage 2).

Stage 2 explains the optimal input V as a static texture I warped by displacements D_t,
V_t ≈ W(I, D_t). That pair is fitted to V, not to the kernel. Here the kernel is asked directly:

* **texture optimization**: D fixed, I changed to raise the kernel's activation of W(I, D);
* **motion optimization**: I fixed, D changed to raise it;
* optionally alternated for a few rounds.

Both keep stage 2's regularizers (total variation of I, spatial smoothness of D, from
:mod:`kernelvis.decompose.losses`) so the result stays a texture and a motion rather than becoming
adversarial noise. Each optimization keeps the iterate with the best regularized objective among
those whose activation is at least its start's (the start included), so refinement never lowers
the activation it starts from.

The activation term is divided by the start activation's magnitude, so the regularizer weights mean
the same thing for every model and layer ("a unit of TV costs this fraction of the start response").
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from kernelvis.analysis.refine_config import PHASES, RefineConfig  # noqa: F401  (re-exported)
from kernelvis.decompose.losses import total_variation
from kernelvis.errors import OptimizationDivergedError
from kernelvis.geometry import summarize_direction
from kernelvis.models.loaded import LoadedModel
from kernelvis.models.activation import explained_inplace_errors, kernel_activation
from kernelvis.optimize.api import model_preprocessing
from kernelvis.optimizers import Adam, MomentumSGD, linear_decay

@dataclass
class RefineResult:
    static_canvas: np.ndarray
    """float32 [H+2m, W+2m, 3] in [0, 1]: the refined texture on stage 2's canvas."""
    displacement: np.ndarray
    """float32 [T, H, W, 2] (dx, dy) px, V_t(p) = I(p + D_t(p))."""
    margin_px: int
    activation_start: float
    activation_final: float
    history: np.ndarray
    """float32 [rounds·len(phases)·steps]: activation before each step (best candidate), phases in order."""
    phase_log: list[dict] = field(default_factory=list)
    """One entry per optimization run: round, phase, activation_start, activation_end (of the kept iterate)."""

    @property
    def static(self) -> np.ndarray:
        """The texture cropped to the frame, float32 [H, W, 3]."""
        m = self.margin_px
        return self.static_canvas[m:self.static_canvas.shape[0] - m, m:self.static_canvas.shape[1] - m]


def render(static_canvas: torch.Tensor, displacement: torch.Tensor, margin_px: int) -> torch.Tensor:
    """W(I, D) for one canvas [Hc, Wc, 3] (or a batch [N, Hc, Wc, 3]) as clips (N, 3, T, H, W)."""
    from kernelvis.decompose.warp import warp_static

    canvas = static_canvas if static_canvas.ndim == 4 else static_canvas[None]
    return warp_static(canvas.permute(0, 3, 1, 2), displacement, margin_px).clamp(0.0, 1.0)


def velocity_of(displacement: np.ndarray) -> np.ndarray:
    """Apparent content velocity [T, H, W, 2] px/frame of V_t(p) = I(p + D_t(p)), ``velocity[0] = 0``."""
    from kernelvis.decompose.flow import velocity_from_displacement

    with torch.no_grad():
        velocity = velocity_from_displacement(torch.as_tensor(np.asarray(displacement, dtype=np.float32))[None])
    return velocity[0].numpy()


def upsample_increments(increments: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear upsampling of control-point increments [T-1, g, g, 2] (px) to the frame [T-1, H, W, 2]."""
    if tuple(increments.shape[1:3]) == tuple(size):
        return increments
    upsampled = F.interpolate(increments.permute(0, 3, 1, 2), size=tuple(size), mode="bilinear", align_corners=True)
    return upsampled.permute(0, 2, 3, 1)


def cumulative_displacement(increments: torch.Tensor) -> torch.Tensor:
    """Displacement change [..., T, H, W, 2] from per-frame increments [..., T-1, H, W, 2]: frame t moves by the sum
    of increments 1..t, frame 0 not at all.

    Why increments: a change of velocity moves D_t by t times as much, so optimizing D_t frame by frame
    needs many steps and lets frames drift apart; with increments one step changes the velocity of
    every later frame coherently, which is what a motion (rather than per-frame jitter) is.
    """
    return torch.cat([torch.zeros_like(increments[..., :1, :, :, :]), increments.cumsum(-4)], dim=-4)


def squared_speed(displacement: torch.Tensor) -> torch.Tensor:
    """Mean squared frame-to-frame displacement change (px/frame)², the speed to first order, of D [T, H, W, 2]."""
    return (displacement[1:] - displacement[:-1]).pow(2).sum(-1).mean()


def texture_tv(static_canvas: torch.Tensor) -> torch.Tensor:
    """Stage 2's TV of I, for a canvas [Hc, Wc, 3]."""
    return total_variation(static_canvas.permute(2, 0, 1))


def motion_smoothness(displacement: torch.Tensor) -> torch.Tensor:
    """Stage 2's smoothness of D: spatial TV of each frame's (dx, dy), for D [T, H, W, 2]."""
    return total_variation(displacement.permute(0, 3, 1, 2))


def refine(model: LoadedModel, layer: str, kernel: int, static_canvas: np.ndarray, displacement: np.ndarray,
           margin_px: int, config: RefineConfig = RefineConfig()) -> RefineResult:
    """Alternate texture and motion optimization from a decomposition (I on its canvas, D)."""
    for phase in config.phases:
        if phase not in PHASES:
            raise ValueError(f"unknown refine phase {phase!r}; choose from {', '.join(PHASES)}")
    device = torch.device(config.device)
    model.module.to(device)
    preprocessing = model_preprocessing(model, config.preprocessing)
    texture = torch.as_tensor(np.asarray(static_canvas, dtype=np.float32), device=device).clamp(0.0, 1.0)
    motion = torch.as_tensor(np.asarray(displacement, dtype=np.float32), device=device)

    def activations(textures, motions):
        """(C,) responses to W(textures[c], motions[c]) for C candidates ([C, Hc, Wc, 3], [C, T, H, W, 2])."""
        return kernel_activation(model, layer, render(textures, motions, margin_px), kernel, config.objective,
                                 preprocessing)

    with torch.no_grad():
        start = float(activations(texture[None], motion[None])[0])
    _check_finite(start, "the start activation")
    scale = max(abs(start), 1e-8)
    history: list[float] = []
    phase_log: list[dict] = []
    current = start
    for round_index in range(config.rounds):
        for phase in config.phases:
            if phase == "texture":
                texture, _, best = _ascend(
                    texture[None], lambda x: activations(x, motion[None]),
                    lambda x: config.texture_tv_weight * torch.stack([texture_tv(c) for c in x]),
                    config.texture_lr, config.steps, scale, history, bounds=(0.0, 1.0))
            else:
                motion, best = _refine_motion(texture, motion, activations, config, scale, history)
            phase_log.append({"round": round_index, "phase": phase, "activation_start": current, "activation_end": best})
            current = best
    return RefineResult(texture.cpu().numpy(), motion.cpu().numpy(), int(margin_px), start, current,
                        np.asarray(history, dtype=np.float32), phase_log)


def _refine_motion(texture: torch.Tensor, motion: torch.Tensor, activations, config: RefineConfig, scale: float,
                   history: list[float]) -> tuple[torch.Tensor, float]:
    """Motion optimization with the texture fixed, from the current motion and (``motion_from_rest``) from rest,
    both candidates in one batch; returns the kept displacement [T, H, W, 2] and its activation."""
    at_rest = not bool(motion.abs().gt(1e-6).any())
    bases = torch.stack([motion, torch.zeros_like(motion)] if config.motion_from_rest and not at_rest else [motion])
    frames, height, width = motion.shape[:3]
    grid = (config.motion_grid,) * 2 if config.motion_grid > 0 else (height, width)

    def displaced(increments, base=bases):
        count = increments.shape[0]
        upsampled = upsample_increments(increments.reshape(count * (frames - 1), *grid, 2), (height, width))
        return base + cumulative_displacement(upsampled.reshape(count, frames - 1, height, width, 2))

    def penalty(increments):
        return torch.stack([config.motion_smoothness_weight * motion_smoothness(d) + config.motion_speed_weight
                            * squared_speed(d) for d in displaced(increments)])

    textures = texture[None].expand(len(bases), -1, -1, -1)
    increments, index, best = _ascend(motion.new_zeros(len(bases), frames - 1, *grid, 2),
                                      lambda u: activations(textures, displaced(u)), penalty, config.motion_lr_px,
                                      config.steps, scale, history, bounds=None, isotropic=True)
    with torch.no_grad():
        return displaced(increments[None], bases[index:index + 1])[0], best


def _ascend(starts: torch.Tensor, activations, penalties, lr: float, steps: int, scale: float, history: list[float],
            bounds: tuple[float, float] | None, isotropic: bool = False) -> tuple[torch.Tensor, int, float]:
    """Minimize ``−activation/scale + penalty`` of C independent candidates ``starts`` [C, ...] together
    (``activations``/``penalties`` map the batch to (C,)); returns (kept iterate, its candidate, its activation).

    The kept iterate has the lowest objective among all iterates whose activation is at least
    candidate 0's start (the current state, itself one of them): the regularizers choose between
    equally good iterates, and the activation never drops. ``history`` gets the best activation per
    step. Adam by default. ``isotropic``: momentum SGD on each candidate's gradient divided by its RMS,
    for motion vectors: Adam scales x and y separately, which turns a gradient at 30° into steps at
    about 45° and so biases the refined direction toward the diagonals.
    """
    parameter = starts.detach().clone().requires_grad_(True)
    if isotropic:
        optimizer = MomentumSGD(parameter, lr=lr, momentum=0.9)
    else:
        optimizer = Adam(parameter, lr=lr)
    floor = None
    kept = (float("inf"), 0, None, starts[0].detach().clone())  # (objective, candidate, activation, iterate)

    def consider(values: torch.Tensor, objectives: torch.Tensor) -> None:
        nonlocal floor, kept
        values, objectives = values.detach().cpu().numpy(), objectives.detach().cpu().numpy()
        _check_finite(float(values.sum()), "refinement")
        floor = float(values[0]) if floor is None else floor
        for index in np.flatnonzero(values >= floor):
            if objectives[index] < kept[0]:
                kept = (float(objectives[index]), int(index), float(values[index]), parameter[index].detach().clone())

    for step in range(steps):
        # The rate falls linearly to 5 %: at a constant rate the iterates keep jittering by about lr.
        optimizer.lr = linear_decay(lr, step, steps)
        values = activations(parameter)
        losses = -values / scale + penalties(parameter)
        history.append(float(values.detach().max()))
        consider(values, losses)
        optimizer.zero_grad()
        with explained_inplace_errors():
            losses.sum().backward()  # candidates are independent: each gets its own gradient
        if isotropic:
            with torch.no_grad():  # one scale per candidate: a step is ~lr in size, its direction the gradient's
                rms = parameter.grad.pow(2).flatten(1).mean(1).sqrt().clamp_min(1e-12)
                parameter.grad /= rms.view(-1, *([1] * (parameter.ndim - 1)))
        optimizer.step()
        if bounds is not None:
            with torch.no_grad():
                parameter.clamp_(*bounds)
    with torch.no_grad():  # the iterate after the last step has not been measured yet
        values = activations(parameter)
        consider(values, -values / scale + penalties(parameter))
    return kept[3], kept[1], kept[2]


def _check_finite(value: float, where: str) -> None:
    if not np.isfinite(value):
        raise OptimizationDivergedError(f"{where} produced a non-finite activation ({value}); lower the learning rate")


def refined_arrays(result: RefineResult) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """What ``refined.npz`` holds (static, static_canvas, margin_px, displacement, velocity, recon,
    history) and the scalars for summary.json: the activation at the start and after each
    optimization (``refine_activation_r{round}_{phase}``, rounds from 1), the final one, and the
    refined motion's direction (:func:`kernelvis.geometry.summarize_direction` over frames 1..T-1)."""
    velocity = velocity_of(result.displacement)
    with torch.no_grad():
        recon = render(torch.from_numpy(result.static_canvas), torch.from_numpy(result.displacement), result.margin_px)
    arrays = {
        "static": np.ascontiguousarray(result.static), "static_canvas": result.static_canvas,
        "margin_px": np.int64(result.margin_px), "displacement": result.displacement, "velocity": velocity,
        "recon": recon[0].permute(1, 2, 3, 0).numpy(), "history": result.history,
        "activation_start": np.float32(result.activation_start), "activation": np.float32(result.activation_final),
    }
    direction = summarize_direction(velocity[1:])
    scalars = {"refine_activation_start": result.activation_start, "refine_activation": result.activation_final,
               "refined_direction_deg": direction.direction_deg,
               "refined_direction_strength": direction.direction_strength,
               "refined_speed_px_per_frame": direction.speed_px_per_frame}
    for entry in result.phase_log:
        scalars[f"refine_activation_r{entry['round'] + 1}_{entry['phase']}"] = entry["activation_end"]
    return arrays, scalars
