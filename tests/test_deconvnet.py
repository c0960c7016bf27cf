"""DeconvNet (explicit vs autograd), planted-edge localization, top-9 vs brute force, RF tubes,
first-layer kernel display."""

import numpy as np
import pytest
import torch
import torch.nn as nn

from kernelvis.baselines.dataset_examples import (dataset_examples, load_clips, receptive_field_boxes,
                                                  scan_activations, top_indices)
from kernelvis.baselines.deconvnet import kernel_slices, project_autograd, project_explicit, top_signal, trace_chain
from kernelvis.errors import BadInputError
from kernelvis.models.demo import DEMO_PREPROCESSING, build_demo_model
from kernelvis.models.loaded import LoadedModel
from kernelvis.models.preprocessing import Preprocessing
from kernelvis.models.activation import layer_output


def tiny_chain() -> LoadedModel:
    """conv–ReLU–maxpool twice (overlapping and temporal pools, strides, BN) in 3D."""
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv3d(3, 4, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1)),
        nn.Conv3d(4, 5, 3, stride=(1, 2, 2), padding=1), nn.BatchNorm3d(5), nn.ReLU(), nn.MaxPool3d(2),
        nn.Conv3d(5, 3, 3))
    with torch.no_grad():  # non-trivial eval statistics, so the BN scale is exercised
        net[4].running_var.uniform_(0.5, 2.0)
        net[4].weight.uniform_(0.5, 1.5)
    return LoadedModel("tiny", net, Preprocessing(mean=(0.5, 0.4, 0.3), std=(0.25, 0.2, 0.3), frames=12, size=32))


@pytest.mark.parametrize("layer", ["0", "3", "7"])
def test_explicit_and_autograd_deconvnet_agree(layer):
    model = tiny_chain()
    video = torch.rand(2, 3, 12, 32, 32, generator=torch.Generator().manual_seed(1))
    explicit = project_explicit(model, layer, video, [1, 2])
    autograd = project_autograd(model, layer, video, [1, 2])
    assert autograd.abs().max() > 1e-3
    assert torch.allclose(explicit, autograd, atol=1e-5, rtol=0)
    if layer != "0":
        # the ReLU rule matters: a plain gradient (forward-masked ReLUs) is a different projection
        plain_input = video.clone().requires_grad_(True)
        output = layer_output(model, layer, plain_input)
        (plain,) = torch.autograd.grad(output, plain_input, top_signal(output.detach(), [1, 2]))
        assert (plain - autograd).abs().max() > 0.05 * autograd.abs().max()


def test_explicit_deconvnet_single_activation_matches_on_demo_model():
    model = LoadedModel("demo", build_demo_model(), DEMO_PREPROCESSING)
    video = torch.rand(1, 3, 8, 24, 24, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        grid = layer_output(model, "conv3", video).shape[2:]
    positions = [tuple(size // 2 for size in grid)]
    explicit = project_explicit(model, "conv3", video, 5, positions)
    autograd = project_autograd(model, "conv3", video, 5, positions)
    assert torch.allclose(explicit, autograd, atol=1e-5, rtol=0)
    assert len(trace_chain(model, "conv3", video)) == 7  # conv1 bn1 relu1 conv2 bn2 relu2 conv3


def test_explicit_deconvnet_refuses_non_chains():
    class Residual(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv3d(3, 3, 3, padding=1)

        def forward(self, x):
            return x + self.conv(x)

    class InplaceResidual(nn.Module):  # torchvision's style: the add keeps the tensor object
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv3d(3, 3, 3, padding=1)
            self.relu = nn.ReLU(inplace=True)

        def forward(self, x):
            out = self.conv(x)
            out += x
            return self.relu(out)

    video = torch.rand(1, 3, 4, 8, 8)
    for block in (Residual(), InplaceResidual()):
        model = LoadedModel("res", nn.Sequential(block, nn.Conv3d(3, 2, 1)), Preprocessing(frames=4, size=8))
        with pytest.raises(BadInputError, match="autograd"):
            project_explicit(model, "1", video, 0)
        assert project_autograd(model, "1", video, 0).abs().sum() > 0  # the autograd form works on any model


def test_projection_of_a_planted_edge_kernel_localizes_the_edge():
    # kernel 0: a vertical dark-to-bright edge detector (3 frames × 1 × 4 px); kernel 1: its opposite.
    conv = nn.Conv3d(3, 2, (3, 1, 4), padding=(1, 0, 0), bias=False)
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[0, :, :, 0, :2] = -1.0
        conv.weight[0, :, :, 0, 2:] = 1.0
        conv.weight[1] = -conv.weight[0]
    net = nn.Sequential(conv, nn.ReLU(), nn.MaxPool3d((1, 2, 2)))
    model = LoadedModel("edge", net, Preprocessing(frames=6, size=32))
    # a bright square (rows 8..23, columns 12..27) on a dark background: kernel 0 sees its left edge
    video = torch.full((1, 3, 6, 32, 32), 0.2)
    video[..., 8:24, 12:28] = 0.8
    projection = project_explicit(model, "2", video, 0)[0].abs().sum(dim=(0, 1))  # (H, W)
    assert torch.allclose(projection, project_autograd(model, "2", video, 0)[0].abs().sum(dim=(0, 1)), atol=1e-5)
    columns, rows = projection.sum(0), projection.sum(1)
    near_edge = columns[9:15].sum() / columns.sum()  # the edge lies between columns 11 and 12
    assert near_edge > 0.95
    assert 10 <= int(columns.argmax()) <= 13
    assert rows[8:24].sum() / rows.sum() > 0.95  # and only along the square's height
    opposite = project_explicit(model, "2", video, 1)[0].abs().sum(dim=(0, 1)).sum(0)
    assert 26 <= int(opposite.argmax()) <= 29  # the right edge (bright-to-dark)


def fixture_net() -> LoadedModel:
    """conv (3,5,5) -> BN -> ReLU -> conv (3,3,3) with spatial stride 2: receptive field 5 × 7 × 7."""
    torch.manual_seed(4)
    net = nn.Sequential(nn.Conv3d(3, 4, (3, 5, 5), padding=(1, 2, 2)), nn.BatchNorm3d(4), nn.ReLU(),
                        nn.Conv3d(4, 6, 3, stride=(1, 2, 2), padding=1))
    return LoadedModel("fixture", net, Preprocessing(mean=(0.5,) * 3, std=(0.25,) * 3, frames=8, size=24))


def test_top9_matches_brute_force_and_tubes_are_the_receptive_fields(tmp_path):
    model = fixture_net()
    rng = np.random.default_rng(3)
    clips = (rng.random((14, 8, 24, 24, 3)) * 255).astype(np.uint8)
    np.savez(tmp_path / "clips.npz", clips=clips, labels=np.arange(14))
    clips, labels = load_clips(tmp_path / "clips.npz")
    kernel = 3
    examples = dataset_examples(model, "3", kernel, clips, labels, top=9, batch_size=4)

    # brute force: every clip alone through the whole network, hooking the layer
    maxima, argmax = [], []
    for clip in clips:
        captured = {}
        handle = model.module[3].register_forward_hook(lambda m, i, o: captured.setdefault("out", o))
        video = torch.from_numpy(clip.astype(np.float32) / 255).permute(3, 0, 1, 2)[None]
        with torch.no_grad():
            model.module(model.preprocessing(video))
        handle.remove()
        kernel_map = captured["out"][0, kernel]
        maxima.append(float(kernel_map.max()))
        argmax.append(np.unravel_index(int(kernel_map.argmax()), kernel_map.shape))
    expected = sorted(range(len(clips)), key=lambda i: -maxima[i])[:9]
    assert examples.indices.tolist() == expected
    np.testing.assert_allclose(examples.max_activations, np.array(maxima)[expected], rtol=1e-5, atol=1e-6)
    assert [tuple(p) for p in examples.positions] == [tuple(argmax[i]) for i in expected]
    assert examples.labels.tolist() == [str(i) for i in expected]  # no class names: the label numbers

    # the receptive field: (3,5,5) then (3,3,3) with spatial stride 2 -> 5 × 7 × 7,
    # centred on (t, 2h, 2w), clipped to the clip
    for (t, h, w), box in zip(examples.positions, examples.boxes):
        want = [max(t - 2, 0), min(t + 3, 8), max(2 * h - 3, 0), min(2 * h + 4, 24), max(2 * w - 3, 0), min(2 * w + 4, 24)]
        assert box.tolist() == want
    assert examples.crops.shape[1:4] == (5, 7, 7)
    first = examples.boxes[0]
    np.testing.assert_allclose(examples.crops[0, :first[1] - first[0], :first[3] - first[2], :first[5] - first[4]],
                               clips[expected[0], first[0]:first[1], first[2]:first[3], first[4]:first[5]] / 255, atol=1e-6)
    # a projection of one activation lives inside its receptive field
    outside = np.abs(examples.projections[0]).sum(-1).copy()
    outside[first[0]:first[1], first[2]:first[3], first[4]:first[5]] = 0
    assert outside.max() == 0 and np.abs(examples.projections[0]).max() > 0

    # the natural activation is the best clip's channel mean (the stage-1 objective)
    scan = scan_activations(model, "3", [kernel], clips, batch_size=5)
    assert examples.natural_activation == pytest.approx(float(scan.mean_activation[:, 0].max()), rel=1e-6)


def test_top_indices_orders_by_value_then_index():
    assert top_indices(np.array([1.0, 3.0, 3.0, 2.0, 0.0]), 3).tolist() == [1, 2, 3]


def test_receptive_field_of_a_strided_valid_conv():
    net = nn.Sequential(nn.Conv3d(3, 2, (3, 5, 5), stride=(1, 2, 2)))
    model = LoadedModel("valid", net, Preprocessing(frames=6, size=16))
    boxes = receptive_field_boxes(model, "0", 1, np.array([[0, 0, 0], [2, 3, 1]]), (6, 16, 16))
    assert boxes.tolist() == [[0, 3, 0, 5, 0, 5], [2, 5, 6, 11, 2, 7]]


def test_first_layer_kernels_share_one_scale_over_time():
    weight = np.zeros((2, 3, 2, 3, 3), dtype=np.float32)
    weight[0, 0, 0, 1, 1] = 1.0   # red centre, frame 0
    weight[0, 0, 1, 1, 1] = -0.5  # red centre, frame 1: half as strong and negative
    weight[1, 2, 1, 0, 0] = 0.1
    slices = kernel_slices(weight)
    assert slices.shape == (2, 2, 3, 3, 3)
    assert slices[0, 0, 1, 1, 0] == pytest.approx(1.0) and slices[0, 1, 1, 1, 0] == pytest.approx(0.25)
    assert slices[0, 0, 0, 0, 0] == pytest.approx(0.5)  # zero weight is grey
    assert slices[1, 1, 0, 0, 2] == pytest.approx(1.0)  # each kernel on its own scale...
    assert kernel_slices(weight, shared="layer")[1, 1, 0, 0, 2] == pytest.approx(0.55)  # ...or the layer's


TINY_MODEL_FILE = '''
import torch
import torch.nn as nn
from kernelvis.models import Preprocessing


def build():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv3d(3, 4, (3, 5, 5), padding=(1, 2, 2)), nn.ReLU(), nn.MaxPool3d((1, 2, 2)),
                        nn.Conv3d(4, 6, 3, padding=1))
    net.kernelvis_preprocessing = Preprocessing(mean=(0.5,) * 3, std=(0.25,) * 3, frames=6, size=24)
    return net
'''


def write_tiny_model(directory) -> str:
    path = directory / "tiny_model.py"
    path.write_text(TINY_MODEL_FILE)
    return f"{path}:build"


def test_deconvnet_command_writes_examples_comparison_and_filters(tmp_path, capsys):
    import json

    from kernelvis.cli import main

    spec = write_tiny_model(tmp_path)
    rng = np.random.default_rng(5)
    clips = (rng.random((10, 6, 24, 24, 3)) * 255).astype(np.uint8)
    np.savez(tmp_path / "clips.npz", clips=clips, labels=np.array([f"class{i % 3}" for i in range(10)]))
    kernel_dir = tmp_path / "kernel_0002"
    kernel_dir.mkdir()
    np.savez(kernel_dir / "optimal.npz", video=rng.random((6, 24, 24, 3)).astype(np.float32), activation=np.float32(4.0))
    velocity = np.zeros((6, 24, 24, 2), np.float32)
    velocity[1:, ..., 0] = 1.0
    np.savez(kernel_dir / "decomposition.npz", static=rng.random((24, 24, 3)).astype(np.float32), velocity=velocity,
             displacement=np.cumsum(velocity, axis=0))

    args = ["deconvnet", "--model", spec, "--layer", "3", "--kernel", "2", "--clips", str(tmp_path / "clips.npz"),
            "--out", str(kernel_dir), "--compare", "--batch-size", "4"]
    assert main(args) == 0
    for name in ("dataset_examples.npz", "dataset_examples.png", "dataset_examples.gif", "deconv.png", "comparison.png"):
        assert (kernel_dir / name).stat().st_size > 0, name
    summary = json.loads((kernel_dir / "stage_deconvnet.json").read_text())
    with np.load(kernel_dir / "dataset_examples.npz") as saved:
        assert saved["indices"].shape == (9,) and saved["projections"].shape == (9, 6, 24, 24, 3)
        assert summary["natural_activation"] == pytest.approx(float(saved["natural_activation"]))
        assert list(saved["labels"]) == [f"class{i % 3}" for i in saved["indices"]]
    assert summary["natural_to_optimal_ratio"] == pytest.approx(summary["natural_activation"] / 4.0)
    assert summary["kernel"] == 2 and summary["layer"] == "3"

    assert main(["deconvnet", "--model", spec, "--filters", "--out", str(tmp_path / "figures")]) == 0
    assert (tmp_path / "figures" / "first_layer_filters.png").stat().st_size > 0

    # bad input: one line, exit 1, nothing written
    capsys.readouterr()
    assert main(args[:6] + ["9"] + args[7:9] + ["--out", str(tmp_path / "bad")]) == 1
    assert "kernel 9 out of range" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()
    assert main(["deconvnet", "--model", spec, "--layer", "3", "--kernel", "0", "--clips", str(tmp_path / "clips.npz"),
                 "--out", str(tmp_path / "nocompare"), "--compare"]) == 1
    assert "optimal.npz" in capsys.readouterr().err and not (tmp_path / "nocompare").exists()
