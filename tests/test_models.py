"""Every zoo model builds with random weights, lists its convs, and runs to a middle layer with the
output shape its architecture implies (worked out by hand from strides/widths in the comments)."""

import pytest
import torch

from kernelvis.models import conv_layers, run_to_layer
from kernelvis.models.c3d import C3D_PREPROCESSING
from kernelvis.models.demo import DEMO_NUM_CLASSES
from kernelvis.models.preprocessing import KINETICS_MEAN, PYTORCHVIDEO_MEAN
from kernelvis.models.zoo import ZooEntry, load_model, register, zoo_entry

# model: (layer, frames, size, expected (C, T, H, W)) on a small random clip.
MIDDLE_LAYERS = {
    # stem stride (1,2,2): 8x16x16; layer2 stride 2 -> 4x8x8, 128 channels
    "r3d_18": ("layer2.0.conv1.0", 8, 32, (128, 4, 8, 8)),
    # MC3: only layer1 is 3D; layer2/3 are (1,3,3) convs with stride (1,2,2): time is kept
    "mc3_18": ("layer3.0.conv1.0", 8, 32, (256, 8, 4, 4)),
    # (2+1)D: the temporal half (index 3) of layer2's first conv carries the temporal stride 2
    "r2plus1d_18": ("layer2.0.conv1.0.3", 8, 32, (128, 4, 8, 8)),
    # S3D: separable 7x7 stem, stride (2,2,2) -> 8x32x32, max-pool (1,2,2) -> 8x16x16, 192 channels
    "s3d": ("features.3.1.0", 16, 64, (192, 8, 16, 16)),
    # X3D: stem stride (1,2,2) -> 16x16, stage 1 depthwise conv_b stride 2 -> 8x8, 24*2.25 = 54 channels
    "x3d_xs": ("blocks.1.res_blocks.0.branch2.conv_b", 4, 32, (54, 4, 8, 8)),
    "x3d_s": ("blocks.1.res_blocks.0.branch2.conv_b", 4, 32, (54, 4, 8, 8)),
    "x3d_m": ("blocks.1.res_blocks.0.branch2.conv_b", 4, 32, (54, 4, 8, 8)),
    # ResNet-50s: stem conv + max-pool, each stride (1,2,2) -> 8x8; res3 conv_b stride 2 -> 4x4, 128 inner
    "slow_r50": ("blocks.2.res_blocks.0.branch2.conv_b", 8, 32, (128, 8, 4, 4)),
    # C2D/I3D add a (2,1,1) max-pool after res2 (blocks.2), so res3 is blocks.3 and time halves
    "c2d_r50": ("blocks.3.res_blocks.0.branch2.conv_b", 8, 32, (128, 4, 4, 4)),
    "i3d_r50": ("blocks.3.res_blocks.0.branch2.conv_b", 8, 32, (128, 4, 4, 4)),
    # CSN: res3 strides time and space by 2
    "csn_r101": ("blocks.2.res_blocks.0.branch2.conv_b", 8, 32, (128, 4, 4, 4)),
    # R(2+1)D-50: stem without pool (16x16), res2 and res3 stride space by 2 -> 4x4
    "r2plus1d_r50": ("blocks.2.res_blocks.0.branch2.conv_b.conv_xy", 8, 32, (128, 8, 4, 4)),
    # fast pathway (index 1): all 8 frames, width 1/8 of the slow one's 128
    "slowfast_r50": ("blocks.2.multipathway_blocks.1.res_blocks.0.branch2.conv_b", 8, 32, (16, 8, 4, 4)),
    # C3D: pool1 (1,2,2) -> 8x16x16, pool2 (2,2,2) -> 4x8x8
    "c3d": ("conv3a", 8, 32, (256, 4, 8, 8)),
    # demo: its architecture is still being tuned, so the expected shape is derived from its conv
    # hyper-parameters (conv1 -> bn -> relu -> conv2, no pooling in between) in the test
    "demo": ("conv2", 8, 32, None),
    # planted: valid (7,15,15) Gabor conv, one channel per planted unit
    "planted": ("energy", 16, 48, (8, 10, 34, 34)),
}

NUM_CLASSES = {**{name: 400 for name in MIDDLE_LAYERS if name not in ("c3d", "demo", "planted")},
               "c3d": 487, "demo": DEMO_NUM_CLASSES}


def _chained_conv_shape(convs, thw):
    """(C, T, H, W) after a chain of convolutions, by the usual (n + 2p - k) // s + 1 arithmetic."""
    for conv in convs:
        thw = [(n + 2 * p - k) // s + 1 for n, k, s, p in zip(thw, conv.kernel_size, conv.stride, conv.padding)]
    return (convs[-1].out_channels, *thw)


@pytest.mark.parametrize("name", sorted(MIDDLE_LAYERS))  # every model the zoo must have: a missing one fails to load
def test_zoo_model_builds_and_runs_to_a_middle_layer(name):
    layer, frames, size, expected = MIDDLE_LAYERS[name]
    model = load_model(name, random_weights=True)
    if expected is None:
        expected = _chained_conv_shape([model.module.conv1, model.module.conv2], (frames, size, size))
    assert model.weights is None and not model.module.training
    assert not any(p.requires_grad for p in model.module.parameters())
    convs = conv_layers(model.module)
    assert convs and layer in [info.name for info in convs]
    (info,) = [info for info in convs if info.name == layer]
    assert info.out_channels == expected[0]
    clip = torch.rand(1, 3, frames, size, size, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        output = run_to_layer(model.module, layer, model.preprocessing(clip))
    assert tuple(output.shape) == (1, *expected)
    if name == "slowfast_r50":  # the slow pathway sees every 4th frame of the same clip
        slow = run_to_layer(model.module, "blocks.2.multipathway_blocks.0.res_blocks.0.branch2.conv_b",
                            model.preprocessing(clip))
        assert tuple(slow.shape) == (1, 128, 2, 4, 4)
    if name in NUM_CLASSES:  # the whole network accepts its native clip (shapes only, on the meta device)
        p = model.preprocessing
        logits = model.module.to("meta")(p(torch.empty(1, 3, p.frames, p.size, p.size, device="meta")))
        assert tuple(logits.shape) == (1, NUM_CLASSES[name])


def test_zoo_entries_carry_native_preprocessing():
    r3d, x3d, slowfast, c3d = (zoo_entry(n) for n in ("r3d_18", "x3d_m", "slowfast_r50", "c3d"))
    assert (r3d.preprocessing.frames, r3d.preprocessing.size, r3d.preprocessing.mean) == (16, 112, KINETICS_MEAN)
    assert r3d.weights_url == "https://download.pytorch.org/models/r3d_18-b3b3357e.pth" and r3d.check_hash
    assert (x3d.weights_file, x3d.state_dict_format, x3d.preprocessing.mean) == ("X3D_M.pyth", "model_state",
                                                                               PYTORCHVIDEO_MEAN)
    assert slowfast.preprocessing.slowfast_alpha == 4 and slowfast.preprocessing.frames == 32
    assert c3d.preprocessing is C3D_PREPROCESSING and c3d.weights_file == "c3d.pickle"


def test_c3d_preprocessing_is_bgr_255_mean_subtracted():
    rgb = torch.tensor([0.2, 0.4, 0.6]).view(1, 3, 1, 1, 1).expand(1, 3, 2, 2, 2)
    out = C3D_PREPROCESSING(rgb)
    expected_bgr = torch.tensor([0.6 * 255 - 90.25, 0.4 * 255 - 97.66, 0.2 * 255 - 101.41])
    assert torch.allclose(out[0, :, 0, 0, 0], expected_bgr, atol=1e-4)


def test_c3d_layer_names_and_pool5_feeds_fc6_at_112px():
    model = load_model("c3d", random_weights=True)
    names = [info.name for info in conv_layers(model.module)]
    assert names == ["conv1", "conv2", "conv3a", "conv3b", "conv4a", "conv4b", "conv5a", "conv5b"]
    keys = set(model.module.state_dict())
    assert {"fc6.weight", "fc7.bias", "fc8.weight"} <= keys  # the Sports-1M port's key layout
    # conv5b output at 16x112x112: time 16 -> 16 (pool1) -> 8 -> 4 -> 2, space 112 -> 56 -> 28 -> 14 -> 7
    pooled = model.module.pool5(torch.zeros(1, 512, 2, 7, 7))
    assert pooled[0].numel() == model.module.fc6.in_features == 8192
    assert model.module.fc8.out_features == 487
    assert not any(isinstance(m, torch.nn.Softmax) for m in model.module.modules())  # forward returns logits


def test_registering_a_model_is_one_line_and_names_are_unique():
    entry = ZooEntry("tiny_test_model", lambda: torch.nn.Conv3d(3, 2, 1), zoo_entry("planted").preprocessing, "test")
    try:
        register(entry)
        assert load_model("tiny_test_model").module.out_channels == 2  # no weights file: nothing to resolve
        with pytest.raises(ValueError, match="already registered"):
            register(entry)
    finally:
        from kernelvis.models import zoo

        zoo._REGISTRY.pop("tiny_test_model", None)


def test_random_suffix_builds_without_weights_and_keeps_the_name():
    model = load_model("demo@random")
    assert model.name == "demo@random" and model.weights is None


def test_pytorchvideo_transforms_import_through_the_shim():
    # pytorchvideo 0.1.5's augmentations import a module torchvision >= 0.17 no longer has
    from kernelvis.models.pytorchvideo_compat import import_pytorchvideo

    augmentations = import_pytorchvideo("pytorchvideo.transforms.augmentations")
    assert augmentations.F_t.__name__ == "torchvision.transforms._functional_tensor"
    assert callable(augmentations.F_t.affine)
