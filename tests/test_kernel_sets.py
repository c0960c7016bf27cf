"""Kernel selections of a layer (all, ranges, lists) and their grouping into jobs (kernelvis.kernel_sets)."""

import pytest

from kernelvis.kernel_sets import (Chunk, KernelSpecError, chunk_label, chunks, format_kernels, layer_channels,
                                   parse_kernels, sample_evenly)


@pytest.mark.parametrize("spec, channels, expected", [
    ("all", 4, [0, 1, 2, 3]),
    ("0-3", None, [0, 1, 2, 3]),
    (" 2 - 4 ", 8, [2, 3, 4]),
    ("5,1,3", None, [1, 3, 5]),
    ([7, 2, 2], 8, [2, 7]),
    (3, None, [3]),
    ("6", 8, [6]),
    (["0-2", 5], None, [0, 1, 2, 5]),
])
def test_selections_read_as_sorted_distinct_indices(spec, channels, expected):
    assert parse_kernels(spec, channels) == expected


@pytest.mark.parametrize("spec, channels, message", [
    ("all", None, "channel count"),
    ("4-2", None, "empty"),
    ("0-9", 8, "out of range"),
    ("conv", None, "cannot read"),
    ([], None, "no kernels"),
    (True, None, "not a kernel"),
])
def test_bad_selections_say_what_is_wrong(spec, channels, message):
    with pytest.raises(KernelSpecError, match=message):
        parse_kernels(spec, channels)


def test_chunks_are_consecutive_groups_and_labels_name_them():
    kernels = list(range(10))
    assert chunks(kernels, 4) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert chunks(kernels, 1)[3] == [3] and chunks(kernels, 24) == [kernels]
    assert [chunk_label(group) for group in chunks(kernels, 4)] == ["0000-0003", "0004-0007", "0008-0009"]
    assert chunk_label([5]) == "0005" and chunk_label([0, 3, 7]) == "0000-0007n3"
    with pytest.raises(KernelSpecError):
        chunks(kernels, 0)
    for group in ([0, 1, 2], [0, 3, 7], [4]):  # what the rules pass to --kernels reads back the same
        assert parse_kernels(format_kernels(group)) == group


def test_chunk_paths_and_rule_names():
    chunk = Chunk("transnetv2", "SDDCNN.0.DDCNN.0.Conv3D_1.layers.1", (0, 1))
    assert chunk.files("optimal.npz") == [
        "results/transnetv2/SDDCNN.0.DDCNN.0.Conv3D_1.layers.1/kernel_0000/optimal.npz",
        "results/transnetv2/SDDCNN.0.DDCNN.0.Conv3D_1.layers.1/kernel_0001/optimal.npz"]
    assert chunk.rule_name("optimize") == "optimize__transnetv2__SDDCNN_0_DDCNN_0_Conv3D_1_layers_1__0000_0001"


def test_even_samples_keep_the_ends():
    assert sample_evenly(list(range(16)), 3) == [0, 8, 15]
    assert sample_evenly([4, 5], 5) == [4, 5] and sample_evenly([4, 5], None) == [4, 5]


def test_layer_channels_are_measured_once_and_a_bad_layer_lists_the_valid_ones(tmp_path):
    model_file = tmp_path / "net.py"
    model_file.write_text("import torch.nn as nn\n\ndef build():\n    return nn.Sequential(nn.Conv3d(3, 5, 1), nn.ReLU())\n")
    spec = f"{model_file}:build"
    cache = tmp_path / "cache"
    assert layer_channels(spec, "1", cache) == 5  # a ReLU: its channels come from the layer's output
    assert len(list(cache.iterdir())) == 1
    (next(cache.iterdir())).write_text('{"channels": 7}')  # the cache answers without running the model again
    assert layer_channels(spec, "1", cache) == 7
    with pytest.raises(KernelSpecError, match=r"unknown layer 'conv9'; conv layers: 0$"):
        layer_channels(spec, "conv9", cache)
