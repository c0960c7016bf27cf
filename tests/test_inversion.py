"""Network inversion for video: deeper layers give worse reconstructions; priors behave."""

import numpy as np
import pytest
import torch
from scipy.ndimage import gaussian_filter

from kernelvis.baselines.inversion import InversionConfig, alpha_prior, invert, invert_layers, psnr_db, total_variation
from kernelvis.models.demo import DEMO_PREPROCESSING, build_demo_model
from kernelvis.models.loaded import LoadedModel


def smooth_translating_clip(frames=8, size=24, seed=0):
    rng = np.random.default_rng(seed)
    canvas = gaussian_filter(rng.random((size, size + 2 * frames, 3)), (2, 2, 0))
    canvas = (canvas - canvas.min()) / (canvas.max() - canvas.min())
    return np.stack([canvas[:, 2 * t:2 * t + size] for t in range(frames)]).astype(np.float32)


def test_first_layer_reconstructs_better_than_last_on_demo_model():
    # The demo model with random-init weights (trained weights are not needed for this property).
    torch.manual_seed(0)
    model = LoadedModel("demo", build_demo_model(), DEMO_PREPROCESSING)
    clip = smooth_translating_clip()
    config = InversionConfig(steps=40, seed=0)
    first, last = invert_layers(model, ["conv1", "conv4"], clip, config)
    print(f"inversion PSNR (demo, random init, 40 steps): conv1 {first.psnr_db:.1f} dB, conv4 {last.psnr_db:.1f} dB")
    assert first.psnr_db > last.psnr_db + 5.0
    assert first.psnr_db > 25.0
    assert first.feature_error < 0.05
    assert first.video.shape == clip.shape and first.video.min() >= 0 and first.video.max() <= 1
    assert first.history[-1] < first.history[0]
    again = invert(model, "conv1", clip, config)
    np.testing.assert_array_equal(again.video, first.video)  # same seed, same clip


def test_priors_and_psnr():
    flat = torch.full((1, 3, 4, 6, 6), 0.5)
    assert total_variation(flat, 2.0, 1.0) < 1e-10
    assert alpha_prior(flat, 6.0) == 0
    ramp_in_time = flat + torch.arange(4.0).view(1, 1, 4, 1, 1) * 0.1
    assert total_variation(ramp_in_time, 2.0, 0.0) < 1e-10  # τ = 0: only spatial smoothness
    # 3 of the 4 frames have a next frame, 0.1 (= 0.2 range units) brighter
    assert total_variation(ramp_in_time, 2.0, 1.0) == pytest.approx(0.75 * (0.1 / 0.5) ** 2, rel=1e-5)
    spike = torch.zeros(1, 1, 3, 4, 5)
    spike[0, 0, -1, 1, 2] = 1.0  # in the last frame: 4 spatial differences and 1 temporal one see it
    assert total_variation(spike, 2.0, 1.0) * (3 * 4 * 5) * 0.5**2 == pytest.approx(5.0, rel=1e-5)
    # β = 1: the spike's own position has Δx = Δy = −1 (√2), its left and upper neighbours 1 each
    assert total_variation(spike, 1.0, 0.0) * (3 * 4 * 5) * 0.5 == pytest.approx(2.0 + 2**0.5, rel=1e-4)
    assert alpha_prior(torch.ones(1, 3, 2, 2, 2), 6.0) == pytest.approx(1.0)  # white = one range unit
    a = np.zeros((2, 2)); b = np.full((2, 2), 0.1)
    assert psnr_db(b, a) == pytest.approx(20.0)


def test_invert_command(tmp_path):
    import json

    from kernelvis.cli import main

    (tmp_path / "tiny.py").write_text(
        "import torch, torch.nn as nn\n"
        "from kernelvis.models import Preprocessing\n"
        "def build():\n"
        "    torch.manual_seed(0)\n"
        "    net = nn.Sequential(nn.Conv3d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv3d(8, 4, 3, stride=2, padding=1))\n"
        "    net.kernelvis_preprocessing = Preprocessing(frames=4, size=16)\n"
        "    return net\n")
    clips = (np.random.default_rng(0).random((3, 4, 16, 16, 3)) * 255).astype(np.uint8)
    np.savez(tmp_path / "clips.npz", clips=clips)
    out = tmp_path / "inversion"
    assert main(["invert", "--model", f"{tmp_path / 'tiny.py'}:build", "--clips", str(tmp_path / "clips.npz"),
                 "--index", "1", "--steps", "5", "--out", str(out)]) == 0
    record = json.loads((out / "inversion.json").read_text())
    assert [entry["layer"] for entry in record["layers"]] == ["0", "2"]  # every conv layer by default
    with np.load(out / "inversion.npz") as saved:
        assert saved["reconstructions"].shape == (2, 4, 16, 16, 3)
        np.testing.assert_allclose(saved["original"], clips[1] / 255.0, atol=1e-6)
        assert saved["psnr_db"][0] == pytest.approx(record["layers"][0]["psnr_db"], rel=1e-5)
    assert (out / "inversion.png").stat().st_size > 0
    assert main(["invert", "--model", f"{tmp_path / 'tiny.py'}:build", "--clips", str(tmp_path / "clips.npz"),
                 "--index", "7", "--out", str(tmp_path / "bad")]) == 1
    assert not (tmp_path / "bad").exists()
