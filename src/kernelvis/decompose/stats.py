"""Scalars that summarize a decomposition (the ``summary.json`` keys of stage 2)."""

from __future__ import annotations

import numpy as np

from kernelvis.decompose.fit import Decomposition
from kernelvis.geometry import summarize_direction

INTERIOR_FRACTION = 0.1
"""Share of the frame size left out on every side: near borders content enters and leaves, and the
flow there is filled in by smoothness rather than measured."""
VARIATION_FLOOR = (0.5 / 255.0) ** 2
"""Per-value squared temporal variation below half a grey level counts as none (motion_index = 0)."""
PSNR_CAP_DB = 100.0


def interior_mask(height: int, width: int) -> np.ndarray:
    """[H, W] float 1 inside, 0 within ``INTERIOR_FRACTION`` of the frame size from a border (>= 1 px)."""
    border_y = max(1, int(round(INTERIOR_FRACTION * height)))
    border_x = max(1, int(round(INTERIOR_FRACTION * width)))
    mask = np.zeros((height, width), dtype=np.float64)
    mask[border_y:height - border_y, border_x:width - border_x] = 1.0
    return mask


def texture_contrast(video: np.ndarray) -> np.ndarray:
    """[T, H, W] spatial gradient magnitude of each frame (mean over colour channels): motion is only
    measurable where the frame has structure, so this weights the pixels of the direction summary."""
    grey = np.asarray(video, dtype=np.float64).mean(axis=-1)
    d_rows, d_cols = np.gradient(grey, axis=(1, 2))
    return np.hypot(d_rows, d_cols)


def motion_weights(video: np.ndarray) -> np.ndarray:
    """[T, H, W] weights of the velocity summary: interior pixels, weighted by texture contrast; frame 0
    (no velocity by definition) gets 0."""
    weights = texture_contrast(video) * interior_mask(*video.shape[1:3])
    weights[0] = 0.0
    return weights


def recon_psnr_db(video: np.ndarray, recon: np.ndarray) -> float:
    """PSNR of the reconstruction for values in [0, 1], capped at ``PSNR_CAP_DB`` for a perfect fit."""
    mse = float(np.mean((np.asarray(video, dtype=np.float64) - recon) ** 2))
    return PSNR_CAP_DB if mse <= 10 ** (-PSNR_CAP_DB / 10) else float(10 * np.log10(1.0 / mse))


def motion_index(video: np.ndarray, recon: np.ndarray) -> float:
    """Share of the video's temporal variation that the motion explains, in [0, 1].

    ``S = Σ_t ||V_t − V̄||²`` is the temporal variation (V̄ = the mean frame: the best a model with no
    motion can do). ``R = Σ_t ||V_t − W(I, D_t)||²`` is what the static image moved by the
    displacements leaves unexplained. ``motion_index = clip((S − R) / (S + F), 0, 1)`` with the floor
    ``F = VARIATION_FLOOR × (number of values)``, so a static clip (S ≈ 0) gives 0, a clip that is
    a moving texture gives ≈ 1, and change the warp cannot produce (flicker, contrast reversal, new
    content) lowers it.
    """
    video = np.asarray(video, dtype=np.float64)
    variation = float(((video - video.mean(axis=0, keepdims=True)) ** 2).sum())
    residual = float(((video - recon) ** 2).sum())
    floor = VARIATION_FLOOR * video.size
    return float(np.clip((variation - residual) / (variation + floor), 0.0, 1.0))


def motion_summary(video: np.ndarray, decomposition: Decomposition) -> dict:
    """``recon_psnr_db``, ``direction_deg``, ``direction_strength``, ``speed_px_per_frame`` (see
    :func:`kernelvis.geometry.summarize_direction`; pixels weighted by :func:`motion_weights`) and
    ``motion_index`` (:func:`motion_index`) of a video and its decomposition."""
    video = np.asarray(video, dtype=np.float32)
    direction = summarize_direction(decomposition.velocity, motion_weights(video))
    return {
        "recon_psnr_db": recon_psnr_db(video, decomposition.recon),
        "direction_deg": direction.direction_deg,
        "direction_strength": direction.direction_strength,
        "speed_px_per_frame": direction.speed_px_per_frame,
        "motion_index": motion_index(video, decomposition.recon),
    }
