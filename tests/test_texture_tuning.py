"""Texture-conditioned tuning (issue 24 item 1): known answers on planted kernels."""

import json
import math

import numpy as np
import pytest
import torch
import torch.nn as nn

from kernelvis.analysis.texture_tuning import (TextureProbe, TextureTuningConfig, TranslatedTexture, near_peaks_deg,
                                               periodic_component, probes_for_kernel, save_texture_tuning,
                                               smoothed_curve, summarize_texture_tuning, texture_agrees,
                                               texture_tuning)
from kernelvis.geometry import angular_difference_deg
from kernelvis.models.loaded import LoadedModel
from kernelvis.models.planted import PlantedUnit, _Square, planted_model
from kernelvis.models.preprocessing import Preprocessing

ARBITRARY_DIRECTIONS = (37.0, 143.0, 251.0, 322.0)  # none a multiple of 15°
SF = 0.25  # cycles/px; with TF 0.25 cycles/frame the planted speed is 1 px/frame
SIZE, FRAMES = 24, 8
CONFIG = TextureTuningConfig(directions=16)


def grating_texture(direction_deg: float, spatial_freq: float = SF, size: int = SIZE) -> np.ndarray:
    """Stripes whose normal points along ``direction_deg`` (the texture a drift unit wants), [H, W, 3]."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float64)
    theta = math.radians(direction_deg)
    along = x * math.cos(theta) - y * math.sin(theta)
    image = 0.5 + 0.4 * np.cos(2 * math.pi * spatial_freq * along)
    return np.repeat(image[..., None], 3, axis=-1).astype(np.float32)


@pytest.fixture(scope="module")
def planted():
    units = [PlantedUnit("drift", d, SF, SF) for d in ARBITRARY_DIRECTIONS]
    return planted_model(units, frames=FRAMES, size=SIZE, kernel_frames=5, kernel_size=9)


def _probes(speed=1.0, visualized=None):
    return [TextureProbe(k, grating_texture(d), FRAMES, speed, d if visualized is None else visualized(d))
            for k, d in enumerate(ARBITRARY_DIRECTIONS)]


def test_periodic_component_tiles_without_seams_and_keeps_the_texture():
    y, x = np.mgrid[0:20, 0:30].astype(np.float64)
    ramp = np.stack([x / 30, y / 20, 0.5 + 0.3 * np.cos(2 * np.pi * 0.2 * x)], axis=-1)
    periodic = periodic_component(ramp)
    assert np.allclose(periodic.mean(axis=(0, 1)), ramp.mean(axis=(0, 1)))
    # the ramp's wrap-around jump (about 1) is gone
    wrap_jump = np.abs(periodic[:, 0, 0] - periodic[:, -1, 0]).max()
    assert np.abs(ramp[:, 0, 0] - ramp[:, -1, 0]).max() > 0.9 and wrap_jump < 0.1
    # what was taken out is smooth: the cosine's pixel-to-pixel structure is all kept
    smooth = ramp[..., 2] - periodic[..., 2]
    assert np.abs(np.diff(smooth, axis=1)).max() < 0.05 < np.abs(np.diff(ramp[..., 2], axis=1)).max()
    assert np.allclose(periodic_component(ramp[..., 2]), periodic[..., 2])
    assert np.allclose(periodic_component(np.full((8, 9), 0.3)), 0.3)


def test_translation_is_exact_and_follows_the_angle_convention():
    rng = np.random.default_rng(0)
    source = TranslatedTexture(rng.uniform(0.2, 0.8, (16, 20, 3)))
    periodic = np.clip(source.periodic, 0, 1)
    right = source.moving(3, 0.0, 1.0)
    up = source.moving(3, 90.0, 2.0)
    assert right.dtype == np.float32 and right.shape == (3, 16, 20, 3)
    assert np.allclose(right[0], periodic, atol=1e-6)
    assert np.allclose(right[2], np.roll(periodic, 2, axis=1), atol=1e-5)  # content moves right (x grows)
    assert np.allclose(up[1], np.roll(periodic, -2, axis=0), atol=1e-5)  # up = toward row 0
    x = np.arange(20, dtype=np.float64)
    wave = np.broadcast_to((0.5 + 0.3 * np.cos(2 * np.pi * 3 / 20 * x))[None, :, None], (16, 20, 3))
    clip = TranslatedTexture(wave).moving(2, 180.0, 0.3)  # sub-pixel, to the left: u(x + 0.3)
    phase = np.angle(np.fft.fft(clip[:, :, :, 0].astype(np.float64), axis=2)[:, :, 3])  # [T, rows]
    assert np.allclose(phase[1] - phase[0], 2 * np.pi * 3 / 20 * 0.3, atol=1e-4)


def test_planted_drift_unit_prefers_its_direction_for_its_texture(planted):
    results = texture_tuning(planted, "energy", _probes(), CONFIG)
    for result, direction in zip(results, ARBITRARY_DIRECTIONS):
        assert angular_difference_deg(result.preferred_direction_deg, direction) < 20, (direction, result.preferred_direction_deg)
        assert result.dsi > 0.8
        assert result.agrees is True and result.best_speed_factor == 1.0
        assert result.speed_clamped is False and result.reference_speed_px_per_frame == 1.0
        assert result.peak_response > 10 * max(result.static_response, 1e-6)
        record = result.record()
        assert record["texture_agrees"] is True and record["texture_dsi"] == result.dsi
    wrong = texture_tuning(planted, "energy", _probes(visualized=lambda d: d + 180.0), CONFIG)
    assert all(result.agrees is False for result in wrong)


def test_aperture_stripes_too_fast_along_their_normal_are_not_where_the_kernel_wants_them(planted):
    """Stripes at 2 px/frame for a unit that wants 1 px/frame normal to them: the kernel would rather have
    them move 60° either side of the normal (normal speed 2 cos 60° = 1) than along it, so a visualization
    showing them moving along the normal that fast does not agree; at half that speed it would."""
    probes = _probes(speed=2.0)
    for result, direction in zip(texture_tuning(planted, "energy", probes, CONFIG), ARBITRARY_DIRECTIONS):
        lobe_error = min(angular_difference_deg(result.preferred_direction_deg, direction + 60),
                         angular_difference_deg(result.preferred_direction_deg, direction - 60))
        assert lobe_error < 20, (direction, result.peak_directions_deg)
        assert result.agrees is False and result.angular_error_deg > 30
        assert result.best_speed_factor == 0.5 and result.best_speed_px_per_frame == 1.0
        assert angular_difference_deg(result.best_speed_direction_deg, direction) < 20


class _IsotropicEnergy(nn.Module):
    """Temporal difference of an isotropic Gaussian blob, squared: motion in every direction alike."""

    def __init__(self):
        super().__init__()
        y, x = np.mgrid[-3:4, -3:4].astype(np.float64)
        blob = np.exp(-(x ** 2 + y ** 2) / (2 * 1.5 ** 2))
        weight = np.stack([-blob, blob])[None, None] / 3.0  # [1, 1, 2, 7, 7]
        self.conv = nn.Conv3d(3, 1, (2, 7, 7), bias=False)
        self.square = _Square()
        with torch.no_grad():
            self.conv.weight.copy_(torch.from_numpy(weight).float().expand(1, 3, -1, -1, -1))

    def forward(self, x):
        return self.square(self.conv(x))


def test_isotropic_kernel_on_noise_has_low_dsi():
    model = LoadedModel(name="isotropic", module=_IsotropicEnergy(), preprocessing=Preprocessing(frames=FRAMES, size=SIZE))
    texture = np.random.default_rng(3).uniform(0.1, 0.9, (SIZE, SIZE, 3)).astype(np.float32)
    (result,) = texture_tuning(model, "square", [TextureProbe(0, texture, FRAMES, 1.0, 45.0)], CONFIG)
    assert result.dsi < 0.25 and result.vector_strength < 0.1, (result.dsi, result.vector_strength)
    assert result.peak_response > 0
    assert result.best_speed_factor == 2.0  # a temporal difference: faster is more change


def test_static_optimum_is_probed_at_the_minimum_speed_and_recorded(planted):
    texture = grating_texture(ARBITRARY_DIRECTIONS[0])
    probes = [TextureProbe(0, texture, FRAMES, 0.0, None), TextureProbe(0, texture, FRAMES, None, 12.0),
              TextureProbe(0, texture, FRAMES, float("nan"), float("nan"))]
    for result in texture_tuning(planted, "energy", probes, CONFIG):
        assert result.speed_clamped is True
        assert result.reference_speed_px_per_frame == CONFIG.min_speed_px_per_frame
        assert np.isfinite(result.responses).all()
        record = result.record()
        json.dumps(record, allow_nan=False)
        json.dumps(result.curve(), allow_nan=False)
        assert record["texture_speed_clamped"] is True
        assert all(value is None or isinstance(value, (int, float, str, bool)) for value in record.values())
    assert texture_tuning(planted, "energy", probes[:1], CONFIG)[0].agrees is None
    assert texture_tuning(planted, "energy", probes[2:], CONFIG)[0].record()["texture_angular_error_deg"] is None


def test_a_kernel_that_never_responds_gets_no_direction():
    class Silent(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Identity()

        def forward(self, x):
            return self.conv(torch.zeros_like(x[:, :1]))

    model = LoadedModel(name="silent", module=Silent(), preprocessing=Preprocessing(frames=FRAMES, size=SIZE))
    (result,) = texture_tuning(model, "conv", [TextureProbe(0, grating_texture(10.0), FRAMES, 1.0, 10.0)], CONFIG)
    assert result.preferred_direction_deg is None and result.dsi == 0.0 and result.agrees is None
    assert result.peak_directions_deg == [] and result.vector_average_deg is None
    json.dumps(result.record(), allow_nan=False)


def test_deterministic_and_independent_of_the_batch(planted):
    probes = _probes()
    first = texture_tuning(planted, "energy", probes, CONFIG)
    again = texture_tuning(planted, "energy", probes, CONFIG)
    for a, b in zip(first, again):
        assert np.array_equal(a.responses, b.responses) and a.record() == b.record()
    # kernel 2 alone, with its own objective, in batches that do not line up with the shared run's
    alone = texture_tuning(planted, "energy", [probes[2]], TextureTuningConfig(directions=16, batch_size=7))[0]
    np.testing.assert_allclose(alone.responses, first[2].responses, rtol=1e-5, atol=1e-6)
    assert alone.preferred_direction_deg == first[2].preferred_direction_deg
    # different objectives for different kernels of one batch: each is read with its own
    mixed = [TextureProbe(p.kernel, p.texture, p.frames, 1.0, p.visualized_direction_deg, objective)
             for p, objective in zip(probes, ("channel", "neuron", "channel", "rectified"))]
    neuron = texture_tuning(planted, "energy", [mixed[1]], CONFIG)[0]
    np.testing.assert_allclose(texture_tuning(planted, "energy", mixed, CONFIG)[1].responses, neuron.responses,
                               rtol=1e-5, atol=1e-6)


def test_texture_agrees():
    assert texture_agrees(10.0, 350.0) is True
    assert texture_agrees(10.0, 320.0) is False
    assert texture_agrees(10.0, [200.0, 35.0]) is True
    assert texture_agrees(10.0, 45.0, tolerance_deg=40) is True
    assert texture_agrees(None, 10.0) is None and texture_agrees(10.0, None) is None
    assert texture_agrees(float("nan"), 10.0) is None and texture_agrees(10.0, []) is None


def test_smoothed_curve_keeps_two_lobes_and_finds_an_off_grid_peak():
    directions = np.arange(16) * 22.5
    one = np.exp(np.cos(np.radians(directions - 37.0)) * 3)
    fine, values = smoothed_curve(directions, one)
    assert abs(fine[np.argmax(values)] - 37.0) <= 2.0
    two = one + np.exp(np.cos(np.radians(directions - 157.0)) * 3)
    peaks = near_peaks_deg(directions, two, 0.9)
    assert len(peaks) == 2 and min(abs(p - 37) for p in peaks) < 5 and min(abs(p - 157) for p in peaks) < 5


def test_probes_for_kernel_and_save(tmp_path, planted):
    from types import SimpleNamespace

    texture = grating_texture(37.0)
    velocity = np.zeros((FRAMES, SIZE, SIZE, 2), np.float32)
    velocity[1:, ..., 0], velocity[1:, ..., 1] = math.cos(math.radians(37)), -math.sin(math.radians(37))
    source = TranslatedTexture(texture)
    video = source.moving(FRAMES, 37.0, 1.0)
    decomposition = SimpleNamespace(static=texture, velocity=velocity)
    refined = {"static": texture, "velocity": velocity * 2}
    probes = probes_for_kernel(0, video, decomposition, refined, objective="channel")
    assert [p.label for p in probes] == ["stage2", "refined"]
    assert abs(probes[0].visualized_direction_deg - 37.0) < 1e-3 and abs(probes[0].visualized_speed_px_per_frame - 1) < 1e-3
    assert abs(probes[1].visualized_speed_px_per_frame - 2.0) < 1e-3
    results = texture_tuning(planted, "energy", probes, CONFIG)
    scalars = save_texture_tuning(results, tmp_path, "planted", "energy")
    assert scalars["texture_agrees"] is True and "refined_texture_preferred_direction_deg" in scalars
    saved = json.loads((tmp_path / "texture_tuning.json").read_text())
    assert set(saved["curves"]) == {"stage2", "refined"} and len(saved["curves"]["stage2"]["responses"]) == 3
    lines = (tmp_path / "texture_tuning.csv").read_text().splitlines()
    assert lines[0].startswith("kernel,texture,direction_deg") and len(lines) == 1 + 2 * 3 * 16


def test_polar_plot_overlays_the_texture_curves(tmp_path, planted):
    from kernelvis.analysis.tuning import TuningConfig, tune_kernels
    from kernelvis.render.tuning_plot import polar_tuning_figure, texture_curve_entries, write_polar_tuning

    (tuning,) = tune_kernels(planted, "energy", [0], TuningConfig(spatial_freqs=(SF,), temporal_freqs=(SF,),
                                                                  dot_speeds_px_per_frame=(), plaid_freqs=()))
    probes = [TextureProbe(0, grating_texture(37.0), FRAMES, 1.0, 37.0),
              TextureProbe(0, grating_texture(37.0), FRAMES, 2.0, 97.0, label="refined")]
    results = texture_tuning(planted, "energy", probes, CONFIG)
    save_texture_tuning(results, tmp_path, "planted", "energy")
    record = json.loads((tmp_path / "texture_tuning.json").read_text())
    from_objects, from_json = texture_curve_entries(results), texture_curve_entries(record)
    assert [e["label"] for e in from_json] == ["stage2", "refined"]
    for a, b in zip(from_objects, from_json):
        np.testing.assert_allclose(a["curve"], b["curve"])
        assert a["preferred_direction_deg"] == b["preferred_direction_deg"]
    figure = polar_tuning_figure(tuning.directions_deg, tuning.best_curve, tuning.preferred_direction_deg, tuning.dsi,
                                 texture_curves=from_json)
    labels = [text.get_text() for text in figure.axes[0].get_legend().get_texts()]
    assert any(label.startswith("own texture") and "DSI" in label for label in labels)
    assert any(label.startswith("refined texture") for label in labels)
    import matplotlib.pyplot as plt
    plt.close(figure)
    assert write_polar_tuning(tmp_path / "tuning_polar.png", tuning, texture_tuning=record)[0].is_file()
    assert write_polar_tuning(tmp_path / "plain.png", tuning)[0].is_file()  # existing callers unchanged


def test_probes_from_the_stage_files(tmp_path):
    from kernelvis.analysis.texture_tuning import probes_from_files
    from kernelvis.decompose.fit import decompose_video
    from kernelvis.decompose.save import save_decomposition

    noise = np.random.default_rng(5).normal(size=(SIZE, SIZE, 3))
    k = np.hypot(*np.meshgrid(np.fft.fftfreq(SIZE), np.fft.fftfreq(SIZE)))
    blurred = np.real(np.fft.ifft2(np.fft.fft2(noise, axes=(0, 1)) * np.exp(-(k / 0.12) ** 2)[..., None], axes=(0, 1)))
    texture = 0.5 + 0.25 * blurred / blurred.std()  # smooth noise: its motion is unambiguous to stage 2
    video = TranslatedTexture(np.clip(texture, 0, 1)).moving(FRAMES, 37.0, 1.0)
    np.savez(tmp_path / "optimal.npz", video=video, kernel=np.int64(3), objective=np.str_("rectified"))
    save_decomposition(decompose_video(video), tmp_path, {})
    velocity = np.zeros((FRAMES, SIZE, SIZE, 2), np.float32)
    velocity[1:, ..., 1] = -0.5  # up
    np.savez(tmp_path / "refined.npz", static=video[0], velocity=velocity)
    stage2, refined = probes_from_files(tmp_path / "optimal.npz", tmp_path / "decomposition.npz", tmp_path / "refined.npz")
    assert (stage2.kernel, stage2.objective, stage2.label, stage2.frames) == (3, "rectified", "stage2", FRAMES)
    assert angular_difference_deg(stage2.visualized_direction_deg, 37.0) < 10
    assert refined.label == "refined" and abs(refined.visualized_direction_deg - 90.0) < 1e-6
    assert abs(refined.visualized_speed_px_per_frame - 0.5) < 1e-6
    assert [p.label for p in probes_from_files(tmp_path / "optimal.npz", tmp_path / "missing.npz")] == []


def _responses_for(curve_at_reference, baseline=0.0, static=0.0, config=CONFIG):
    """Raw responses in the probe's stimulus order with ``curve_at_reference`` at every speed."""
    curve = np.asarray(curve_at_reference, dtype=np.float64)
    return np.concatenate([[baseline, static], np.tile(curve, len(config.speed_factors))])


# The demo network's conv1 kernel 1 (a whole-layer run): its stage-2 texture moved in 16 directions at the
# visualized speed (2.31 px/frame); baseline 0.103; the optimal input moves at 47.8° (its texture's stripe normal).
FLAT_TOPPED = (2.361, 2.339, 2.326, 2.268, 2.174, 1.666, 1.057, 0.705, 0.766, 0.880, 0.847, 0.718, 0.823, 1.262,
               1.837, 2.190)


def test_a_flat_topped_curve_agrees_where_the_visualized_direction_is_on_its_plateau():
    """Stripes moving along their normal a little faster than the kernel's normal speed: a flat top from 0° to
    90° whose arg-max (0°) is chance, 48° from the normal the optimal input moves along, which still gets 99 % of
    the peak: the verdict says yes, the peak alone no. The same curve shown moving at 150° (a dip to about half)
    is a disagreement."""
    curve = _responses_for(FLAT_TOPPED, baseline=0.103)
    shown = summarize_texture_tuning(TextureProbe(1, grating_texture(48.0), FRAMES, 2.31, 47.8, optimal_activation=4.45),
                                     curve, CONFIG)
    assert angular_difference_deg(shown.preferred_direction_deg, 47.8) > 30 and shown.peak_agrees is False
    assert shown.visualized_fraction > 0.95 and shown.agrees is True and shown.measurable is True
    record = shown.record()
    assert record["texture_agrees"] is True and record["texture_peak_agrees"] is False
    assert record["texture_visualized_fraction"] == pytest.approx(shown.visualized_fraction)
    wrong = summarize_texture_tuning(TextureProbe(1, grating_texture(48.0), FRAMES, 2.31, 150.0), curve, CONFIG)
    assert wrong.visualized_fraction < CONFIG.plateau_fraction and wrong.agrees is False
    assert CONFIG.plateau_fraction == pytest.approx((1 + math.cos(math.radians(30))) / 2)


def test_a_curve_without_measurable_modulation_has_no_verdict():
    """A texture that, moving any way, changes the response by 0.1 % of the kernel's optimum: its DSI is a ratio
    of rounding errors, so no verdict; the same curve scaled up to 20 % of the optimum has one."""
    wiggle = 0.001 * np.cos(np.radians(np.arange(CONFIG.directions) * 360.0 / CONFIG.directions - 200.0))
    tiny = TextureProbe(0, grating_texture(10.0), FRAMES, 1.0, 10.0, optimal_activation=5.0)
    flat = summarize_texture_tuning(tiny, _responses_for(1.0 + wiggle, baseline=1.0), CONFIG)
    assert flat.dsi > 0.3 and flat.measurable is False and flat.modulation < CONFIG.min_modulation
    assert flat.agrees is None and flat.peak_agrees is None and flat.record()["texture_agrees"] is None
    strong = summarize_texture_tuning(tiny, _responses_for(1.0 + 1000 * wiggle, baseline=1.0), CONFIG)
    assert strong.measurable is True and strong.modulation == pytest.approx(0.2, rel=0.01)
    assert strong.agrees is False  # the curve peaks at 200°, the visualization says 10°
    assert strong.drive == pytest.approx(2.0 / 5.0, rel=0.01)
    unknown = TextureProbe(0, grating_texture(10.0), FRAMES, 1.0, 10.0)  # no optimal activation: not checked
    assert summarize_texture_tuning(unknown, _responses_for(1.0 + wiggle, baseline=1.0), CONFIG).measurable is True


def test_a_texture_that_no_motion_excites_has_no_verdict():
    """The channel mean can stay below zero whichever way the texture moves (demo conv3 kernel 0 of a whole-layer
    run: the best direction gives -3 times the optimum). Above the baseline the curve still has a clear peak, but
    it is the direction that inhibits the kernel least, not where the kernel wants the texture to move: no
    verdict, recorded as not excited. Lifted above zero, the same curve gets its verdict."""
    lobe = np.cos(np.radians(np.arange(CONFIG.directions) * 360.0 / CONFIG.directions - 200.0))
    probe = TextureProbe(0, grating_texture(10.0), FRAMES, 1.0, 10.0, optimal_activation=5.0)
    inhibited = summarize_texture_tuning(probe, _responses_for(-3.0 + lobe, baseline=-4.5), CONFIG)
    assert inhibited.dsi > 0.3 and inhibited.modulation > CONFIG.min_modulation and inhibited.peak_response < 0
    assert inhibited.excited is False and inhibited.measurable is False and inhibited.agrees is None
    record = inhibited.record()
    assert record["texture_excited"] is False and record["texture_agrees"] is None
    assert inhibited.preferred_direction_deg == pytest.approx(200.0, abs=1.0)  # the curve is still recorded
    excited = summarize_texture_tuning(probe, _responses_for(1.5 + lobe, baseline=0.0), CONFIG)
    assert excited.excited is True and excited.measurable is True and excited.agrees is False
    rectified_zero = summarize_texture_tuning(probe, _responses_for(np.zeros(CONFIG.directions)), CONFIG)
    assert rectified_zero.excited is False and rectified_zero.agrees is None


def test_the_panel_says_whether_the_motion_fits_and_how_much_of_the_texture_best_it_gets():
    from kernelvis.render.panels import _facts_text

    assert "motion fits yes 99%" in " ".join(_facts_text({"texture_agrees": True,
                                                          "texture_visualized_fraction": 0.99}).split())
    assert "motion fits NO 47%" in " ".join(_facts_text({"texture_agrees": False,
                                                         "texture_visualized_fraction": 0.47}).split())
    assert "motion fits n/a" in " ".join(_facts_text({"texture_agrees": None, "texture_measurable": False}).split())
    assert "motion fits n/a, inhibits" in " ".join(_facts_text({"texture_agrees": None, "texture_measurable": False,
                                                                "texture_excited": False}).split())
    assert "motion fits" not in _facts_text({"activation": 1.0})
