"""Stage 1 against ground truth: planted drifting-Gabor energy units.

The optimal input of a motion-energy unit is a full-field grating at the unit's spatial frequency,
orientation and temporal frequency, drifting in its direction. We check the optimized clip's 3D FFT
peak and drift direction, and that the activation reached is at least that of the best drifting
grating of a sweep (within 5 %).
"""

import numpy as np
import pytest
import torch

from kernelvis.data.synthetic import drifting_grating
from kernelvis.geometry import angular_difference_deg, direction_deg_of
from kernelvis.models.planted import PlantedUnit, planted_model
from kernelvis.models.activation import kernel_activation
from kernelvis.optimize.api import OptimizeConfig, optimize_kernels

FRAMES, SIZE = 16, 20
SPATIAL_FREQ, TEMPORAL_FREQ = 0.25, 0.125  # bins 5 (of 20) and 2 (of 16): exact FFT bins
DIRECTIONS_DEG = (30.0, 150.0, 270.0)


def dominant_frequency(video: np.ndarray) -> tuple[float, float, float]:
    """(spatial cyc/px, |temporal| cyc/frame, drift direction deg) of the luminance's strongest 3D FFT bin.

    A component exp(2πi(kx·x + ky·y + kt·t)) moves with velocity v = −kt·k/|k|² (x right, y down);
    the conjugate bin gives the same v, so the peak's sign ambiguity does not matter.
    """
    luminance = video.mean(axis=-1)
    power = np.abs(np.fft.fftn(luminance - luminance.mean())) ** 2
    t_index, y_index, x_index = np.unravel_index(np.argmax(power), power.shape)
    kt = np.fft.fftfreq(luminance.shape[0])[t_index]
    ky = np.fft.fftfreq(luminance.shape[1])[y_index]
    kx = np.fft.fftfreq(luminance.shape[2])[x_index]
    k_squared = kx**2 + ky**2
    vx, vy = -kt * kx / k_squared, -kt * ky / k_squared
    return float(np.sqrt(k_squared)), float(abs(kt)), float(direction_deg_of(vx, vy))


@pytest.fixture(scope="module")
def planted_results():
    units = [PlantedUnit("drift", direction, SPATIAL_FREQ, TEMPORAL_FREQ) for direction in DIRECTIONS_DEG]
    model = planted_model(units, frames=FRAMES, size=SIZE, kernel_frames=7, kernel_size=9)
    config = OptimizeConfig(steps=100, lr=0.1, early_stop_patience=None, seed=0)
    return model, optimize_kernels(model, "energy", list(range(len(units))), config)


def test_dominant_frequency_reads_a_known_grating():
    video = drifting_grating(FRAMES, SIZE, 150.0, SPATIAL_FREQ, TEMPORAL_FREQ).video
    spatial, temporal, direction = dominant_frequency(video)
    assert spatial == pytest.approx(SPATIAL_FREQ, abs=0.04)
    assert temporal == pytest.approx(TEMPORAL_FREQ)
    assert angular_difference_deg(direction, 150.0) < 15


@pytest.mark.parametrize("unit_index", range(len(DIRECTIONS_DEG)))
def test_optimal_input_is_the_planted_drifting_grating(planted_results, unit_index):
    _, results = planted_results
    spatial, temporal, direction = dominant_frequency(results[unit_index].video)
    assert spatial == pytest.approx(SPATIAL_FREQ, abs=1.0 / SIZE), "spatial frequency off by more than one bin"
    assert temporal == pytest.approx(TEMPORAL_FREQ, abs=1.0 / FRAMES), "temporal frequency off by more than one bin"
    assert angular_difference_deg(direction, DIRECTIONS_DEG[unit_index]) <= 15.0


def test_activation_beats_the_best_grating_of_a_sweep(planted_results):
    model, results = planted_results
    directions = np.arange(0.0, 360.0, 15.0)
    gratings = [drifting_grating(FRAMES, SIZE, d, sf, tf).video
                for d in directions for sf in (0.2, 0.25, 0.3) for tf in (0.0625, 0.125, 0.1875)]
    clips = torch.from_numpy(np.stack(gratings)).permute(0, 4, 1, 2, 3)
    with torch.no_grad():
        for result in results:
            best_grating = kernel_activation(model, "energy", clips, result.kernel).max().item()
            assert result.activation >= 0.95 * best_grating, (result.kernel, result.activation, best_grating)


def test_reported_activation_is_the_response_to_the_saved_clip(planted_results):
    model, results = planted_results
    for result in results:
        clip = torch.from_numpy(result.video).permute(3, 0, 1, 2)[None]
        with torch.no_grad():
            response = kernel_activation(model, "energy", clip, result.kernel).item()
        assert response == pytest.approx(result.activation, rel=1e-4)
        assert result.video.dtype == np.float32 and result.video.shape == (FRAMES, SIZE, SIZE, 3)
        assert 0.0 <= result.video.min() and result.video.max() <= 1.0
        assert result.history.shape == (100,)
