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


def explained_variation(video: np.ndarray, recon: np.ndarray) -> float:
    """Share of the video's variation about its mean frame that ``recon`` explains, in [0, 1]
    (the ``motion_index`` of stage 2 before issue 16; kept for before/after comparisons).

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


def change_shares(video: np.ndarray, static: np.ndarray, recon_motion_only: np.ndarray,
                  recon_appearance_only: np.ndarray, recon: np.ndarray) -> dict:
    """How the clip's temporal change splits into motion, appearance change and residual.

    ``E_0 = Σ_t ||V_t − I||²`` is the temporal change (I = the static texture, i.e. the anchor frame's content).
    The fitted model with a component switched off leaves ``E_m = Σ||V − W(I, D)||²`` (motion only),
    ``E_a = Σ||V − A(I)||²`` (appearance only) and ``E_ma = Σ||V − A(W(I, D))||²`` (both).
    The shares are the Shapley values of this two-player game: each component gets its mean gain
    over both orders, ``motion = ½[(E_0 − E_m) + (E_a − E_ma)]``, ``appearance = ½[(E_0 − E_a) +
    (E_m − E_ma)]``, ``residual = E_ma``, all divided by E_0, so they sum to 1 and no component is
    favoured by coming first. Errors are first made monotone (``E_m, E_a ≤ E_0``, ``E_ma ≤ min(E_m,
    E_a)``: switching a component on never counts as hurting), so every share is in [0, 1].
    ``temporal_change`` is a property of the clip alone, not of the fit: the mean squared deviation
    from its mean frame. At or below ``VARIATION_FLOOR`` (half a grey level) the clip is static: all
    shares 0, ``static_clip`` true (a fit's own last-digit errors must not be read as change).
    """
    video = np.asarray(video, dtype=np.float64)
    static = np.broadcast_to(np.asarray(static, dtype=np.float64), video.shape)

    def error(model):
        return float(((video - model) ** 2).sum())

    temporal_change = float(((video - video.mean(axis=0, keepdims=True)) ** 2).mean())
    total = error(static)
    if temporal_change <= VARIATION_FLOOR or total <= 0:
        return {"motion_share": 0.0, "appearance_share": 0.0, "residual_share": 0.0,
                "temporal_change": float(temporal_change), "static_clip": True}
    motion_left = min(error(recon_motion_only), total)
    appearance_left = min(error(recon_appearance_only), total)
    both_left = min(error(recon), motion_left, appearance_left)
    motion = 0.5 * ((total - motion_left) + (appearance_left - both_left))
    appearance = 0.5 * ((total - appearance_left) + (motion_left - both_left))
    return {"motion_share": motion / total, "appearance_share": appearance / total,
            "residual_share": both_left / total, "temporal_change": float(temporal_change), "static_clip": False}


def decomposition_shares(video: np.ndarray, decomposition: Decomposition) -> dict:
    """:func:`change_shares` of a decomposition (one without an appearance part counts A as identity)."""
    motion_only = decomposition.recon_motion_only
    if motion_only is None:
        motion_only = decomposition.recon
    appearance_only = decomposition.recon_appearance_only
    if appearance_only is None:
        appearance_only = np.broadcast_to(decomposition.static, decomposition.recon.shape)
    return change_shares(video, decomposition.static, motion_only, appearance_only, decomposition.recon)


def gain_curve(decomposition: Decomposition) -> np.ndarray | None:
    """[T, 3] gain per frame and channel averaged over the control points (None without A)."""
    if decomposition.gain is None:
        return None
    return decomposition.gain.mean(axis=(1, 2))


def motion_summary(video: np.ndarray, decomposition: Decomposition) -> dict:
    """``recon_psnr_db``, ``direction_deg``, ``direction_strength``, ``speed_px_per_frame`` (see
    :func:`kernelvis.geometry.summarize_direction`; pixels weighted by :func:`motion_weights`), the
    change shares (:func:`change_shares`: ``motion_share``, ``appearance_share``, ``residual_share``,
    ``temporal_change``, ``static_clip``), ``motion_index`` (= ``motion_share`` since issue 16; it was
    :func:`explained_variation` of the texture+motion reconstruction before), ``decompose_start`` and
    ``anchor_frame`` (the frame the texture is anchored to)
    of a video and its decomposition."""
    video = np.asarray(video, dtype=np.float32)
    direction = summarize_direction(decomposition.velocity, motion_weights(video))
    shares = decomposition_shares(video, decomposition)
    return {
        "recon_psnr_db": recon_psnr_db(video, decomposition.recon),
        "direction_deg": direction.direction_deg,
        "direction_strength": direction.direction_strength,
        "speed_px_per_frame": direction.speed_px_per_frame,
        **shares,
        "motion_index": shares["motion_share"],
        "decompose_start": decomposition.start,
        "anchor_frame": int(decomposition.anchor_frame),
    }
