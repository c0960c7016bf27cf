"""Direction tuning: measure a kernel the way a physiologist measures a neuron.

A sweep shows the model drifting gratings (every direction × a few spatial and temporal
frequencies), random-dot fields (every direction × a few speeds) and one blank (uniform mid-grey)
clip. The response is the kernel's channel mean (:func:`kernelvis.models.activation.select_response`,
the same objective stage 1 maximizes). Stimuli are rendered chunk by chunk and each chunk goes
through the model once, up to the target layer, for every kernel asked about.

Read-out (per kernel):

- **baseline**: the response to the blank clip. Tuning curves use ``max(response − baseline, 0)``:
  a kernel with a large constant offset (bias, BatchNorm shift) is not called tuned, and a
  stimulus that *suppresses* the kernel counts as no response rather than a negative one
  (which would make the DSI leave [0, 1]).
- **best frequencies**: the (spatial, temporal) frequency pair holding the largest grating response.
- **preferred direction**: angle of the vector average ``Σ r(θ) e^{iθ}`` of the relative curve at
  the best frequencies (robust to the sampling grid, unlike the arg-max).
- **DSI** = (R_pref − R_null) / (R_pref + R_null), R_pref the curve's peak, R_null the curve at the
  opposite direction (interpolated on the circle): 1 = responds to one direction only, 0 = to both
  directions of motion alike (e.g. a flicker or static-orientation kernel). Taking R_pref at the peak,
  not at the vector average, keeps the DSI of a two-lobed (axial) curve near 0 whatever its noise.
- **speed preference** = temporal / spatial frequency at the best pair, px/frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch

from kernelvis.data.synthetic import drifting_grating, frame_hw, plaid, random_dots
from kernelvis.geometry import direction_deg_of
from kernelvis.models.loaded import LoadedModel
from kernelvis.models.preprocessing import Preprocessing, clip_frame_shape
from kernelvis.models.activation import layer_output, select_response

GRATING, PLAID, DOTS, BLANK = "grating", "plaid", "dots", "blank"
BLANK_LEVEL = 0.5


@dataclass(frozen=True)
class TuningConfig:
    directions: int = 16
    """Evenly spaced from 0°; 12–16 resolve a preferred direction well."""
    spatial_freqs: tuple[float, ...] = (0.0625, 0.125, 0.25)
    """cycles/px"""
    temporal_freqs: tuple[float, ...] = (0.0625, 0.125, 0.25)
    """cycles/frame"""
    dot_speeds_px_per_frame: tuple[float, ...] = (1.0, 2.0)
    """Random-dot fields (coherence 1); empty for gratings only."""
    plaid_freqs: tuple[tuple[float, float], ...] = ((0.0625, 0.0625), (0.125, 0.125))
    """(spatial cycles/px, temporal cycles/frame) of the plaids (two gratings 120° apart whose pattern moves in
    the sweep's direction); they probe pattern-motion kernels, and they count for the optimality audit."""
    dot_density: float = 0.05
    """Dots per px²: dense enough that the field's energy is spread over all orientations (sparse
    fields leave the direction estimate at the mercy of a few dots)."""
    contrast: float = 1.0
    frames: int | None = None
    """None: the model's native clip length."""
    size: int | None = None
    """None: the model's native frame size."""
    batch_size: int = 32
    """Stimuli per forward pass (lower it for big models)."""
    objective: str = "channel"
    seed: int = 0
    """Seed of the random-dot fields."""


@dataclass(frozen=True)
class Condition:
    stimulus: str
    direction_deg: float = math.nan
    spatial_freq: float = math.nan
    temporal_freq: float = math.nan
    speed_px_per_frame: float = math.nan


@dataclass
class KernelTuning:
    kernel: int
    responses: np.ndarray
    """float64 [n_conditions], raw responses in the order of ``conditions``."""
    conditions: list[Condition]
    baseline_activation: float
    preferred_direction_deg: float
    dsi: float
    vector_strength: float
    """|Σ r e^{iθ}| / Σ r of the relative curve: 1 = one direction, 0 = uniform or axial."""
    preferred_spatial_freq: float
    preferred_temporal_freq: float
    preferred_speed_px_per_frame: float
    best_grating_activation: float
    directions_deg: np.ndarray
    """The sampled directions."""
    best_curve: np.ndarray
    """Relative (baseline-subtracted, clipped) responses per direction at the best frequencies."""
    dots: dict = field(default_factory=dict)
    """Random-dot read-out (same definitions over speeds): preferred_direction_deg, dsi, preferred_speed_px_per_frame, curve."""
    best_stimulus_activation: float = math.nan
    """The largest raw response over every stimulus of the sweep (gratings, plaids, dots; not the blank)."""
    best_stimulus: str = ""
    """Which stimulus that was, e.g. ``plaid 45° sf 0.125 tf 0.125``."""

    def summary(self) -> dict:
        """The scalars of ``tuning.json``."""
        result = {
            "kernel": self.kernel,
            "preferred_direction_deg": self.preferred_direction_deg,
            "dsi": self.dsi,
            "vector_strength": self.vector_strength,
            "preferred_spatial_freq": self.preferred_spatial_freq,
            "preferred_temporal_freq": self.preferred_temporal_freq,
            "preferred_speed_px_per_frame": self.preferred_speed_px_per_frame,
            "best_grating_activation": self.best_grating_activation,
            "best_stimulus_activation": self.best_stimulus_activation,
            "best_stimulus": self.best_stimulus,
            "baseline_activation": self.baseline_activation,
        }
        for key in ("preferred_direction_deg", "dsi", "preferred_speed_px_per_frame"):
            if key in self.dots:
                result[f"dots_{key}"] = self.dots[key]
        return result

    def rows(self) -> list[dict]:
        """One row per stimulus, the columns of ``tuning.csv``."""
        return [{"direction_deg": c.direction_deg, "spatial_freq": c.spatial_freq, "temporal_freq": c.temporal_freq,
                 "speed_px_per_frame": c.speed_px_per_frame, "stimulus": c.stimulus, "response": float(r)}
                for c, r in zip(self.conditions, self.responses)]


def sweep_directions(count: int) -> np.ndarray:
    return np.arange(count, dtype=np.float64) * (360.0 / count)


def sweep_conditions(config: TuningConfig) -> list[Condition]:
    """Blank first, then gratings (direction fastest), then dots."""
    directions = sweep_directions(config.directions)
    conditions = [Condition(BLANK)]
    for sf in config.spatial_freqs:
        for tf in config.temporal_freqs:
            conditions += [Condition(GRATING, float(d), float(sf), float(tf), float(tf) / float(sf)) for d in directions]
    for speed in config.dot_speeds_px_per_frame:
        conditions += [Condition(DOTS, float(d), speed_px_per_frame=float(speed)) for d in directions]
    for sf, tf in config.plaid_freqs:
        conditions += [Condition(PLAID, float(d), float(sf), float(tf)) for d in directions]
    return conditions


def render_condition(condition: Condition, frames: int, size: int | tuple[int, int], contrast: float = 1.0, seed: int = 0,
                     dot_density: float = 0.05) -> np.ndarray:
    """The stimulus clip float32 [T, H, W, 3] in [0, 1]."""
    if condition.stimulus == GRATING:
        return drifting_grating(frames, size, condition.direction_deg, condition.spatial_freq,
                                condition.temporal_freq, contrast=contrast).video
    if condition.stimulus == PLAID:
        return plaid(frames, size, condition.direction_deg, condition.spatial_freq, condition.temporal_freq,
                     contrast=contrast).video
    if condition.stimulus == DOTS:
        return random_dots(frames, size, condition.direction_deg, condition.speed_px_per_frame,
                           coherence=1.0, dot_density=dot_density, seed=seed).video
    if condition.stimulus == BLANK:
        return np.full((frames, *frame_hw(size), 3), BLANK_LEVEL, dtype=np.float32)
    raise ValueError(f"unknown stimulus {condition.stimulus!r}")


def clip_shape(model: LoadedModel, config: TuningConfig) -> tuple[int, tuple[int, int]]:
    """(frames, (H, W)): the model's native clip (H ≠ W for e.g. TransNetV2) unless --size asks for a square."""
    preprocessing = model.preprocessing
    return (config.frames or preprocessing.frames, clip_frame_shape(preprocessing, config.size))


@torch.no_grad()
def channel_responses(model: LoadedModel, layer: str, kernels: Sequence[int], clips: Sequence[np.ndarray] | np.ndarray,
                      objective: str = "channel", preprocessing: Preprocessing | None = None,
                      batch_size: int = 32, device: str | torch.device = "cpu") -> np.ndarray:
    """Responses float64 [n_clips, len(kernels)] of several kernels of one layer to clips [T, H, W, 3]:
    one forward pass per chunk of clips, every kernel read from the same layer output."""
    return _responses(model, layer, kernels, lambda start, stop: clips[start:stop], len(clips), objective,
                      preprocessing, batch_size, device)


def _responses(model, layer, kernels, chunk, count, objective, preprocessing, batch_size, device) -> np.ndarray:
    kernels = [int(k) for k in kernels]
    module_device = torch.device(device)
    model.module.to(module_device)
    out = np.empty((count, len(kernels)), dtype=np.float64)
    for start in range(0, count, batch_size):
        stop = min(start + batch_size, count)
        videos = np.stack(list(chunk(start, stop))).astype(np.float32, copy=False)
        video01 = torch.from_numpy(videos).permute(0, 4, 1, 2, 3).to(module_device)  # (N, 3, T, H, W)
        output = layer_output(model, layer, video01, preprocessing)
        for column, kernel in enumerate(kernels):
            out[start:stop, column] = select_response(output, [kernel], objective).double().cpu().numpy()
    return out


def sweep_responses(model: LoadedModel, layer: str, kernels: Sequence[int], config: TuningConfig,
                    conditions: list[Condition] | None = None, preprocessing: Preprocessing | None = None,
                    device: str | torch.device = "cpu") -> tuple[list[Condition], np.ndarray]:
    """(conditions, responses float64 [n_conditions, len(kernels)]); stimuli are rendered one chunk at a
    time so a sweep at a big model's native size never sits in memory whole."""
    conditions = conditions if conditions is not None else sweep_conditions(config)
    frames, size = clip_shape(model, config)

    def chunk(start, stop):
        return [render_condition(c, frames, size, config.contrast, config.seed, config.dot_density)
                for c in conditions[start:stop]]

    responses = _responses(model, layer, kernels, chunk, len(conditions), config.objective, preprocessing,
                           config.batch_size, device)
    return conditions, responses


def vector_average(directions_deg: np.ndarray, responses: np.ndarray) -> tuple[float, float]:
    """(direction_deg, vector_strength) of non-negative ``responses`` sampled at ``directions_deg``."""
    radians = np.radians(directions_deg)
    # (cos θ, sin θ) is the screen direction; as a velocity (y down) it is (cos θ, −sin θ).
    vx, vy = float(np.sum(responses * np.cos(radians))), -float(np.sum(responses * np.sin(radians)))
    total = float(np.sum(responses))
    if total <= 0.0:
        return 0.0, 0.0
    direction = round(float(direction_deg_of(vx, vy)), 9) % 360.0  # 359.9999999 is 0
    return direction, float(np.hypot(vx, vy) / total)


def direction_selectivity_index(directions_deg: np.ndarray, responses: np.ndarray) -> float:
    """(R_pref − R_null)/(R_pref + R_null) of a non-negative curve on evenly spaced directions:
    R_pref its peak, R_null its value opposite the peak (linear interpolation on the circle)."""
    peak = int(np.argmax(responses))
    r_pref = float(responses[peak])
    r_null = float(np.interp((directions_deg[peak] + 180.0) % 360.0, directions_deg, responses, period=360.0))
    if r_pref + r_null <= 0.0:
        return 0.0
    return (r_pref - r_null) / (r_pref + r_null)


def _read_out(directions_deg: np.ndarray, relative: np.ndarray) -> tuple[int, float, float, float]:
    """relative: [n_settings, n_directions]; returns (best setting, preferred_deg, dsi, vector_strength)."""
    best = int(np.unravel_index(np.argmax(relative), relative.shape)[0])
    curve = relative[best]
    preferred_deg, strength = vector_average(directions_deg, curve)
    return best, preferred_deg, direction_selectivity_index(directions_deg, curve), strength


def summarize_tuning(kernel: int, conditions: list[Condition], responses: np.ndarray) -> KernelTuning:
    """Read one kernel's sweep (raw responses in the order of ``conditions``) out into a :class:`KernelTuning`."""
    responses = np.asarray(responses, dtype=np.float64)
    kinds = np.array([c.stimulus for c in conditions])
    if (kinds == BLANK).sum() != 1 or (kinds == GRATING).sum() == 0:
        raise ValueError("a sweep needs exactly one blank and at least one grating")
    baseline = float(responses[kinds == BLANK][0])
    relative = np.clip(responses - baseline, 0.0, None)

    gratings = [i for i, c in enumerate(conditions) if c.stimulus == GRATING]
    directions = np.array(sorted({conditions[i].direction_deg for i in gratings}))
    settings = sorted({(conditions[i].spatial_freq, conditions[i].temporal_freq) for i in gratings})
    grid = _grid(conditions, relative, gratings, directions, settings,
                 key=lambda c: (c.spatial_freq, c.temporal_freq))
    best, preferred_deg, dsi, strength = _read_out(directions, grid)
    sf, tf = settings[best]

    dots = {}
    dot_indices = [i for i, c in enumerate(conditions) if c.stimulus == DOTS]
    if dot_indices:
        speeds = sorted({conditions[i].speed_px_per_frame for i in dot_indices})
        dot_grid = _grid(conditions, relative, dot_indices, directions, [(s,) for s in speeds],
                         key=lambda c: (c.speed_px_per_frame,))
        dot_best, dot_deg, dot_dsi, _ = _read_out(directions, dot_grid)
        dots = {"preferred_direction_deg": dot_deg, "dsi": dot_dsi,
                "preferred_speed_px_per_frame": speeds[dot_best], "curve": dot_grid[dot_best]}

    stimuli = [i for i, c in enumerate(conditions) if c.stimulus != BLANK]
    best_stimulus = max(stimuli, key=lambda i: responses[i])
    return KernelTuning(
        best_stimulus_activation=float(responses[best_stimulus]), best_stimulus=describe(conditions[best_stimulus]),
        kernel=int(kernel), responses=responses, conditions=list(conditions), baseline_activation=baseline,
        preferred_direction_deg=preferred_deg, dsi=dsi, vector_strength=strength,
        preferred_spatial_freq=float(sf), preferred_temporal_freq=float(tf),
        preferred_speed_px_per_frame=float(tf) / float(sf),
        best_grating_activation=float(responses[gratings].max()),
        directions_deg=directions, best_curve=grid[best], dots=dots)


def describe(condition: Condition) -> str:
    """A short human-readable name of a stimulus."""
    if condition.stimulus == BLANK:
        return "blank"
    if condition.stimulus == DOTS:
        return f"dots {condition.direction_deg:g}° {condition.speed_px_per_frame:g} px/frame"
    return (f"{condition.stimulus} {condition.direction_deg:g}° sf {condition.spatial_freq:g} "
            f"tf {condition.temporal_freq:g}")


def _grid(conditions, values, indices, directions, settings, key) -> np.ndarray:
    """values[indices] arranged as [setting, direction]; every cell must be present."""
    grid = np.full((len(settings), len(directions)), np.nan)
    setting_index = {s: n for n, s in enumerate(settings)}
    for i in indices:
        grid[setting_index[key(conditions[i])], int(np.searchsorted(directions, conditions[i].direction_deg))] = values[i]
    if np.isnan(grid).any():
        raise ValueError("the sweep is not a full grid of directions × settings")
    return grid


def tune_kernels(model: LoadedModel, layer: str, kernels: Sequence[int], config: TuningConfig = TuningConfig(),
                 preprocessing: Preprocessing | None = None, device: str | torch.device = "cpu") -> list[KernelTuning]:
    """Tuning of several kernels of one layer from one shared sweep (one forward pass per chunk)."""
    conditions, responses = sweep_responses(model, layer, kernels, config, preprocessing=preprocessing, device=device)
    return [summarize_tuning(kernel, conditions, responses[:, column]) for column, kernel in enumerate(kernels)]


CSV_COLUMNS = ("direction_deg", "spatial_freq", "temporal_freq", "speed_px_per_frame", "stimulus", "response")


def write_csv(path, rows: list[dict], columns: Sequence[str]) -> None:
    """A CSV with a header, written atomically; NaN becomes an empty cell."""
    import csv

    from kernelvis.io import atomic_path

    with atomic_path(path) as temporary:
        with open(temporary, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(columns), extrasaction="ignore")
            writer.writeheader()
            for row in rows:
                writer.writerow({key: "" if isinstance(value, float) and math.isnan(value) else value
                                 for key, value in row.items()})


def save_tuning(tuning: KernelTuning, out_dir, model_name: str, layer: str, config: TuningConfig,
                preprocessing: str = "native", provenance: dict | None = None) -> dict:
    """Write ``tuning.csv`` and ``tuning.json`` into ``out_dir``; returns the JSON object."""
    from pathlib import Path

    from kernelvis.io import save_json

    out_dir = Path(out_dir)
    write_csv(out_dir / "tuning.csv", tuning.rows(), CSV_COLUMNS)
    record = {"model": model_name, "layer": layer, **tuning.summary(),
              "sweep": {"directions": config.directions, "spatial_freqs": list(config.spatial_freqs),
                        "temporal_freqs": list(config.temporal_freqs),
                        "dot_speeds_px_per_frame": list(config.dot_speeds_px_per_frame),
                        "plaid_freqs": [list(pair) for pair in config.plaid_freqs],
                        "dot_density": config.dot_density, "contrast": config.contrast,
                        "objective": config.objective, "seed": config.seed},
              "objective": config.objective, "preprocessing": preprocessing, "provenance": provenance or {}}
    save_json(out_dir / "tuning.json", record)
    return record
