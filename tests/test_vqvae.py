"""VideoGPT's VQ-VAE as a zoo entry: the official key layout, the paper's layers and their output
shapes, same padding and axial attention against explicit computations, loading a Lightning-style
checkpoint from the hub cache, the offline message, stage 1 through the attention blocks, and the
paper config's dry run."""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
import yaml

from kernelvis.cli import main as cli_main
from kernelvis.errors import BadInputError, MissingWeightsError
from kernelvis.models.layers import run_to_layer
from kernelvis.models.loaded import LoadedModel
from kernelvis.models.preprocessing import Preprocessing
from kernelvis.models.videogpt_vqvae import (AxialBlock, MultiHeadAttention, SamePadConv3d, build_videogpt_vqvae,
                                             same_padding)
from kernelvis.models.zoo import load_model, zoo_entry

NAME = "videogpt_vqvae_ucf101"
FILE = "ucf101_stride4x4x4"
CONV0, BLOCK3_5 = "encoder.convs.0.conv", "encoder.res_stack.3.block.5.conv"
REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

# Keys (and shapes) that VideoGPT's own VQVAE(args).state_dict() has for the UCF-101 hyper-parameters
# (n_hiddens 240, n_res_layers 4, downsample 4x4x4, embedding_dim 256, n_codes 2048). If the port's
# module tree drifts from the official one, these stop matching.
OFFICIAL_KEYS = {
    "encoder.convs.0.conv.weight": (240, 3, 4, 4, 4),
    "encoder.convs.0.conv.bias": (240,),
    "encoder.convs.1.conv.weight": (240, 240, 4, 4, 4),
    "encoder.conv_last.conv.weight": (240, 240, 3, 3, 3),
    "encoder.res_stack.0.block.0.running_mean": (240,),
    "encoder.res_stack.0.block.0.num_batches_tracked": (),
    "encoder.res_stack.0.block.2.conv.weight": (120, 240, 3, 3, 3),
    "encoder.res_stack.3.block.3.running_var": (120,),
    "encoder.res_stack.3.block.5.conv.weight": (240, 120, 1, 1, 1),
    "encoder.res_stack.3.block.6.weight": (240,),
    "encoder.res_stack.2.block.8.attn_t.w_qs.weight": (240, 240),
    "encoder.res_stack.2.block.8.attn_h.w_ks.weight": (240, 240),
    "encoder.res_stack.2.block.8.attn_w.w_vs.weight": (240, 240),
    "encoder.res_stack.2.block.8.attn_w.fc.bias": (240,),
    "encoder.res_stack.4.running_mean": (240,),
    "pre_vq_conv.conv.weight": (256, 240, 1, 1, 1),
    "post_vq_conv.conv.bias": (240,),
    "codebook.embeddings": (2048, 256),
    "codebook.N": (2048,),
    "codebook.z_avg": (2048, 256),
    "decoder.res_stack.0.block.8.attn_t.fc.weight": (240, 240),
    "decoder.res_stack.4.running_var": (240,),
    "decoder.convts.0.convt.weight": (240, 240, 4, 4, 4),  # ConvTranspose3d: (in, out, k, k, k)
    "decoder.convts.1.convt.weight": (240, 3, 4, 4, 4),
    "decoder.convts.1.convt.bias": (3,),
}
# By hand: encoder 2 convs x 2 + conv_last 2 + 4 blocks x (3 BN x 5 + 2 conv weights + 3 attentions x 5)
# + final BN 5 = 139; decoder 4 x 32 + 5 + 2 convts x 2 = 137; pre/post_vq_conv 4; codebook 3.
OFFICIAL_KEY_COUNT = 139 + 137 + 4 + 3


@pytest.fixture(scope="module")
def vqvae() -> nn.Module:
    torch.manual_seed(0)
    return build_videogpt_vqvae().eval()


@pytest.fixture
def torch_home(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("KERNELVIS_NO_DOWNLOAD", "1")
    checkpoints = tmp_path / "torch" / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    return checkpoints


def tiny_vqvae(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return build_videogpt_vqvae(n_hiddens=16, n_res_layers=4, embedding_dim=8, n_codes=32).eval()


# --- architecture and key layout ---------------------------------------------------------------

def test_state_dict_has_the_official_key_layout(vqvae):
    state = vqvae.state_dict()
    assert len(state) == OFFICIAL_KEY_COUNT == 283
    for key, shape in OFFICIAL_KEYS.items():
        assert key in state, key
        assert tuple(state[key].shape) == shape, key
    # encoder parameters by hand: conv0 3*240*64+240, conv1 240*240*64+240, conv_last 240*240*27+240,
    # 4 blocks x (BN 2*(240+120+240) + 120*240*27 + 240*120 + 3 x (4*240*240 + 240)), final BN 480
    expected = 46_320 + 3_686_640 + 1_555_440 + 4 * (1_200 + 777_600 + 28_800 + 3 * 230_640) + 480
    assert sum(p.numel() for p in vqvae.encoder.parameters()) == expected == 11_286_960


def test_paper_layers_are_listed_by_the_cli(capsys):
    assert cli_main(["layers", "--model", NAME, "--json"]) == 0
    layers = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert layers[CONV0] == {"name": CONV0, "type": "Conv3d", "out_channels": 240, "kernel_size": [4, 4, 4]}
    assert layers[BLOCK3_5] == {"name": BLOCK3_5, "type": "Conv3d", "out_channels": 240, "kernel_size": [1, 1, 1]}
    # encoder 2 + 1 + 4 x 2, decoder 4 x 2 + 2 transposed, pre/post_vq_conv
    assert len(layers) == 11 + 10 + 2
    assert layers["decoder.convts.1.convt"]["type"] == "ConvTranspose3d"


def test_output_shapes_at_the_paper_layers_on_a_16x64x64_clip(vqvae):
    """By hand: each 4x4x4 stride-2 conv with same padding halves T, H, W: 16x64x64 -> 8x32x32 after
    convs.0, -> 4x16x16 after convs.1; conv_last (3x3x3) and the residual stack keep 4x16x16."""
    model = LoadedModel(NAME, vqvae, zoo_entry(NAME).preprocessing)
    p = model.preprocessing
    assert (p.frames, p.size) == (16, 64)
    clip = p(torch.rand(1, 3, 16, 64, 64))
    assert float(clip.min()) >= -0.5 and float(clip.max()) <= 0.5  # VideoGPT's input range
    with torch.no_grad():
        assert tuple(run_to_layer(vqvae, CONV0, clip).shape) == (1, 240, 8, 32, 32)
        assert tuple(run_to_layer(vqvae, BLOCK3_5, clip).shape) == (1, 240, 4, 16, 16)


def test_preprocessing_maps_unit_range_to_plus_minus_half():
    p = zoo_entry(NAME).preprocessing
    video = torch.tensor([0.0, 0.25, 1.0]).view(1, 3, 1, 1, 1).expand(1, 3, 2, 2, 2)
    assert p(video)[0, :, 0, 0, 0].tolist() == [-0.5, -0.25, 0.5]  # exact in binary floating point


def test_same_padding_amounts_and_equivalence_to_symmetric_padding():
    assert same_padding((4, 4, 4), (2, 2, 2)) == (1, 1, 1, 1, 1, 1)
    assert same_padding((3, 3, 3), (1, 1, 1)) == (1, 1, 1, 1, 1, 1)
    assert same_padding((1, 1, 1), (1, 1, 1)) == (0, 0, 0, 0, 0, 0)
    # odd total: the extra element goes before the data; F.pad lists the last dim (W) first
    assert same_padding((4, 4, 4), (2, 1, 1)) == (2, 1, 2, 1, 1, 1)
    torch.manual_seed(1)
    x = torch.randn(2, 3, 8, 12, 12)
    for kernel, stride in ((4, 2), (3, 1)):
        conv = SamePadConv3d(3, 5, kernel, stride=stride)
        expected = F.conv3d(x, conv.conv.weight, conv.conv.bias, stride=stride, padding=1)
        torch.testing.assert_close(conv(x), expected)
        assert conv(x).shape[2:] == tuple(s // stride for s in x.shape[2:])


def _explicit_attention_along(x: torch.Tensor, attention: MultiHeadAttention, dim: int) -> torch.Tensor:
    """Plain loops: every line of (B, T, H, W, C) features along ``dim`` attends within itself."""
    heads = attention.heads
    out = torch.zeros_like(x)
    lines = x.movedim(dim, -2)  # (B, a, b, L, C)
    result = out.movedim(dim, -2)
    for index in itertools.product(*[range(n) for n in lines.shape[:3]]):
        line = lines[index]  # (L, C)
        q, k, v = attention.w_qs(line), attention.w_ks(line), attention.w_vs(line)
        d = q.shape[1] // heads
        parts = []
        for head in range(heads):
            cols = slice(head * d, (head + 1) * d)
            scores = q[:, cols] @ k[:, cols].T / math.sqrt(d)
            parts.append(torch.softmax(scores, dim=1) @ v[:, cols])
        result[index] = attention.fc(torch.cat(parts, dim=1))
    return out


def test_axial_block_matches_explicit_per_line_attention():
    torch.manual_seed(2)
    block = AxialBlock(8, heads=2)
    x = torch.randn(2, 8, 3, 4, 5)  # (B, C, T, H, W): all axes of different length
    channels_last = x.movedim(1, -1)
    expected = (_explicit_attention_along(channels_last, block.attn_w, 3)
                + _explicit_attention_along(channels_last, block.attn_h, 2)
                + _explicit_attention_along(channels_last, block.attn_t, 1))
    with torch.no_grad():
        torch.testing.assert_close(block(x), expected.movedim(-1, 1), atol=1e-5, rtol=1e-5)


def test_axial_block_only_mixes_positions_along_one_axis():
    torch.manual_seed(3)
    block = AxialBlock(8, heads=2)
    x = torch.randn(1, 8, 3, 4, 5)
    changed = x.clone()
    changed[0, :, 1, 2, 3] += 1.0
    with torch.no_grad():
        difference = (block(changed) - block(x)).abs().amax(1)[0]  # (T, H, W)
    t, h, w = torch.meshgrid(torch.arange(3), torch.arange(4), torch.arange(5), indexing="ij")
    shares_a_line = ((t == 1).int() + (h == 2).int() + (w == 3).int()) >= 2
    assert bool((difference[shares_a_line] > 1e-4).all())
    assert float(difference[~shares_a_line].max()) < 1e-6


# --- weights: the checkpoint as VideoGPT publishes it ------------------------------------------

_LIGHTNING_MODULES = ("pytorch_lightning", "pytorch_lightning.callbacks", "pytorch_lightning.callbacks.model_checkpoint",
                      "pytorch_lightning.utilities", "pytorch_lightning.utilities.parsing")


def save_lightning_style_checkpoint(path: Path, state: dict, monkeypatch) -> None:
    """What PyTorch Lightning 1.3 (VideoGPT's version) writes: the weights under ``state_dict`` next to
    training metadata, callback states keyed by the callback *class* and the hparams as Lightning's
    AttributeDict holding an argparse Namespace. The Lightning classes are stand-ins that exist only
    while saving, so loading meets the real situation: pytorch_lightning is not installed."""
    modules = {name: types.ModuleType(name) for name in _LIGHTNING_MODULES}
    checkpoint_class = type("ModelCheckpoint", (), {"__module__": _LIGHTNING_MODULES[2]})
    attribute_dict = type("AttributeDict", (dict,), {"__module__": _LIGHTNING_MODULES[4]})
    modules[_LIGHTNING_MODULES[2]].ModelCheckpoint = checkpoint_class
    modules[_LIGHTNING_MODULES[4]].AttributeDict = attribute_dict
    with monkeypatch.context() as patch:
        for name, module in modules.items():
            patch.setitem(sys.modules, name, module)
        hparams = attribute_dict(args=argparse.Namespace(embedding_dim=256, n_codes=2048, n_hiddens=240, n_res_layers=4,
                                                         downsample=[4, 4, 4], sequence_length=16, resolution=128))
        torch.save({"epoch": 11, "global_step": 20000, "pytorch-lightning_version": "1.3.3", "state_dict": state,
                    "callbacks": {checkpoint_class: {"monitor": "val/recon_loss", "best_model_score": torch.tensor(0.2)}},
                    "optimizer_states": [{"state": {}, "param_groups": [{"lr": 7e-4}]}], "lr_schedulers": [],
                    "hparams_name": "args", "hyper_parameters": hparams}, path)
    assert sys.modules.get("pytorch_lightning") is not modules["pytorch_lightning"]


def test_lightning_checkpoint_in_the_hub_cache_loads_strictly(vqvae, torch_home, monkeypatch):
    torch.manual_seed(4)
    state = {k: (torch.randn_like(v) if v.is_floating_point() else v + 7) for k, v in vqvae.state_dict().items()}
    save_lightning_style_checkpoint(torch_home / FILE, state, monkeypatch)
    model = load_model(NAME)
    assert model.weights == str(torch_home / FILE)
    loaded = model.module.state_dict()
    assert set(loaded) == set(state)
    for key in (f"{BLOCK3_5}.weight", f"{CONV0}.bias", "encoder.res_stack.3.block.3.running_var",
                "encoder.res_stack.1.block.8.attn_h.w_qs.weight", "codebook.embeddings", "decoder.convts.1.convt.bias"):
        assert torch.equal(loaded[key], state[key]), key
    assert int(loaded["encoder.res_stack.0.block.0.num_batches_tracked"]) == 7
    # the same file passed explicitly (--weights), as the paper workflow does from resources/weights/
    explicit = load_model(NAME, weights=torch_home / FILE)
    assert torch.equal(explicit.module.state_dict()[f"{CONV0}.weight"], state[f"{CONV0}.weight"])


def test_checkpoint_with_other_hyper_parameters_is_one_clear_line(tmp_path, torch_home):
    state = build_videogpt_vqvae(embedding_dim=64).state_dict()
    torch.save({"state_dict": state}, tmp_path / "other.ckpt")
    with pytest.raises(BadInputError) as caught:
        load_model(NAME, weights=tmp_path / "other.ckpt")
    message = str(caught.value)
    assert "\n" not in message and "wrong-shape keys" in message and "pre_vq_conv.conv.weight" in message


def test_offline_without_the_file_names_it_where_it_goes_and_where_it_comes_from(torch_home):
    with pytest.raises(MissingWeightsError) as caught:
        load_model(NAME)
    message = str(caught.value)
    assert "\n" not in message
    assert f"put {FILE} in {torch_home}" in message and "--weights" in message
    assert "1uuB_8WzHP_bbBmfuaIV7PK_Itl3DyHY5" in message  # VideoGPT's Google Drive id for the file
    assert f"~/.cache/videogpt/{FILE}" in message
    assert list(torch_home.iterdir()) == []


def test_cli_offline_error_is_one_line(torch_home, capsys):
    assert cli_main(["layers", "--model", NAME, "--layer", CONV0]) == 0  # listing needs no weights
    capsys.readouterr()
    code = cli_main(["fetch-weights", "--model", NAME, "--out-file", str(torch_home.parent / "out" / FILE)])
    captured = capsys.readouterr()
    assert code != 0
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1 and FILE in lines[0] and "Google Drive" in lines[0]


# --- stage 1 through the attention blocks ------------------------------------------------------

def test_gradient_reaches_the_input_through_three_axial_blocks_and_stops_at_the_target():
    module = tiny_vqvae()
    clip = (torch.rand(1, 3, 8, 16, 16) - 0.5).requires_grad_(True)
    run_to_layer(module, BLOCK3_5, clip)[:, 2].mean().backward()
    assert clip.grad is not None and torch.isfinite(clip.grad).all() and float(clip.grad.abs().sum()) > 0
    blocks = module.encoder.res_stack
    for index in range(3):  # the attention of blocks 0-2 lies between the input and the target
        for attention in (blocks[index].block[8].attn_t, blocks[index].block[8].attn_w):
            assert float(attention.w_qs.weight.grad.abs().sum()) > 0
    # block 3's attention comes after its block.5 conv: the truncated forward never ran it
    assert blocks[3].block[8].attn_t.w_qs.weight.grad is None
    assert module.decoder.convts[0].convt.weight.grad is None


def test_stage1_raises_the_activation_of_block3_conv5():
    from kernelvis.optimize.api import OptimizeConfig, optimize_kernels
    from kernelvis.optimize.transforms import NO_TRANSFORM

    preprocessing = Preprocessing(mean=(0.5, 0.5, 0.5), frames=8, size=16)
    model = LoadedModel("tiny_vqvae", tiny_vqvae(seed=5), preprocessing)
    config = OptimizeConfig(steps=8, lr=0.1, early_stop_patience=None, transforms=NO_TRANSFORM)
    (result,) = optimize_kernels(model, BLOCK3_5, [3], config)
    assert result.video.shape == (8, 16, 16, 3)
    assert result.history.shape == (8,) and all(math.isfinite(float(v)) for v in result.history)
    assert result.activation > float(result.history[0]) + 1e-3


# --- the paper workflow ------------------------------------------------------------------------

def test_paper_config_dry_run_lists_the_vqvae_jobs(tmp_path):
    paper = yaml.safe_load((REPO / "config" / "paper.yaml").read_text())
    (entry,) = [e for e in paper["models"] if e["name"] == NAME]
    assert entry["spec"] == NAME and Path(entry["weights"]).name == FILE
    assert entry["layers"] == {CONV0: [0, 2, 3], BLOCK3_5: [2, 3, 4]}  # the paper's kernels
    paper["models"] = [entry]  # only this model: a fast DAG
    configfile = tmp_path / "paper_vqvae.yaml"
    configfile.write_text(yaml.safe_dump(paper))
    weights = tmp_path / entry["weights"]
    weights.parent.mkdir(parents=True)
    weights.write_bytes(b"fake")  # a dry run only checks that the file exists
    annotations = tmp_path / paper["data"]["annotations"]
    annotations.parent.mkdir(parents=True)
    annotations.write_text("label,youtube_id,time_start,time_end,split\n"
                           + "".join(f"{label},abcdefghij{i},0,10,val\n" for i, label in enumerate(paper["data"]["classes"])))
    environment = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}", OMP_NUM_THREADS="1")
    result = subprocess.run([str(BIN / "snakemake"), "-n", "-p", "-s", str(REPO / "Snakefile"), "--directory", str(tmp_path),
                             "--configfile", str(configfile), "--cores", "1"],
                            capture_output=True, text=True, env=environment, timeout=300)
    assert result.returncode == 0, result.stderr[-4000:]
    jobs = {}  # the job-stats table (snakemake may print it twice): rule -> count
    for line in result.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            jobs[parts[0]] = int(parts[1])
    counts = {}  # per-chunk rules <stage>__<model>__<layer>__<chunk>, summed by stage
    for rule, count in jobs.items():
        counts[rule.split("__")[0]] = counts.get(rule.split("__")[0], 0) + count
    for rule in ("optimize", "decompose", "refine", "tuning", "kernel_summary"):
        assert counts.get(rule) == 2, (rule, counts)  # one job per layer: its 3 kernels together
    assert counts.get("depth_grid") == 1 and "fetch_weights" not in counts
    for layer, kernels in entry["layers"].items():
        for kernel in kernels:
            assert f"results/{NAME}/{layer}/kernel_{kernel:04d}/optimal.npz" in result.stdout
    assert f"--weights {entry['weights']}" in result.stdout or f"--weights {weights}" in result.stdout
