"""Parameterizations: the trainable tensor behind an optimized clip and the map to display space.

Both map to RGB video in [0, 1] shaped (N, 3, T, H, W) through colour decorrelation (the sqrt of
the colour covariance, normalized by its largest column norm, as in Lucid) and a sigmoid.

- ``pixel`` (the paper's): one free value per pixel, frame and colour, initialized N(0, 0.01²).
- ``fourier``: a spatiotemporal real FFT spectrum over (t, y, x) whose amplitudes are scaled by
  1 / max(|f|, f_min)^slope, with |f| the norm of the (cycles/frame, cycles/px, cycles/px)
  frequency vector; this preconditions the optimizer toward the 1/f statistics of natural video,
  so coarse structure moves first.

Every batch element is initialized from its own seed, so an element's start does not depend on
what else shares the batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch

PARAMS = ("pixel", "fourier")

LUCID_COLOR_SQRT_COV = ((0.26, 0.09, 0.02), (0.27, 0.00, -0.05), (0.27, -0.09, 0.03))
"""Lucid's sqrt colour correlation of ImageNet (rows: R, G, B)."""

INIT_STD = 0.01
MAX_SPECTRAL_SLOPE = 1.5
"""The steepest amplitude slope the fourier parameterization accepts. Natural video has ~1; the synthetic
clip set measures ~3.5 (smooth textures and gratings), and preconditioning with that scales the Nyquist
bins of a 48 px clip down by ~24^3.5 ≈ 6·10⁴: only blobs can change, and kernels that need fine structure
collapse (demo conv3 kernel 2 ended at −0.91 where a grating reaches +0.48). Steeper slopes are clamped."""
FOURIER_OUTPUT_DIVISOR = 4.0
"""Keeps the initial fourier clip's pixel spread near the pixel parameterization's (Lucid uses 4)."""


@dataclass
class VideoParam:
    """``tensor`` is the leaf the optimizer updates; ``video()`` renders it to (N, 3, T, H, W) in [0, 1]."""

    tensor: torch.Tensor
    render: Callable[[torch.Tensor], torch.Tensor]
    kind: str

    def video(self) -> torch.Tensor:
        return self.render(self.tensor)


def color_decorrelation_matrix(color_sqrt_cov: Sequence[Sequence[float]] | np.ndarray | None = None) -> torch.Tensor:
    """(3, 3) float32: the sqrt colour covariance divided by its largest column norm."""
    matrix = np.asarray(color_sqrt_cov if color_sqrt_cov is not None else LUCID_COLOR_SQRT_COV, dtype=np.float64)
    if matrix.shape != (3, 3) or not np.isfinite(matrix).all():
        raise ValueError(f"colour sqrt covariance must be a finite 3×3 matrix, got shape {matrix.shape}")
    largest_column_norm = np.linalg.norm(matrix, axis=0).max()
    if largest_column_norm <= 0:
        raise ValueError("colour sqrt covariance is all zeros")
    return torch.from_numpy(matrix / largest_column_norm).float()


def decorrelated_to_rgb01(x: torch.Tensor, color_matrix: torch.Tensor) -> torch.Tensor:
    """Decorrelated-colour video (N, 3, T, H, W) -> RGB in [0, 1]: mix channels (rgb = M · x), then sigmoid."""
    return torch.sigmoid(torch.einsum("dc,nc...->nd...", color_matrix.to(x), x))


def spectrum_scale(frames: int, height: int, width: int, slope: float = 1.0) -> torch.Tensor:
    """Amplitude scale (T, H, W//2+1) of the rFFT bins: 1 / max(|f|, 1/max(T, H, W))^slope."""
    ft = np.fft.fftfreq(frames)[:, None, None]
    fy = np.fft.fftfreq(height)[None, :, None]
    fx = np.fft.rfftfreq(width)[None, None, :]
    magnitude = np.sqrt(ft**2 + fy**2 + fx**2)
    return torch.from_numpy(1.0 / np.maximum(magnitude, 1.0 / max(frames, height, width)) ** slope).float()


def _seeded_normal(seeds: Sequence[int], shape: tuple[int, ...]) -> torch.Tensor:
    # One CPU generator per element: the same (seed, kernel, restart) gives the same start on any
    # device and in any batch.
    draws = [torch.randn(shape, generator=torch.Generator().manual_seed(int(seed))) for seed in seeds]
    return torch.stack(draws) * INIT_STD


START_CLIP_MARGIN = 1e-4
"""A start clip (:func:`make_param`'s ``start``) is clamped to [m, 1 − m]: the sigmoid never reaches 0 or 1."""


def _decorrelated_start(start: torch.Tensor, color_matrix: torch.Tensor) -> torch.Tensor:
    """The decorrelated-colour values x with sigmoid(M · x) = ``start`` (N, 3, T, H, W) (clamped into the sigmoid's range)."""
    logits = torch.logit(start.float().clamp(START_CLIP_MARGIN, 1 - START_CLIP_MARGIN))
    return torch.einsum("dc,nc...->nd...", torch.linalg.inv(color_matrix.double()).float().to(logits), logits)


def make_param(kind: str, seeds: Sequence[int], frames: int, size: int | tuple[int, int],
               device: torch.device | str = "cpu", color_sqrt_cov=None, spectral_slope: float = 1.0,
               start: torch.Tensor | None = None) -> VideoParam:
    """A trainable clip batch of ``len(seeds)`` elements, ``frames`` × H × W (``size`` is a square
    side or (H, W)). ``start``: clips (N, 3, T, H, W) in [0, 1] the elements start from instead of their seeded
    noise (e.g. a reference stimulus; rendered back within :data:`START_CLIP_MARGIN`)."""
    height, width = (int(size), int(size)) if isinstance(size, int) else (int(size[0]), int(size[1]))
    color_matrix = color_decorrelation_matrix(color_sqrt_cov).to(device)
    if start is not None and tuple(start.shape) != (len(seeds), 3, frames, height, width):
        raise ValueError(f"start clips of shape {tuple(start.shape)}; expected {(len(seeds), 3, frames, height, width)}")
    if kind == "pixel":
        tensor = (_decorrelated_start(start.to(device), color_matrix) if start is not None
                  else _seeded_normal(seeds, (3, frames, height, width)).to(device)).requires_grad_(True)
        return VideoParam(tensor, lambda pixels: decorrelated_to_rgb01(pixels, color_matrix), kind)
    if kind == "fourier":
        scale = spectrum_scale(frames, height, width, min(spectral_slope, MAX_SPECTRAL_SLOPE)).to(device)
        if start is not None:
            x = _decorrelated_start(start.to(device), color_matrix) * FOURIER_OUTPUT_DIVISOR
            spectrum = torch.fft.rfftn(x, dim=(-3, -2, -1), norm="ortho") / scale
            tensor = torch.view_as_real(spectrum).contiguous().requires_grad_(True)
        else:
            tensor = _seeded_normal(seeds, (3, frames, height, width // 2 + 1, 2)).to(device).requires_grad_(True)

        def render(spectrum: torch.Tensor) -> torch.Tensor:
            complex_spectrum = torch.view_as_complex(spectrum) * scale
            x = torch.fft.irfftn(complex_spectrum, s=(frames, height, width), dim=(-3, -2, -1), norm="ortho")
            return decorrelated_to_rgb01(x / FOURIER_OUTPUT_DIVISOR, color_matrix)

        return VideoParam(tensor, render, kind)
    raise ValueError(f"unknown parameterization {kind!r}; choose from {', '.join(PARAMS)}")
