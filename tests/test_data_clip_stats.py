"""Clip statistics recover a planted colour covariance and a planted 1/f^a spectrum."""

import numpy as np
import pytest

from kernelvis.cli import main
from kernelvis.data.clip_stats import compute_clip_stats, load_clip_stats
from kernelvis.data.kinetics import ClipSet, save_clip_set
from kernelvis.errors import BadInputError

MIXING = np.array([[0.06, 0.02, 0.00], [0.05, 0.00, 0.015], [0.04, -0.02, 0.01]])
"""rgb = 0.5 + MIXING · z with white-variance channels z: Cov = MIXING MIXINGᵀ (no clipping at this scale)."""


def planted_clips(slope: float, count=6, frames=16, size=32, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ft, fy, fx = np.meshgrid(np.fft.fftfreq(frames), np.fft.fftfreq(size), np.fft.fftfreq(size), indexing="ij")
    magnitude = np.sqrt(ft ** 2 + fy ** 2 + fx ** 2)
    magnitude[0, 0, 0] = np.inf
    channels = np.real(np.fft.ifftn(np.fft.fftn(rng.standard_normal((count, 3, frames, size, size)), axes=(2, 3, 4))
                                    * magnitude ** -slope, axes=(2, 3, 4)))
    channels /= channels.std(axis=(0, 2, 3, 4), keepdims=True)
    rgb = 0.5 + np.einsum("dc,nc...->nd...", MIXING, channels)
    assert 0 < rgb.min() and rgb.max() < 1
    return np.moveaxis(rgb, 1, -1).astype(np.float32)


@pytest.mark.parametrize("slope", [0.0, 1.0, 1.6])
def test_spectral_slope_is_recovered(slope):
    stats = compute_clip_stats(planted_clips(slope))
    assert stats.spectral_slope == pytest.approx(slope, abs=0.15)
    assert stats.spectral_fit_r2 > 0.9 or slope == 0.0


def test_colour_covariance_and_its_square_root_are_recovered():
    stats = compute_clip_stats(planted_clips(1.0, seed=1))
    expected = MIXING @ MIXING.T
    assert np.allclose(stats.color_cov, expected, atol=0.08 * np.abs(expected).max())
    assert np.allclose(stats.color_sqrt_cov @ stats.color_sqrt_cov.T, stats.color_cov, atol=1e-10)
    assert np.allclose(stats.color_sqrt_cov, stats.color_sqrt_cov.T)
    assert np.allclose(stats.color_mean, 0.5, atol=0.02)


def test_clip_stats_command_round_trip(tmp_path):
    clips = np.round(planted_clips(1.2, count=3) * 255).astype(np.uint8)
    save_clip_set(ClipSet(clips, np.zeros(3, np.int64), ["all"], ["0", "1", "2"], []), tmp_path / "clips.npz")
    assert main(["clip-stats", str(tmp_path / "clips.npz"), "--out-file", str(tmp_path / "stats.json")]) == 0
    stats = load_clip_stats(tmp_path / "stats.json")
    assert stats.color_sqrt_cov.shape == (3, 3) and stats.spectral_slope == pytest.approx(1.2, abs=0.2)
    with pytest.raises(BadInputError, match="not found"):
        load_clip_stats(tmp_path / "missing.json")
