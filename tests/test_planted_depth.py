"""Planted truth at every layer type (issue 24 item 5): drifting-Gabor kernels at arbitrary directions
(not multiples of 15°) at a linear conv (``conv1``), after its ReLU (``relu1``) and two layers deep
(``conv2``): stage 1's optimal input drifts within 20° of the planted direction, and so does the peak of
the texture-conditioned tuning of stage 2's texture (at stage 2's visualized speed)."""

import numpy as np
import pytest
import torch

from kernelvis.analysis.texture_tuning import TextureTuningConfig, probes_for_kernel, texture_tuning
from kernelvis.decompose.fit import decompose_videos
from kernelvis.geometry import angular_difference_deg, direction_deg_of
from kernelvis.models.planted import DEPTH_LAYERS, PlantedUnit, depth_kernel, planted_depth_model
from kernelvis.optimize.api import OptimizeConfig, optimize_kernels

DIRECTIONS_DEG = (37.0, 200.0)
SPATIAL_FREQ = TEMPORAL_FREQ = 0.25  # 1 px/frame
FRAMES, SIZE = 12, 32


def drift_direction(video: np.ndarray) -> tuple[float, float]:
    """(direction deg, speed px/frame) of a clip's luminance from its 3D spectrum: a bin (kt, ky, kx) moves
    with v = −kt·k/|k|²; the unit velocities of the bins holding at least 20 % of the peak power are
    averaged, weighted by power (bins with kt = 0 stand still and do not vote)."""
    luminance = video.mean(axis=-1)
    power = np.abs(np.fft.fftn(luminance - luminance.mean())) ** 2
    kt = np.fft.fftfreq(luminance.shape[0])[:, None, None]
    ky = np.fft.fftfreq(luminance.shape[1])[None, :, None]
    kx = np.fft.fftfreq(luminance.shape[2])[None, None, :]
    k_squared = kx ** 2 + ky ** 2
    k_squared = np.where(k_squared > 0, k_squared, np.inf)
    vx, vy = -kt * kx / k_squared, -kt * ky / k_squared
    speed = np.hypot(vx, vy)
    weight = np.where(speed > 0, power, 0.0)
    weight = np.where(weight >= 0.2 * weight.max(), weight, 0.0)
    moving = np.where(speed > 0, speed, 1.0)
    direction = float(direction_deg_of((weight * vx / moving).sum(), (weight * vy / moving).sum()))
    return direction, float((weight * speed).sum() / weight.sum())


def test_drift_direction_reads_a_known_drift():
    from kernelvis.analysis.texture_tuning import TranslatedTexture

    y, x = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)
    texture = 0.5 + 0.3 * np.cos(2 * np.pi * (0.2 * x + 0.1 * y))
    clip = TranslatedTexture(np.repeat(texture[..., None], 3, -1)).moving(FRAMES, 123.0, 1.0)
    direction, _ = drift_direction(clip)
    # only the motion normal to the stripes is visible (aperture): normal of (0.2, 0.1) in y-down is -26.6°
    normal = float(direction_deg_of(0.2, 0.1))
    expected = normal if angular_difference_deg(normal, 123.0) < 90 else (normal + 180) % 360
    assert angular_difference_deg(direction, expected) < 5


@pytest.fixture(scope="module")
def depth_results():
    torch.manual_seed(0)
    units = [PlantedUnit("drift", d, SPATIAL_FREQ, TEMPORAL_FREQ) for d in DIRECTIONS_DEG]
    model = planted_depth_model(units, frames=FRAMES, size=SIZE, kernel_frames=5, kernel_size=9)
    results = {}
    for layer in DEPTH_LAYERS:
        kernels = [depth_kernel(layer, unit) for unit in range(len(units))]
        optimal = optimize_kernels(model, layer, kernels, OptimizeConfig(steps=50, restarts=1))
        decompositions = decompose_videos(np.stack([result.video for result in optimal]))
        probes = [probe for result, decomposition in zip(optimal, decompositions)
                  for probe in probes_for_kernel(result.kernel, result.video, decomposition, objective=result.objective)]
        tuned = texture_tuning(model, layer, probes, TextureTuningConfig(directions=16))
        results[layer] = list(zip(optimal, probes, tuned))
    return results


@pytest.mark.slow
@pytest.mark.parametrize("layer", DEPTH_LAYERS)
def test_planted_drift_is_recovered_at_every_layer_type(depth_results, layer):
    for (optimal, probe, tuned), planted in zip(depth_results[layer], DIRECTIONS_DEG):
        assert optimal.status == "ok"
        assert optimal.objective == ("rectified" if layer == "conv1" else "channel")
        direction, speed = drift_direction(optimal.video)
        assert angular_difference_deg(direction, planted) < 20, (layer, planted, direction)
        assert 0.5 < speed < 2.0
        assert angular_difference_deg(tuned.preferred_direction_deg, planted) < 20, (layer, planted, tuned.record())
        assert tuned.dsi > 0.5
        # the visualized motion (stage 2) is where the kernel wants its texture to move
        assert tuned.agrees is True, (layer, planted, probe.visualized_direction_deg, tuned.preferred_direction_deg)
