"""Texture-conditioned direction tuning: where does a kernel want *its own* texture to move?

The grating sweep (:mod:`kernelvis.analysis.tuning`) says which direction a kernel prefers for a
drifting grating; a visualization says "this texture, moving this way". The two may rightly differ
(the aperture problem: a kernel that sees oriented stripes only sees their normal motion, so for the
stripes of its texture it can be content with two directions, neither of them the grating optimum).
This probe asks the kernel directly: its stage-2 static texture I (and the refined texture) is
translated rigidly in ``directions`` directions at ``speed_factors`` × the visualized speed, and the
kernel's response (stage 1's objective and preprocessing) is read at every one.

Stimulus. The texture under the frame is made periodic by the periodic-plus-smooth decomposition
(Moisan 2011, "Periodic plus smooth image decomposition": ``I = p + s``, ``s`` the smooth image that
carries the jumps between opposite borders) and ``p`` is translated on the torus by a Fourier phase
ramp: frame t is ``p(x − v t)`` exactly, sub-pixel, with no blur that changes with the fractional shift
and no seam, and every direction sees the same content. (Sampling stage 2's canvas instead would let
real texture enter only from where the optimal input's content came from, and the canvas's mean-colour
fill elsewhere: a bias toward the visualized direction, the very thing under test.) ``s`` (zero mean,
smooth) is dropped; the stimulus's frame 0 is ``p`` (I up to ``s``; stage 2's I is its anchor frame's content).
Values are clipped to [0, 1]. The clip has the optimal input's frames and frame size.

Read-out (per kernel and texture):

- **baseline**: the response to a uniform clip of the texture's mean colour (as the reliance indices);
  curves are ``max(response − baseline, 0)`` (as the grating tuning);
- **static response**: the texture standing still (recorded: motion gain = peak / static);
- the **reference speed** is the visualized speed, or ``min_speed_px_per_frame`` where that is smaller
  (a static optimum has no speed to probe at; ``speed_clamped`` says so);
- **preferred direction** = the *peak* of the curve at the reference speed, read on the curve kept to its
  first ``peak_harmonics`` (3) circular harmonics and evaluated every 0.5° (the sampled arg-max is locked
  to the grid and, on the flat top of a speed-tuned kernel's curve, off by up to 15° on planted kernels;
  the smoothed peak by under 6°; three harmonics still keep two lobes 120° apart apart). The peak,
  not the vector average, because of the aperture problem: a stripe texture moving faster than the
  kernel's normal speed gives two lobes symmetric about the stripes' normal, the vector average points
  between them where the kernel does *not* want the texture to move, and the visualized motion, if
  right, lies on one lobe. The vector average and its strength are recorded too.
- **near peaks**: every local maximum of that smoothed curve within ``near_peak_fraction`` of the peak (the lobes
  of an aperture-bound curve tie up to noise: the arg-max picks one of them arbitrarily);
- **DSI**: :func:`kernelvis.analysis.tuning.direction_selectivity_index` of that curve (peak vs opposite);
- **best speed**: the speed factor whose curve holds the largest response, and that curve's peak;
- **visualized fraction**: the smoothed curve at the visualized direction over its peak: how much of what the
  kernel gives this texture at this speed the visualized direction gets;
- **modulation**: the curve's largest value (above baseline) over stage 1's optimal activation, and **drive**: the
  largest raw response over it (how much of the optimum the rigidly moving texture recovers). A curve whose
  modulation is under ``min_modulation`` (5 %) is a direction tuning in name only (a texture that, moving any
  way, changes the response by a few thousandths of what the kernel can give: its DSI is a ratio of rounding
  errors): ``measurable`` is False and there is no verdict;
- **excited**: whether any direction at the reference speed drives the kernel's objective above zero. A texture
  that leaves the kernel at or below zero whichever way it moves (possible with the plain channel mean, which
  can be negative) does not excite it: its curve above the baseline ranks directions by how little they
  *inhibit* the kernel, which is not where the kernel wants the texture to move, so ``measurable`` is False
  there too and there is no verdict. (With the rectified objective such a texture gives a curve of zeros and no
  verdict already; the channel mean now gets the same answer. Measured on whole layers, docs/results.md: of
  the kernels so judged before, half agreed, chance for a direction that is not a preference.)
- **verdict** ``agrees``: the peak within ``tolerance_deg`` (30°) of the visualized direction
  (``peak_agrees``, :func:`texture_agrees`), or the visualized direction on the curve's plateau: its visualized
  fraction at least ``(1 + cos tolerance) / 2`` (0.933 for 30°). That fraction is what a cosine-tuned kernel
  (DSI 1) gives 30° off its peak, so the two parts are one tolerance, in angle and in response; the second part
  matters where the peak is not determined to 30°: a flat-topped curve (stripes moving along their normal a
  little faster than the kernel's normal speed give two shallow lobes either side of a nearly equal normal,
  and which lobe is the arg-max is chance). A dip deeper than that at the visualized direction (stripes at
  twice the kernel's speed) is still a disagreement. ``agrees_near_peak`` accepts any near peak. None where
  there is no visualized direction, no response above baseline, no measurable modulation or no excitation.

Everything is batched over a set of probes of one layer (each kernel with its own texture, speed and
objective): stimuli of all probes are rendered chunk by chunk, each chunk goes through the model once,
up to the layer, and each element is read at its own kernel with its own objective. A probe's result
does not depend on what shares its batch (up to float rounding). Deterministic (no randomness at all).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch

from kernelvis.analysis.tuning import direction_selectivity_index, vector_average, write_csv
from kernelvis.analysis.verdict import TEXTURE_LABEL_PREFIXES
from kernelvis.geometry import angular_difference_deg
from kernelvis.models.activation import layer_output, select_responses
from kernelvis.models.loaded import LoadedModel
from kernelvis.models.preprocessing import Preprocessing

TEXTURE, STATIC, REFINED = "texture", "static", "refined"
"""Stimulus kinds besides the moving texture (``texture``): ``static`` the texture standing still,
``baseline`` a uniform clip of its mean colour. ``REFINED`` is the label of a refined-texture probe."""
BASELINE = "baseline"
LABEL_PREFIXES = TEXTURE_LABEL_PREFIXES
"""Record-key prefix per probe label: stage 2's texture -> ``texture_*``, the refined one -> ``refined_texture_*``."""


@dataclass(frozen=True)
class TextureTuningConfig:
    directions: int = 24
    """Evenly spaced from 0° (15° apart; the peak is refined between samples)."""
    speed_factors: tuple[float, ...] = (0.5, 1.0, 2.0)
    """Multiples of the reference (visualized) speed; 1.0 must be among them (the verdict's curve)."""
    min_speed_px_per_frame: float = 0.25
    """Reference speed used where the visualized speed is smaller (or missing): a static optimum is
    probed at this speed and flagged ``speed_clamped``."""
    near_peak_fraction: float = 0.9
    peak_harmonics: int = 3
    """The peak is read on the curve kept to its first this many circular harmonics (:func:`smoothed_curve`)."""
    tolerance_deg: float = 30.0
    min_modulation: float = 0.05
    """A curve whose largest value above baseline is under this fraction of stage 1's optimal activation has no
    measurable direction preference (no verdict); used where the probe knows that activation."""
    batch_size: int = 32
    """Stimuli per forward pass."""

    def __post_init__(self):
        if self.directions < 4:
            raise ValueError("texture tuning needs at least 4 directions")
        if 1.0 not in self.speed_factors or any(f <= 0 for f in self.speed_factors):
            raise ValueError("speed_factors must be positive and include 1.0 (the visualized speed)")

    @property
    def plateau_fraction(self) -> float:
        """The visualized fraction that counts as agreement: what a cosine-tuned curve gives ``tolerance_deg`` off
        its peak, ``(1 + cos tolerance) / 2``."""
        return (1.0 + math.cos(math.radians(self.tolerance_deg))) / 2.0


@dataclass
class TextureProbe:
    """One kernel with one texture to move."""

    kernel: int
    texture: np.ndarray
    """float32 [H, W, 3] in [0, 1]: the texture under the frame (stage 2's ``static`` or refined ``static``)."""
    frames: int
    """Clip length (the optimal input's)."""
    visualized_speed_px_per_frame: float | None = None
    visualized_direction_deg: float | None = None
    objective: str = "channel"
    """Stage 1's objective of the kernel (``channel``, ``rectified`` or ``neuron``)."""
    label: str = "stage2"
    """``stage2`` or ``refined``: which texture; sets the record keys' prefix (:data:`LABEL_PREFIXES`)."""
    optimal_activation: float | None = None
    """Stage 1's activation of the kernel (its objective): the scale of ``modulation`` and ``drive``; None: the
    modulation is not checked."""


@dataclass
class TextureTuning:
    kernel: int
    label: str
    directions_deg: np.ndarray
    """float64 [n_directions]"""
    speed_factors: np.ndarray
    """float64 [n_speeds]"""
    speeds_px_per_frame: np.ndarray
    """float64 [n_speeds] = speed_factors × reference speed"""
    responses: np.ndarray
    """float64 [n_speeds, n_directions]: raw responses"""
    curves: np.ndarray
    """float64 [n_speeds, n_directions]: max(response − baseline, 0)"""
    baseline_response: float
    static_response: float
    reference_speed_px_per_frame: float
    visualized_speed_px_per_frame: float | None
    speed_clamped: bool
    visualized_direction_deg: float | None
    preferred_direction_deg: float | None
    """Peak of the reference-speed curve (parabola-refined); None without any response above baseline."""
    peak_directions_deg: list[float]
    dsi: float
    vector_average_deg: float | None
    vector_strength: float
    peak_response: float
    """Largest raw response at the reference speed."""
    best_speed_factor: float
    best_speed_px_per_frame: float
    best_speed_direction_deg: float | None
    angular_error_deg: float | None
    agrees: bool | None
    """The verdict: ``peak_agrees`` or the visualized direction on the plateau (module docstring)."""
    agrees_near_peak: bool | None
    peak_agrees: bool | None = None
    """The peak alone within the tolerance of the visualized direction."""
    visualized_fraction: float | None = None
    """The smoothed reference-speed curve at the visualized direction over its peak."""
    modulation: float | None = None
    """Largest value of the reference-speed curve (above baseline) over stage 1's optimal activation."""
    drive: float | None = None
    """Largest raw response at the reference speed over stage 1's optimal activation."""
    measurable: bool = True
    """False where the curve's modulation is under ``min_modulation`` or the texture does not excite the kernel
    (``excited``): no direction preference to verify."""
    excited: bool = True
    """Some direction at the reference speed drives the kernel's objective above zero (``peak_response > 0``)."""
    objective: str = "channel"
    settings: dict = field(default_factory=dict)

    @property
    def reference_curve(self) -> np.ndarray:
        """The relative curve at the reference (visualized) speed, the verdict's."""
        return self.curves[int(np.argmin(np.abs(self.speed_factors - 1.0)))]

    def record(self, prefix: str | None = None) -> dict:
        """Scalars for summary.json / summary.csv, JSON-ready (None, never NaN; the near peaks as one
        space-separated string, as summary.csv keeps scalars only), keys ``{prefix}…`` (default by label:
        ``texture_`` for stage 2's texture, ``refined_texture_`` for the refined)."""
        prefix = LABEL_PREFIXES.get(self.label, f"{self.label}_texture_") if prefix is None else prefix
        values = {
            "preferred_direction_deg": self.preferred_direction_deg,
            "dsi": self.dsi,
            "agrees": self.agrees,
            "agrees_near_peak": self.agrees_near_peak,
            "peak_agrees": self.peak_agrees,
            "visualized_fraction": self.visualized_fraction,
            "modulation": self.modulation,
            "drive": self.drive,
            "measurable": self.measurable,
            "excited": self.excited,
            "angular_error_deg": self.angular_error_deg,
            "near_peaks_deg": " ".join(f"{peak:g}" for peak in self.peak_directions_deg),
            "vector_average_deg": self.vector_average_deg,
            "vector_strength": self.vector_strength,
            "speed_px_per_frame": self.reference_speed_px_per_frame,
            "speed_clamped": self.speed_clamped,
            "best_speed_factor": self.best_speed_factor,
            "best_speed_px_per_frame": self.best_speed_px_per_frame,
            "best_speed_direction_deg": self.best_speed_direction_deg,
            "peak_response": self.peak_response,
            "static_response": self.static_response,
            "baseline_response": self.baseline_response,
        }
        return {f"{prefix}{key}": _clean(value) for key, value in values.items()}

    def curve(self) -> dict:
        """The whole curve, JSON-ready: directions, speeds and raw/relative responses [speed][direction]."""
        return {"directions_deg": self.directions_deg.tolist(), "speed_factors": self.speed_factors.tolist(),
                "peak_directions_deg": _clean(list(self.peak_directions_deg)),
                "speeds_px_per_frame": self.speeds_px_per_frame.tolist(),
                "responses": _clean(self.responses.tolist()), "relative": _clean(self.curves.tolist())}

    def rows(self) -> list[dict]:
        """CSV rows (columns :data:`CSV_COLUMNS`): one per (speed, direction)."""
        return [{"kernel": self.kernel, "texture": self.label, "direction_deg": float(d), "speed_factor": float(f),
                 "speed_px_per_frame": float(s), "response": float(self.responses[i, j]),
                 "relative_response": float(self.curves[i, j])}
                for i, (f, s) in enumerate(zip(self.speed_factors, self.speeds_px_per_frame))
                for j, d in enumerate(self.directions_deg)]


CSV_COLUMNS = ("kernel", "texture", "direction_deg", "speed_factor", "speed_px_per_frame", "response",
               "relative_response")


def _clean(value):
    """JSON-ready: numpy scalars to Python, NaN/inf to None (recursively)."""
    if isinstance(value, (list, tuple)):
        return [_clean(item) for item in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(float(value)) else None
    return value


# ---------------------------------------------------------------------------------------------- stimuli

def periodic_component(image: np.ndarray) -> np.ndarray:
    """The periodic part ``p`` of ``image`` [H, W] or [H, W, C] (Moisan's periodic-plus-smooth
    decomposition ``image = p + s``): ``p`` tiles without seams and keeps the image's mean and all of its
    texture; ``s`` is smooth (it takes the jumps between opposite borders)."""
    image = np.asarray(image, dtype=np.float64)
    squeeze = image.ndim == 2
    u = image[..., None] if squeeze else image
    height, width = u.shape[:2]
    boundary = np.zeros_like(u)
    boundary[0] += u[-1] - u[0]
    boundary[-1] += u[0] - u[-1]
    boundary[:, 0] += u[:, -1] - u[:, 0]
    boundary[:, -1] += u[:, 0] - u[:, -1]
    q = np.arange(height)[:, None]
    r = np.arange(width)[None, :]
    denominator = 2 * np.cos(2 * np.pi * q / height) + 2 * np.cos(2 * np.pi * r / width) - 4
    denominator[0, 0] = 1.0
    smooth_hat = np.fft.fft2(boundary, axes=(0, 1)) / denominator[..., None]
    smooth_hat[0, 0] = 0.0
    periodic = u - np.real(np.fft.ifft2(smooth_hat, axes=(0, 1)))
    return periodic[..., 0] if squeeze else periodic


class TranslatedTexture:
    """Renders a texture translated rigidly on the torus (see the module docstring)."""

    def __init__(self, texture: np.ndarray):
        texture = np.asarray(texture, dtype=np.float64)
        if texture.ndim != 3 or texture.shape[-1] != 3:
            raise ValueError(f"expected a texture shaped [H, W, 3], got {list(texture.shape)}")
        self.height, self.width = texture.shape[:2]
        self.periodic = periodic_component(texture)
        self.spectrum = np.fft.fft2(self.periodic, axes=(0, 1))
        self.ky = np.fft.fftfreq(self.height)[:, None]
        self.kx = np.fft.fftfreq(self.width)[None, :]
        self.mean = texture.reshape(-1, 3).mean(0)

    def moving(self, frames: int, direction_deg: float, speed_px_per_frame: float) -> np.ndarray:
        """float32 [T, H, W, 3]: frame t = p(x − v t), v = speed · (cos θ, −sin θ) (y down)."""
        theta = math.radians(direction_deg)
        vx, vy = speed_px_per_frame * math.cos(theta), -speed_px_per_frame * math.sin(theta)
        t = np.arange(frames, dtype=np.float64)[:, None, None]
        ramp = np.exp(-2j * np.pi * (self.kx[None] * vx * t + self.ky[None] * vy * t))  # [T, H, W]
        video = np.real(np.fft.ifft2(self.spectrum[None] * ramp[..., None], axes=(1, 2)))
        return np.clip(video, 0.0, 1.0).astype(np.float32)

    def still(self, frames: int) -> np.ndarray:
        return np.broadcast_to(np.clip(self.periodic, 0.0, 1.0).astype(np.float32),
                               (frames, self.height, self.width, 3)).copy()

    def uniform(self, frames: int) -> np.ndarray:
        return np.broadcast_to(self.mean.astype(np.float32), (frames, self.height, self.width, 3)).copy()


def reference_speed(visualized_speed_px_per_frame: float | None, config: TextureTuningConfig) -> tuple[float, bool]:
    """(speed the curve is probed at, clamped?): the visualized speed, or the minimum where that is
    smaller, missing or not finite."""
    speed = visualized_speed_px_per_frame
    if speed is None or not math.isfinite(float(speed)) or float(speed) < config.min_speed_px_per_frame:
        return float(config.min_speed_px_per_frame), True
    return float(speed), False


def probe_directions(config: TextureTuningConfig) -> np.ndarray:
    return np.arange(config.directions, dtype=np.float64) * (360.0 / config.directions)


def _stimuli(probe: TextureProbe, config: TextureTuningConfig) -> list[tuple]:
    """(kind, direction_deg, speed_px_per_frame) of one probe: baseline, static, then speed-major moving."""
    speed, _ = reference_speed(probe.visualized_speed_px_per_frame, config)
    moving = [(TEXTURE, float(d), float(f) * speed) for f in config.speed_factors for d in probe_directions(config)]
    return [(BASELINE, math.nan, 0.0), (STATIC, math.nan, 0.0)] + moving


def render_stimulus(source: TranslatedTexture, frames: int, stimulus: tuple) -> np.ndarray:
    kind, direction, speed = stimulus
    if kind == BASELINE:
        return source.uniform(frames)
    if kind == STATIC:
        return source.still(frames)
    return source.moving(frames, direction, speed)


# ---------------------------------------------------------------------------------------------- read-out

def smoothed_curve(directions_deg: np.ndarray, curve: np.ndarray, harmonics: int = 3,
                   resolution_deg: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """(fine directions, values): a curve on evenly spaced directions kept to its mean and first
    ``harmonics`` circular harmonics (a truncated DFT), evaluated every ``resolution_deg``. Three harmonics
    keep two lobes 120° apart (an aperture-bound curve at twice the kernel's speed) apart."""
    count = len(curve)
    harmonics = max(1, min(int(harmonics), (count - 1) // 2))
    angles = np.radians(np.asarray(directions_deg, dtype=np.float64))
    fine = np.arange(0.0, 360.0, resolution_deg)
    fine_angles = np.radians(fine)
    values = np.full(fine.shape, float(np.mean(curve)))
    for k in range(1, harmonics + 1):
        cosine = 2.0 / count * float(np.sum(curve * np.cos(k * angles)))
        sine = 2.0 / count * float(np.sum(curve * np.sin(k * angles)))
        values += cosine * np.cos(k * fine_angles) + sine * np.sin(k * fine_angles)
    return fine, values


def peak_direction_deg(directions_deg: np.ndarray, curve: np.ndarray, harmonics: int = 3) -> float | None:
    """Direction of the maximum of the smoothed curve (:func:`smoothed_curve`); None for a curve with no
    positive value. The sampled arg-max alone is at the mercy of a flat top: a kernel tuned to the texture's
    normal speed responds nearly as much 20° off (normal speed cos 20° = 0.94)."""
    if not np.max(curve) > 0:
        return None
    fine, values = smoothed_curve(directions_deg, curve, harmonics)
    return float(fine[int(np.argmax(values))])


def near_peaks_deg(directions_deg: np.ndarray, curve: np.ndarray, fraction: float, harmonics: int = 3) -> list[float]:
    """Directions of the local maxima of the smoothed curve within ``fraction`` of its peak, highest first."""
    if not np.max(curve) > 0:
        return []
    fine, values = smoothed_curve(directions_deg, curve, harmonics)
    peak = float(np.max(values))
    before, after = np.roll(values, 1), np.roll(values, -1)
    found = np.nonzero((values >= fraction * peak) & (values >= before) & (values > after))[0]
    if len(found) == 0:  # a constant curve
        found = np.array([int(np.argmax(values))])
    found = sorted(found.tolist(), key=lambda i: -values[i])
    return [float(fine[i]) for i in found]


def texture_agrees(visualized_direction_deg: float | None, peak_deg: float | Sequence[float] | None,
                   tolerance_deg: float = 30.0) -> bool | None:
    """The verdict "the visualized motion is where the kernel wants this texture to move": the peak (or any
    of several peaks) within ``tolerance_deg`` of the visualized direction. None if either is missing."""
    if visualized_direction_deg is None or peak_deg is None:
        return None
    if not math.isfinite(float(visualized_direction_deg)):
        return None
    peaks = [peak_deg] if isinstance(peak_deg, (int, float, np.floating, np.integer)) else list(peak_deg)
    peaks = [float(p) for p in peaks if p is not None and math.isfinite(float(p))]
    if not peaks:
        return None
    return bool(min(float(angular_difference_deg(visualized_direction_deg, p)) for p in peaks) <= tolerance_deg)


def curve_fraction_at(directions_deg: np.ndarray, curve: np.ndarray, direction_deg: float | None,
                      harmonics: int = 3) -> float | None:
    """The smoothed curve (:func:`smoothed_curve`) at ``direction_deg`` over its peak; None without a direction
    or a positive value."""
    if direction_deg is None or not math.isfinite(float(direction_deg)) or not np.max(curve) > 0:
        return None
    fine, values = smoothed_curve(directions_deg, curve, harmonics)
    peak = float(np.max(values))
    at = float(np.interp(float(direction_deg) % 360.0, np.append(fine, 360.0), np.append(values, values[0])))
    return at / peak if peak > 0 else None


def texture_verdict(peak_agrees: bool | None, visualized_fraction: float | None,
                    config: TextureTuningConfig) -> bool | None:
    """"The visualized motion is where the kernel wants this texture to move": the peak within the tolerance
    (``peak_agrees``, :func:`texture_agrees`), or the visualized direction on the curve's plateau (at least
    ``config.plateau_fraction`` of the peak). None where ``peak_agrees`` is (nothing to judge)."""
    if peak_agrees is None:
        return None
    return bool(peak_agrees or (visualized_fraction is not None and visualized_fraction >= config.plateau_fraction))


def _share_of(value: float, scale: float | None) -> float | None:
    return value / abs(scale) if scale is not None and math.isfinite(float(scale)) and scale != 0 else None


def summarize_texture_tuning(probe: TextureProbe, responses: np.ndarray,
                             config: TextureTuningConfig = TextureTuningConfig()) -> TextureTuning:
    """Read one probe's raw responses (in the order of its stimuli: baseline, static, then speed-major
    moving) out into a :class:`TextureTuning`."""
    responses = np.asarray(responses, dtype=np.float64)
    directions = probe_directions(config)
    factors = np.asarray(config.speed_factors, dtype=np.float64)
    speed, clamped = reference_speed(probe.visualized_speed_px_per_frame, config)
    baseline, static = float(responses[0]), float(responses[1])
    raw = responses[2:].reshape(len(factors), len(directions))
    curves = np.clip(raw - baseline, 0.0, None)
    reference = int(np.argmin(np.abs(factors - 1.0)))
    curve = curves[reference]
    responsive = bool(np.max(curve) > 0)
    peaks = near_peaks_deg(directions, curve, config.near_peak_fraction, config.peak_harmonics)
    preferred = peak_direction_deg(directions, curve, config.peak_harmonics)
    average_deg, strength = vector_average(directions, curve)
    best = int(np.unravel_index(np.argmax(curves), curves.shape)[0])
    best_direction = peak_direction_deg(directions, curves[best], config.peak_harmonics)
    visualized = probe.visualized_direction_deg
    visualized = float(visualized) if visualized is not None and math.isfinite(float(visualized)) else None
    error = (float(angular_difference_deg(visualized, preferred))
             if visualized is not None and preferred is not None else None)
    modulation = _share_of(float(np.max(curve)), probe.optimal_activation)
    peak_response = float(np.max(raw[reference]))
    excited = peak_response > 0
    measurable = responsive and excited and (modulation is None or modulation >= config.min_modulation)
    fraction = curve_fraction_at(directions, curve, visualized, config.peak_harmonics)
    peak_agrees = texture_agrees(visualized, preferred, config.tolerance_deg) if measurable else None
    return TextureTuning(
        kernel=int(probe.kernel), label=probe.label, directions_deg=directions, speed_factors=factors,
        speeds_px_per_frame=factors * speed, responses=raw, curves=curves, baseline_response=baseline,
        static_response=static, reference_speed_px_per_frame=speed,
        visualized_speed_px_per_frame=(float(probe.visualized_speed_px_per_frame)
                                       if probe.visualized_speed_px_per_frame is not None else None),
        speed_clamped=clamped, visualized_direction_deg=visualized, preferred_direction_deg=preferred,
        peak_directions_deg=peaks, dsi=direction_selectivity_index(directions, curve),
        vector_average_deg=average_deg if responsive else None, vector_strength=strength,
        peak_response=peak_response, best_speed_factor=float(factors[best]),
        best_speed_px_per_frame=float(factors[best] * speed), best_speed_direction_deg=best_direction,
        angular_error_deg=error,
        agrees=texture_verdict(peak_agrees, fraction, config),
        agrees_near_peak=texture_agrees(visualized, peaks or None, config.tolerance_deg) if measurable else None,
        peak_agrees=peak_agrees, visualized_fraction=fraction, modulation=modulation,
        drive=_share_of(peak_response, probe.optimal_activation), measurable=measurable,
        excited=excited,
        objective=probe.objective,
        settings={"directions": config.directions, "speed_factors": list(config.speed_factors),
                  "min_speed_px_per_frame": config.min_speed_px_per_frame,
                  "near_peak_fraction": config.near_peak_fraction, "tolerance_deg": config.tolerance_deg,
                  "plateau_fraction": config.plateau_fraction, "min_modulation": config.min_modulation,
                  "peak_harmonics": config.peak_harmonics,
                  "stimulus": "periodic component, Fourier translation",
                  "preferred": "peak of the curve smoothed to its first peak_harmonics harmonics",
                  "verdict": "peak within tolerance_deg, or the visualized direction at >= plateau_fraction of it; "
                             "none where no direction at the reference speed gives a response above zero or the "
                             "modulation is under min_modulation"})


# ---------------------------------------------------------------------------------------------- running

@torch.no_grad()
def probe_responses(model: LoadedModel, layer: str, probes: Sequence[TextureProbe],
                    config: TextureTuningConfig = TextureTuningConfig(), preprocessing: Preprocessing | None = None,
                    device: str | torch.device = "cpu") -> list[np.ndarray]:
    """Raw responses of every probe to its stimuli (float64 [2 + n_speeds·n_directions] each); the stimuli of
    all probes share forward passes of ``config.batch_size`` clips, each clip read at its own kernel with its
    own objective."""
    sources = [TranslatedTexture(probe.texture) for probe in probes]
    jobs = [(index, stimulus) for index, probe in enumerate(probes) for stimulus in _stimuli(probe, config)]
    module_device = torch.device(device)
    model.module.to(module_device)
    values = np.empty(len(jobs), dtype=np.float64)
    for start in range(0, len(jobs), config.batch_size):
        chunk = jobs[start:start + config.batch_size]
        clips = np.stack([render_stimulus(sources[i], probes[i].frames, stimulus) for i, stimulus in chunk])
        video01 = torch.from_numpy(clips).permute(0, 4, 1, 2, 3).to(module_device)  # (N, 3, T, H, W)
        output = layer_output(model, layer, video01, preprocessing)
        kernels = [int(probes[i].kernel) for i, _ in chunk]
        objectives = [probes[i].objective for i, _ in chunk]
        values[start:start + len(chunk)] = select_responses(output, kernels, objectives).double().cpu().numpy()
    results, offset = [], 0
    for probe in probes:
        count = 2 + len(config.speed_factors) * config.directions
        results.append(values[offset:offset + count])
        offset += count
    return results


def texture_tuning(model: LoadedModel, layer: str, probes: Sequence[TextureProbe],
                   config: TextureTuningConfig = TextureTuningConfig(), preprocessing: Preprocessing | None = None,
                   device: str | torch.device = "cpu") -> list[TextureTuning]:
    """Texture-conditioned tuning of several probes (kernels × textures) of one layer, one
    :class:`TextureTuning` per probe, in order. ``preprocessing``: stage 1's
    (:func:`kernelvis.optimize.api.model_preprocessing`); None = the model's own."""
    responses = probe_responses(model, layer, probes, config, preprocessing, device)
    return [summarize_texture_tuning(probe, values, config) for probe, values in zip(probes, responses)]


# ---------------------------------------------------------------------------------------------- stage glue

def probes_for_kernel(kernel: int, optimal_video: np.ndarray, decomposition=None, refined: dict | None = None,
                      objective: str = "channel", optimal_activation: float | None = None) -> list[TextureProbe]:
    """The probes of one kernel from stage 1's clip (optimal.npz ``video``), stage 2's
    :class:`~kernelvis.decompose.fit.Decomposition` (decomposition.npz) and/or the refined arrays (refined.npz:
    ``static``, ``velocity``). The visualized direction and speed are computed as summary.json's are:
    stage 2's by :func:`kernelvis.decompose.stats.motion_summary` (``direction_deg``, ``speed_px_per_frame``),
    the refined by :func:`kernelvis.analysis.refine.refined_arrays` (``refined_direction_deg`` …)."""
    from kernelvis.decompose.stats import motion_weights
    from kernelvis.geometry import summarize_direction

    video = np.asarray(optimal_video, dtype=np.float32)
    probes = []
    if decomposition is not None:
        direction = summarize_direction(decomposition.velocity, motion_weights(video))
        probes.append(TextureProbe(int(kernel), np.asarray(decomposition.static, np.float32), len(video),
                                   direction.speed_px_per_frame, direction.direction_deg, objective, "stage2",
                                   optimal_activation))
    if refined is not None:
        velocity = np.asarray(refined["velocity"], dtype=np.float32)
        direction = summarize_direction(velocity[1:])
        probes.append(TextureProbe(int(kernel), np.asarray(refined["static"], np.float32), len(video),
                                   direction.speed_px_per_frame, direction.direction_deg, objective, REFINED,
                                   optimal_activation))
    return probes


def probes_from_files(optimal_path, decomposition_path=None, refined_path=None) -> list[TextureProbe]:
    """:func:`probes_for_kernel` from a kernel's files: stage 1's ``optimal.npz`` (``video``, ``kernel``,
    ``objective``), stage 2's ``decomposition.npz`` and the refined ``refined.npz`` (either may be None or
    missing: its probe is then left out)."""
    from pathlib import Path

    from kernelvis.decompose.save import load_decomposition

    with np.load(optimal_path) as archive:
        video = archive["video"]
        kernel = int(archive["kernel"])
        objective = str(archive["objective"]) if "objective" in archive.files else "channel"
        activation = float(archive["activation"]) if "activation" in archive.files else None
    decomposition = (load_decomposition(decomposition_path)
                     if decomposition_path is not None and Path(decomposition_path).is_file() else None)
    refined = None
    if refined_path is not None and Path(refined_path).is_file():
        with np.load(refined_path) as archive:
            refined = {"static": archive["static"], "velocity": archive["velocity"]}
    return probes_for_kernel(kernel, video, decomposition, refined, objective, activation)


def save_texture_tuning(results: Sequence[TextureTuning], out_dir, model_name: str = "", layer: str = "",
                        preprocessing: str = "native", provenance: dict | None = None) -> dict:
    """Write ``texture_tuning.csv`` (every curve) and ``texture_tuning.json`` (scalars of every texture plus
    the curves) of ONE kernel's results into ``out_dir``; returns the flat scalars for summary.json."""
    from pathlib import Path

    from kernelvis.io import save_json

    out_dir = Path(out_dir)
    write_csv(out_dir / "texture_tuning.csv", [row for result in results for row in result.rows()], CSV_COLUMNS)
    scalars = {}
    for result in results:
        scalars.update(result.record())
    record = {"model": model_name, "layer": layer, "kernel": results[0].kernel if results else None, **scalars,
              "curves": {result.label: result.curve() for result in results},
              "settings": results[0].settings if results else {}, "objective": results[0].objective if results else None,
              "preprocessing": preprocessing, "provenance": provenance or {}}
    save_json(out_dir / "texture_tuning.json", record)
    return scalars
