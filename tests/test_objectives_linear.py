"""Well-posed objectives on linear layers.

A single Conv3d holding a drifting Gabor, visualized at that conv (nothing nonlinear between the pixels and
the layer): the paper's channel mean is (sum of weights) × (mean input) + border terms, so it cannot see
the Gabor's direction. The default objective (``auto``) detects the linearity and maximizes the rectified
mean instead; the optimal input must then drift within 20° of the planted direction. The same kernel after a
ReLU (a nonlinear layer: ``auto`` keeps the paper's channel mean) must do the same.
"""

import numpy as np
import torch
import torch.nn as nn

from kernelvis.geometry import angular_difference_deg
from kernelvis.models.linearity import probe_kernels
from kernelvis.models.loaded import LoadedModel
from kernelvis.models.planted import PlantedUnit, gabor_pair
from kernelvis.models.preprocessing import Preprocessing
from kernelvis.optimize.api import OptimizeConfig, optimize_kernels

from test_optimize_planted import dominant_frequency

FRAMES, SIZE = 16, 20
SPATIAL_FREQ, TEMPORAL_FREQ = 0.25, 0.125
DIRECTIONS_DEG = (30.0, 120.0, 200.0, 315.0)


def linear_gabor_model(rectified_layer: bool) -> LoadedModel:
    """Conv3d (one even drifting Gabor per direction, no bias) [-> ReLU]; layers '0' (conv) and '1' (ReLU)."""
    units = [PlantedUnit("drift", direction, SPATIAL_FREQ, TEMPORAL_FREQ) for direction in DIRECTIONS_DEG]
    even = np.stack([gabor_pair(unit, 7, 9)[0] for unit in units])  # [K, 7, 9, 9]
    conv = nn.Conv3d(3, len(units), (7, 9, 9), bias=False)
    with torch.no_grad():
        conv.weight.copy_(torch.from_numpy(even)[:, None].expand(-1, 3, -1, -1, -1) / 3.0)
    module = nn.Sequential(conv, nn.ReLU()) if rectified_layer else nn.Sequential(conv)
    return LoadedModel("linear-gabor", module, Preprocessing(frames=FRAMES, size=SIZE))


def drift_errors(model: LoadedModel, layer: str, objective: str = "auto") -> tuple[list[float], list[str]]:
    config = OptimizeConfig(steps=120, lr=0.1, early_stop_patience=None, seed=0, objective=objective)
    results = optimize_kernels(model, layer, list(range(len(DIRECTIONS_DEG))), config)
    errors = [float(angular_difference_deg(dominant_frequency(result.video)[2], direction))
              for result, direction in zip(results, DIRECTIONS_DEG)]
    return errors, [result.objective for result in results]


def test_the_linearity_probe_tells_a_conv_from_its_relu():
    model = linear_gabor_model(rectified_layer=True)
    shape = (FRAMES, SIZE, SIZE)
    conv, relu = (probe_kernels(model.module, layer, [0], model.preprocessing, shape)[0] for layer in ("0", "1"))
    assert conv.affine and conv.superposition_error < 1e-5 and not conv.dead
    assert not relu.affine and relu.superposition_error > 1e-2


def test_linear_gabor_at_its_conv_drifts_in_the_planted_direction():
    errors, objectives = drift_errors(linear_gabor_model(rectified_layer=False), "0")
    assert set(objectives) == {"rectified"}
    assert max(errors) <= 20.0, errors


def test_linear_gabor_after_its_relu_drifts_in_the_planted_direction():
    errors, objectives = drift_errors(linear_gabor_model(rectified_layer=True), "1")
    assert set(objectives) == {"channel"}
    assert max(errors) <= 20.0, errors
