"""Reliance indices against planted kernels whose dependence on texture and motion is known."""

import math

import numpy as np
import pytest
import torch

from kernelvis.analysis.refine import render
from kernelvis.analysis.reliance import (RelianceActivations, neutral_textures, reliance_activations,
                                         reliance_indices, reliance_summary)
from kernelvis.data.synthetic import drifting_grating, smooth_noise_texture
from kernelvis.geometry import unit_velocity
from kernelvis.models.planted import PlantedUnit, planted_model
from kernelvis.render.reliance_plot import reliance_figure, reliance_table, write_reliance_plot

FRAMES, SIZE, MARGIN = 16, 32, 16
DIRECTION_DEG, SPATIAL_FREQ, TEMPORAL_FREQ = 30.0, 0.125, 0.125  # drift speed 1 px/frame
DRIFT, STATIC = 0, 1


@pytest.fixture(scope="module")
def model():
    units = [PlantedUnit("drift", DIRECTION_DEG, SPATIAL_FREQ, TEMPORAL_FREQ), PlantedUnit("static", DIRECTION_DEG, SPATIAL_FREQ)]
    return planted_model(units, frames=FRAMES, size=SIZE)


def grating_canvas(direction_deg=DIRECTION_DEG):
    return drifting_grating(1, SIZE + 2 * MARGIN, direction_deg, SPATIAL_FREQ, TEMPORAL_FREQ).video[0]


def translation(direction_deg, speed_px_per_frame):
    """D_t = -v t: the texture moves at v (V_t(p) = I(p - v t))."""
    vx, vy = unit_velocity(direction_deg)
    t = np.arange(FRAMES, dtype=np.float32)[:, None, None]
    displacement = np.zeros((FRAMES, SIZE, SIZE, 2), np.float32)
    displacement[..., 0], displacement[..., 1] = -vx * speed_px_per_frame * t, -vy * speed_px_per_frame * t
    return displacement


def indices_for(model, kernel, canvas, displacement):
    with torch.no_grad():
        video = render(torch.from_numpy(canvas), torch.from_numpy(displacement), MARGIN)[0].permute(1, 2, 3, 0).numpy()
    activations = reliance_activations(model, "energy", kernel, video, canvas, displacement, MARGIN)
    return activations, reliance_indices(activations)


def test_spatial_kernel_does_not_rely_on_motion(model):
    # Its optimal input: the still grating; and a moving noise texture as a decomposition it might get.
    for canvas, displacement in [(grating_canvas(), translation(0.0, 0.0)),
                                 (smooth_noise_texture(SIZE + 2 * MARGIN, seed=1), translation(120.0, 0.7))]:
        activations, indices = indices_for(model, STATIC, canvas, displacement)
        assert activations.recon > 10 * abs(activations.baseline)
        assert indices["motion_reliance"] < 0.2
        assert abs(indices["direction_reversal_drop"]) < 0.02
    # The grating's orientation and frequency matter: smooth noise moving the same way drives it far less.
    _, indices = indices_for(model, STATIC, grating_canvas(), translation(0.0, 0.0))
    assert indices["texture_reliance"] > 0.6


def test_drifting_kernel_relies_on_motion_and_its_direction(model):
    activations, indices = indices_for(model, DRIFT, grating_canvas(), translation(DIRECTION_DEG, 1.0))
    assert indices["motion_reliance"] > 0.6
    assert indices["direction_reversal_drop"] > 0.8
    assert indices["recon_fraction"] == pytest.approx(1.0, abs=1e-5)  # the optimal input is the reconstruction
    assert activations.reversed < 0.1 * activations.recon
    # The same grating moving the anti-preferred way: reversing it is what the kernel wants.
    _, indices = indices_for(model, DRIFT, grating_canvas(), translation(DIRECTION_DEG + 180.0, 1.0))
    assert indices["direction_reversal_drop"] < -0.8


def test_indices_follow_their_definitions():
    activations = RelianceActivations(optimal=12.0, recon=10.0, static=4.0, neutral_motion=7.0, reversed=3.0, baseline=2.0)
    indices = reliance_indices(activations)
    assert indices["motion_reliance"] == pytest.approx(1 - (4 - 2) / 8)
    assert indices["texture_reliance"] == pytest.approx(1 - (7 - 2) / 8)
    assert indices["direction_reversal_drop"] == pytest.approx(1 - (3 - 2) / 8)
    assert indices["recon_fraction"] == pytest.approx(8 / 10)
    clipped = reliance_indices(RelianceActivations(12.0, 10.0, 15.0, -5.0, 30.0, 2.0))
    assert (clipped["motion_reliance"], clipped["texture_reliance"], clipped["direction_reversal_drop"]) == (0.0, 1.0, -1.0)
    dead = reliance_summary(RelianceActivations(1.0, 2.0, 1.0, 1.0, 1.0, 2.0))
    assert all(math.isnan(dead[name]) for name in ("texture_reliance", "motion_reliance", "direction_reversal_drop"))
    assert dead["reliance_activation_static"] == 1.0


def test_neutral_textures_keep_mean_and_contrast_and_are_seeded():
    canvas = grating_canvas() * 0.5 + 0.2
    textures = neutral_textures(canvas, 3, seed=5)
    assert textures.shape == (3,) + canvas.shape
    np.testing.assert_allclose(textures.reshape(3, -1, 3).mean(1), np.broadcast_to(canvas.reshape(-1, 3).mean(0), (3, 3)), atol=0.02)
    np.testing.assert_allclose(textures.reshape(3, -1, 3).std(1), np.broadcast_to(canvas.reshape(-1, 3).std(0), (3, 3)), rtol=0.1)
    assert not np.allclose(textures[0], textures[1])
    np.testing.assert_array_equal(textures, neutral_textures(canvas, 3, seed=5))


def read_rows(csv_path):
    import csv

    with open(csv_path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_reliance_plot_from_summary_csv(tmp_path):
    csv_path = tmp_path / "summary.csv"
    csv_path.write_text("model,layer,kernel,texture_reliance,motion_reliance,direction_reversal_drop\n"
                        "m,conv1,2,0.1,0.9,0.8\nm,conv1,0,0.7,0.05,0.0\nm,conv1,1,,,\nm,conv2,0,0.5,0.5,0.5\n")
    labels, values, missing = reliance_table(read_rows(csv_path), layer="conv1")
    assert labels == ["0", "2"] and missing == ["1"]
    np.testing.assert_allclose(values, [[0.7, 0.05, 0.0], [0.1, 0.9, 0.8]])
    written = write_reliance_plot(csv_path, tmp_path / "figures" / "reliance_conv1.png", title="m conv1", layer="conv1")
    assert [path.suffix for path in written] == [".png", ".pdf"]
    assert all(path.stat().st_size > 1000 for path in written)
    # Without a layer: one row of panels per layer of the table.
    figure = reliance_figure(read_rows(csv_path), title="m")
    assert [axes.get_title(loc="left") for axes in figure.axes[::2][:2]] == ["conv1 (no response above baseline: kernel 1)", "conv2"]
