"""Statistics of a clip set that shape stage 1's data-driven prior (the Fourier parameterization).

* colour: the covariance of RGB pixel values and its symmetric matrix square root M (M Mᵀ = Cov),
  the matrix that turns white, decorrelated channels into naturally correlated colour;
* spectrum: the slope a of the spatiotemporal amplitude spectrum, |F(f)| ∝ 1 / |f|^a with
  |f| = √(f_t² + f_y² + f_x²) in cycles/sample (the form ``optimize.param.spectrum_scale`` uses),
  fitted by least squares on log amplitude vs log frequency (natural video: a ≈ 1 to 1.5).

Saved as a small JSON file; :func:`load_clip_stats` reads it back.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from kernelvis.errors import BadInputError
from kernelvis.io import save_json

FIT_MAX_CYC_PER_SAMPLE = 0.4
"""Above this the spectrum is shaped by the camera's anti-aliasing and by compression, not the scene."""
FIT_MIN_BINS = 2.5
"""Below this many frequency bins of the shortest axis, the Hann window's main lobe (±2 bins) mixes
in the steep low-frequency power and biases the slope up."""
SPECTRUM_BINS = 12


@dataclass(frozen=True)
class ClipStats:
    color_sqrt_cov: np.ndarray
    """(3, 3) symmetric square root of the RGB covariance (values in [0, 1] units)"""
    spectral_slope: float
    """a in |F| ∝ 1/|f|^a"""
    color_mean: np.ndarray
    color_cov: np.ndarray
    spectral_fit_r2: float
    clips: int


def _as_unit_clips(clips: np.ndarray) -> np.ndarray:
    clips = np.asarray(clips)
    if clips.ndim == 4:
        clips = clips[None]
    if clips.ndim != 5 or clips.shape[-1] != 3 or clips.shape[0] == 0:
        raise BadInputError(f"expected clips shaped [N, T, H, W, 3], got {list(clips.shape)}")
    return clips.astype(np.float64) / (255.0 if clips.dtype == np.uint8 else 1.0)


def color_statistics(clips: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean (3,), covariance (3, 3), symmetric sqrt of the covariance (3, 3)) over all pixels."""
    pixels = _as_unit_clips(clips).reshape(-1, 3)
    mean = pixels.mean(axis=0)
    covariance = np.cov(pixels, rowvar=False)
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)
    sqrt_cov = (eigenvectors * np.sqrt(np.clip(eigenvalues, 0.0, None))) @ eigenvectors.T
    return mean, covariance, sqrt_cov


def amplitude_spectrum(clips: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Radially binned mean amplitude of the luminance clips' 3D spectrum: (frequency, amplitude),
    log-spaced bins from FIT_MIN_BINS bins of the shortest axis up to FIT_MAX_CYC_PER_SAMPLE."""
    luminance = _as_unit_clips(clips).mean(axis=-1)
    frames, height, width = luminance.shape[1:]
    # A Hann window stops the clip borders' jumps from leaking a 1/f² edge spectrum into every bin.
    window = np.einsum("t,h,w->thw", np.hanning(frames + 2)[1:-1], np.hanning(height + 2)[1:-1],
                       np.hanning(width + 2)[1:-1])
    centred = luminance - luminance.mean(axis=(1, 2, 3), keepdims=True)
    amplitude = np.abs(np.fft.fftn(centred * window, axes=(1, 2, 3))).mean(axis=0)
    ft, fy, fx = np.meshgrid(np.fft.fftfreq(frames), np.fft.fftfreq(height), np.fft.fftfreq(width), indexing="ij")
    magnitude = np.sqrt(ft ** 2 + fy ** 2 + fx ** 2)
    lowest = min(FIT_MIN_BINS / min(frames, height, width), FIT_MAX_CYC_PER_SAMPLE / 2)
    edges = np.geomspace(lowest, FIT_MAX_CYC_PER_SAMPLE, SPECTRUM_BINS + 1)
    which = np.digitize(magnitude.ravel(), edges) - 1
    frequencies, amplitudes = [], []
    for index in range(SPECTRUM_BINS):
        selected = which == index
        if selected.any():
            frequencies.append(magnitude.ravel()[selected].mean())
            amplitudes.append(amplitude.ravel()[selected].mean())
    return np.array(frequencies), np.array(amplitudes)


def spectral_slope(clips: np.ndarray) -> tuple[float, float]:
    """(a, r²) of the least-squares line log amplitude = c − a · log frequency."""
    frequencies, amplitudes = amplitude_spectrum(clips)
    keep = amplitudes > 0
    if keep.sum() < 3:
        raise BadInputError("clips are too small or flat to fit a spectrum (need at least 3 frequency bins)")
    x, y = np.log(frequencies[keep]), np.log(amplitudes[keep])
    slope, intercept = np.polyfit(x, y, 1)
    residual = y - (slope * x + intercept)
    r2 = 1.0 - residual.var() / max(y.var(), 1e-30)
    return float(-slope), float(r2)


def compute_clip_stats(clips: np.ndarray) -> ClipStats:
    mean, covariance, sqrt_cov = color_statistics(clips)
    slope, r2 = spectral_slope(clips)
    return ClipStats(sqrt_cov, slope, mean, covariance, r2, int(_as_unit_clips(clips).shape[0]))


def save_clip_stats(path: str | Path, stats: ClipStats) -> None:
    save_json(path, asdict(stats))


def load_clip_stats(path: str | Path) -> ClipStats:
    """Read a file written by :func:`save_clip_stats` (``kernelvis clip-stats``)."""
    import json

    path = Path(path)
    if not path.is_file():
        raise BadInputError(f"clip statistics not found: {path} (make them with `kernelvis clip-stats CLIPS --out-file {path}`)")
    try:
        record = json.loads(path.read_text())
        stats = ClipStats(np.asarray(record["color_sqrt_cov"], dtype=np.float64), float(record["spectral_slope"]),
                          np.asarray(record["color_mean"], dtype=np.float64),
                          np.asarray(record["color_cov"], dtype=np.float64), float(record["spectral_fit_r2"]),
                          int(record["clips"]))
    except (ValueError, KeyError, TypeError) as error:
        raise BadInputError(f"{path} is not a clip statistics file: {type(error).__name__}: {error}") from None
    if stats.color_sqrt_cov.shape != (3, 3) or not np.isfinite(stats.color_sqrt_cov).all():
        raise BadInputError(f"{path}: color_sqrt_cov must be a finite 3x3 matrix")
    return stats
