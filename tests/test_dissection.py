"""Network dissection on synthetic concept clips with exact per-pixel labels."""

import numpy as np
import pytest
import torch
import torch.nn as nn

from kernelvis.baselines.dissection import (CATEGORIES, concept_clips, dissect, rf_anchors, upsample_maps)
from kernelvis.models.loaded import LoadedModel
from kernelvis.models.preprocessing import Preprocessing


@pytest.fixture(scope="module")
def concepts():
    return concept_clips(frames=6, size=24, clips=16, seed=0)


class RedDetector(nn.Module):
    """Channel 0 fires (saturated at 1) exactly where R − G − B > 0.2: on the red-tinted object
    pixels (the tint keeps R − G − B ≥ 0.28) and nowhere else in the set; channel 1 is its
    complement, a weak non-red response."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv3d(3, 2, 1)
        self.clamp = nn.Hardtanh(0.0, 1.0)
        with torch.no_grad():
            self.conv.weight.zero_()
            self.conv.weight[0, :, 0, 0, 0] = torch.tensor([100.0, -100.0, -100.0])
            self.conv.bias[0] = -20.0
            self.conv.weight[1] = -self.conv.weight[0]
            self.conv.bias[1] = 20.0

    def forward(self, x):
        return self.clamp(self.conv(x))


def test_concept_clips_labels(concepts):
    names = [c.name for c in concepts.concepts]
    labels = concepts.labels
    assert concepts.videos.shape == (16, 6, 24, 24, 3) and labels.shape == (16, len(names), 6, 24, 24)
    obj, background = labels[:, names.index("moving object")], labels[:, names.index("background")]
    assert np.array_equal(obj, ~background)
    # every object pixel has exactly one motion, one colour and one texture label; background one texture
    for category in ("motion", "colour"):
        columns = [i for i, c in enumerate(concepts.concepts) if c.category == category]
        assert np.array_equal(labels[:, columns].sum(1), obj.astype(int))
    textures = [i for i, c in enumerate(concepts.concepts) if c.category == "texture"]
    assert (labels[:, textures].sum(1) == 1).all()
    # the object moves in its labelled direction: clip 2 is 90° = up, its mask's centroid rises
    rows = np.nonzero(obj[2, 0])[0].mean(), np.nonzero(obj[2, -1])[0].mean()
    assert rows[1] < rows[0] - 4


def test_planted_red_detector_is_labelled_red(concepts):
    model = LoadedModel("red", RedDetector(), Preprocessing(frames=6, size=24))
    result = dissect(model, "clamp", concepts)
    names = [c.name for c in concepts.concepts]
    assert result.label(0) == "red"
    assert result.iou[0, names.index("red")] > 0.5
    assert result.iou[0, names.index("red")] > result.iou[0].max() - 1e-6
    counts = result.counts()
    assert counts["detectors"] == 2 and counts["detectors_per_category"]["colour"] == 1
    assert set(counts["detectors_per_category"]) == set(CATEGORIES)
    assert result.rows()[0]["concept"] == "red" and result.rows()[0]["detector"]
    # with a stricter IoU bar nothing qualifies
    strict = dissect(model, "clamp", concepts, iou_threshold=1.01)
    assert strict.counts()["detectors"] == 0


class _Step(nn.Module):
    """0/1 in the forward pass, identity gradient (so the receptive-field probe sees through it)."""

    def forward(self, x):
        return (x > 0).to(x.dtype) + (x - x.detach())


def test_masks_are_anchored_at_receptive_field_centres(concepts):
    """The red detector placed at the centre tap of a valid 1×5×5 conv: its map is 20×20 and
    shifted by 2 px. Anchored at receptive-field centres the masks still match the red object
    exactly; stretching the 20×20 map over the clip would not."""
    conv = nn.Conv3d(3, 1, (1, 5, 5))
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[0, :, 0, 2, 2] = torch.tensor([100.0, -100.0, -100.0])
        conv.bias.fill_(-20.0)
    model = LoadedModel("red-valid", nn.Sequential(conv, _Step()), Preprocessing(frames=6, size=24))
    offset, stride = rf_anchors(model, "1", (6, 24, 24), (6, 20, 20))
    np.testing.assert_allclose(offset, [0.0, 2.0, 2.0])
    np.testing.assert_allclose(stride, [1.0, 1.0, 1.0])
    result = dissect(model, "1", concepts)
    names = [c.name for c in concepts.concepts]
    assert result.label(0) == "red"
    # the object can sit within 2 px of the border, where a valid map has no value: nearly exact
    assert result.iou[0, names.index("red")] > 0.9


def test_anchors_follow_strides_and_padding():
    net = nn.Sequential(nn.Conv3d(3, 2, 3, stride=(1, 2, 2), padding=1), nn.ReLU(),
                        nn.Conv3d(2, 2, 3, stride=2, padding=1))
    model = LoadedModel("strided", net, Preprocessing(frames=8, size=24))
    # layer cell (t, h, w) is centred over input (2t, 4h, 4w): the second conv's taps at -1, 0, +1
    # land on first-layer cells 2i-1..2i+1, centred on 2i, i.e. input 2·(2i) in space, 2i in time
    offset, stride = rf_anchors(model, "2", (8, 24, 24), (4, 6, 6))
    np.testing.assert_allclose(stride, [2.0, 4.0, 4.0])
    np.testing.assert_allclose(offset, [0.0, 0.0, 0.0])


def test_upsampling_is_exact_on_the_layer_grid():
    maps = torch.arange(2 * 3 * 4, dtype=torch.float32).view(1, 1, 2, 3, 4)
    up = upsample_maps(maps, (2, 3, 4), np.zeros(3), np.ones(3))
    assert torch.equal(up, maps)
    doubled = upsample_maps(maps, (2, 6, 8), np.array([0.0, 0.5, 0.5]), np.array([1.0, 2.0, 2.0]))
    assert doubled.shape == (1, 1, 2, 6, 8)
    assert doubled[0, 0, 0, 0, 0] == maps[0, 0, 0, 0, 0]  # border
    # clip (h=1, w=2) sits over layer (0.25, 0.75): rows [0 1 2 3] and [4 5 6 7] mixed 3:1 at column 0.75
    assert doubled[0, 0, 0, 1, 2] == pytest.approx(0.75 * 0.75 + 0.25 * 4.75)


def test_dissect_command(tmp_path):
    import csv
    import json

    from kernelvis.cli import main

    (tmp_path / "red.py").write_text(
        "import torch, torch.nn as nn\n"
        "from kernelvis.models import Preprocessing\n"
        "def build():  # the red detector of the test above, as a file SPEC\n"
        "    conv = nn.Conv3d(3, 2, 1)\n"
        "    with torch.no_grad():\n"
        "        conv.weight.zero_()\n"
        "        conv.weight[0, :, 0, 0, 0] = torch.tensor([100.0, -100.0, -100.0])\n"
        "        conv.bias[0] = -20.0\n"
        "        conv.weight[1] = -conv.weight[0]\n"
        "        conv.bias[1] = 20.0\n"
        "    net = nn.Sequential()\n"
        "    net.add_module('conv', conv)\n"
        "    net.add_module('clamp', nn.Hardtanh(0.0, 1.0))\n"
        "    net.kernelvis_preprocessing = Preprocessing(frames=6, size=24)\n"
        "    return net\n")
    out = tmp_path / "dissection"
    assert main(["dissect", "--model", f"{tmp_path / 'red.py'}:build", "--layers", "clamp", "--n-clips", "8",
                 "--out", str(out)]) == 0
    rows = list(csv.DictReader(open(out / "dissection.csv")))
    assert [(r["kernel"], r["concept"], r["detector"]) for r in rows][0] == ("0", "red", "True")
    counts = json.loads((out / "dissection.json").read_text())["layers"][0]
    assert counts["layer"] == "clamp" and counts["kernels"] == 2 and counts["detectors_per_category"]["colour"] == 1
    assert (out / "dissection_counts.png").stat().st_size > 0
