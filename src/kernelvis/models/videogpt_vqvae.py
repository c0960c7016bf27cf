"""VideoGPT's 3D VQ-VAE (Yan et al. 2021), rebuilt with the official checkpoint's module names.

The third model the paper visualizes is the encoder of VideoGPT's UCF-101 VQ-VAE (checkpoint
``ucf101_stride4x4x4``: 240 hidden channels, 4 attention-residual blocks, downsampling 4×4×4,
2048 codes of dimension 256). Every module here carries the attribute name the official code
gives it, so the official ``state_dict`` (inside the Lightning checkpoint's ``state_dict`` entry)
loads strictly — all 283 keys, decoder and codebook included — and the paper's layer names are
``named_modules()`` names:

* ``encoder.convs.0.conv``: the first 4×4×4 stride-2 conv (3 → 240) on the raw clip;
* ``encoder.res_stack.3.block.5.conv``: the 1×1×1 conv (120 → 240) of the fourth
  attention-residual block, which sees the output of three blocks of axial attention.

Tree (input 16×64×64, shapes as (C, T, H, W))::

    encoder.convs.0       SamePadConv3d 3→240, k4 s2, ReLU        -> 240×8×32×32
    encoder.convs.1       SamePadConv3d 240→240, k4 s2, ReLU      -> 240×4×16×16
    encoder.conv_last     SamePadConv3d 240→240, k3
    encoder.res_stack.0-3 AttentionResidualBlock: x + block(x), block =
                          0 BN, 1 ReLU, 2 conv k3 240→120 (no bias), 3 BN, 4 ReLU,
                          5 conv k1 120→240 (no bias), 6 BN, 7 ReLU, 8 AxialBlock
    encoder.res_stack.4-5 BN, ReLU                                -> 240×4×16×16
    pre_vq_conv           k1 240→256; codebook: nearest of 2048 codes
    post_vq_conv, decoder the mirror image with transposed convs  -> 3×16×64×64

"Same" padding follows the official convention: a conv of kernel k and stride s pads k − s in
total, the extra element (odd totals) before the data. The axial block adds three multi-head
attentions (2 heads) over the time, height and width axes separately (no causal mask, no position
embedding), each with its own q/k/v projections (no bias) and output projection (with bias).

``forward`` runs the whole autoencoder (encode, quantize with a straight-through gradient, decode)
so every listed layer is reached; the paper's layers are in the encoder, and kernelvis stops the
forward pass at the target layer, so nothing after it is computed. The codebook never updates
itself here (the official EMA update only runs while training). No operation is in place.

Input: RGB in [−0.5, 0.5] (VideoGPT subtracts 0.5 from [0, 1] frames): :data:`VQVAE_PREPROCESSING`
maps kernelvis' [0, 1] clips there. The published checkpoint was trained on 16-frame clips (the
download table says 128×128); the paper visualizes it at 16×64×64, which the fully convolutional,
axial-attention network accepts as is (any T, H, W divisible by the downsampling).
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from kernelvis.models.preprocessing import Preprocessing

VQVAE_PREPROCESSING = Preprocessing(mean=(0.5, 0.5, 0.5), std=(1.0, 1.0, 1.0), frames=16, size=64)
"""[0, 1] RGB minus 0.5: VideoGPT's [−0.5, 0.5] input range, at the paper's 16×64×64."""

UCF101_HPARAMS = dict(n_hiddens=240, n_res_layers=4, downsample=(4, 4, 4), embedding_dim=256, n_codes=2048)
"""``ucf101_stride4x4x4``'s hyper-parameters (embedding_dim and n_codes are VideoGPT's defaults)."""

ATTENTION_HEADS = 2
WEIGHTS_FILE = "ucf101_stride4x4x4"
"""The name VideoGPT's own downloader gives the file (in ``~/.cache/videogpt``)."""
GOOGLE_DRIVE_ID = "1uuB_8WzHP_bbBmfuaIV7PK_Itl3DyHY5"
WEIGHTS_HINT = (f"it is VideoGPT's Lightning checkpoint on Google Drive (https://drive.google.com/uc?id={GOOGLE_DRIVE_ID}),"
                f" which VideoGPT's load_vqvae('{WEIGHTS_FILE}') saves as ~/.cache/videogpt/{WEIGHTS_FILE}:"
                " copy that file (it keeps its name, no extension)")


def same_padding(kernel: tuple[int, int, int], stride: tuple[int, int, int]) -> tuple[int, ...]:
    """``F.pad`` amounts (last dim first) that make a conv's output size = input size / stride:
    k − s in total per dim, the odd element before the data."""
    amounts: list[int] = []
    for k, s in reversed(list(zip(kernel, stride))):
        total = k - s
        amounts += [total - total // 2, total // 2]
    return tuple(amounts)


def _triple(value) -> tuple[int, int, int]:
    return tuple(value) if isinstance(value, (tuple, list)) else (value,) * 3


class SamePadConv3d(nn.Module):
    """Pads by :func:`same_padding`, then an unpadded ``nn.Conv3d`` (named ``conv`` as officially)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, bias: bool = True):
        super().__init__()
        kernel, stride = _triple(kernel_size), _triple(stride)
        self.pad = same_padding(kernel, stride)
        self.conv = nn.Conv3d(in_channels, out_channels, kernel, stride=stride, padding=0, bias=bias)

    def forward(self, x):
        return self.conv(F.pad(x, self.pad))


class SamePadConvTranspose3d(nn.Module):
    """The decoder's upsampling conv: same padding, then a transposed conv whose own padding k − 1
    trims the border again, so the output is exactly ``stride`` times the input (named ``convt``)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, bias: bool = True):
        super().__init__()
        kernel, stride = _triple(kernel_size), _triple(stride)
        self.pad = same_padding(kernel, stride)
        self.convt = nn.ConvTranspose3d(in_channels, out_channels, kernel, stride=stride, bias=bias,
                                        padding=tuple(k - 1 for k in kernel))

    def forward(self, x):
        return self.convt(F.pad(x, self.pad))


def axial_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, axis: int) -> torch.Tensor:
    """Softmax attention along one axis of (B, heads, T, H, W, d) tensors: every position attends to
    the positions that differ from it only along ``axis`` (2 = T, 3 = H, 4 = W), scaled by 1/sqrt(d)."""
    q, k, v = (t.movedim(axis, -2) for t in (q, k, v))
    weights = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1]), dim=-1)
    return (weights @ v).movedim(-2, axis)


class AxialAttention(nn.Module):
    """Parameter-free: which axis of (B, heads, T, H, W, d) the attention runs along."""

    def __init__(self, axis: int):
        super().__init__()
        self.axis = axis

    def forward(self, q, k, v):
        return axial_attention(q, k, v, self.axis)


class MultiHeadAttention(nn.Module):
    """Self-attention on channels-last (B, T, H, W, C) features: q/k/v projections (no bias), split
    into heads, attention along one axis, heads joined, output projection ``fc`` (with bias)."""

    def __init__(self, channels: int, heads: int, axis: int):
        super().__init__()
        self.heads = heads
        self.w_qs = nn.Linear(channels, channels, bias=False)
        self.w_ks = nn.Linear(channels, channels, bias=False)
        self.w_vs = nn.Linear(channels, channels, bias=False)
        self.fc = nn.Linear(channels, channels, bias=True)
        for projection in (self.w_qs, self.w_ks, self.w_vs, self.fc):  # VideoGPT's init scale, for @random
            nn.init.normal_(projection.weight, std=1.0 / math.sqrt(channels))
        self.attn = AxialAttention(axis)

    def _split_heads(self, x: torch.Tensor) -> torch.Tensor:
        # (B, T, H, W, heads * d) -> (B, heads, T, H, W, d)
        return x.unflatten(-1, (self.heads, -1)).movedim(-2, 1)

    def forward(self, x):
        q, k, v = (self._split_heads(projection(x)) for projection in (self.w_qs, self.w_ks, self.w_vs))
        joined = self.attn(q, k, v).movedim(1, -2).flatten(-2)
        return self.fc(joined)


class AxialBlock(nn.Module):
    """Sum of attention along width, height and time (channels-first in and out)."""

    def __init__(self, channels: int, heads: int = ATTENTION_HEADS):
        super().__init__()
        # Axes of the (B, heads, T, H, W, d) tensor each attention works on.
        self.attn_w = MultiHeadAttention(channels, heads, axis=4)
        self.attn_h = MultiHeadAttention(channels, heads, axis=3)
        self.attn_t = MultiHeadAttention(channels, heads, axis=2)

    def forward(self, x):
        x = x.movedim(1, -1)
        x = self.attn_w(x) + self.attn_h(x) + self.attn_t(x)
        return x.movedim(-1, 1)


class AttentionResidualBlock(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        half = channels // 2
        self.block = nn.Sequential(
            nn.BatchNorm3d(channels), nn.ReLU(),
            SamePadConv3d(channels, half, 3, bias=False),
            nn.BatchNorm3d(half), nn.ReLU(),
            SamePadConv3d(half, channels, 1, bias=False),
            nn.BatchNorm3d(channels), nn.ReLU(),
            AxialBlock(channels),
        )

    def forward(self, x):
        return x + self.block(x)


def _residual_stack(channels: int, n_blocks: int) -> nn.Sequential:
    return nn.Sequential(*[AttentionResidualBlock(channels) for _ in range(n_blocks)],
                         nn.BatchNorm3d(channels), nn.ReLU())


def _halvings(factors) -> list[tuple[int, int, int]]:
    """Per-step strides for downsampling by power-of-two ``factors``: step i halves every dim that
    still needs it (4×4×4 -> two (2, 2, 2) steps; 4×2×2 -> (2, 2, 2) then (2, 1, 1))."""
    counts = [int(round(math.log2(f))) for f in factors]
    if any(2 ** c != f for c, f in zip(counts, factors)):
        raise ValueError(f"downsample factors must be powers of two, got {tuple(factors)}")
    return [tuple(2 if c > step else 1 for c in counts) for step in range(max(counts))]


class Encoder(nn.Module):
    def __init__(self, n_hiddens: int, n_res_layers: int, downsample):
        super().__init__()
        self.convs = nn.ModuleList(
            SamePadConv3d(3 if step == 0 else n_hiddens, n_hiddens, 4, stride=stride)
            for step, stride in enumerate(_halvings(downsample)))
        self.conv_last = SamePadConv3d(n_hiddens, n_hiddens, 3)
        self.res_stack = _residual_stack(n_hiddens, n_res_layers)
        # A module rather than F.relu (no weights, same keys): DeconvNet's projection rectifies at nn.ReLU.
        self.relu = nn.ReLU()

    def forward(self, x):
        for conv in self.convs:
            x = self.relu(conv(x))
        return self.res_stack(self.conv_last(x))


class Decoder(nn.Module):
    def __init__(self, n_hiddens: int, n_res_layers: int, upsample):
        super().__init__()
        self.res_stack = _residual_stack(n_hiddens, n_res_layers)
        strides = _halvings(upsample)
        self.convts = nn.ModuleList(
            SamePadConvTranspose3d(n_hiddens, 3 if step == len(strides) - 1 else n_hiddens, 4, stride=stride)
            for step, stride in enumerate(strides))
        self.relu = nn.ReLU()

    def forward(self, x):
        x = self.res_stack(x)
        for step, convt in enumerate(self.convts):
            x = convt(x)
            if step < len(self.convts) - 1:
                x = self.relu(x)
        return x


class Codebook(nn.Module):
    """The 2048 code vectors (buffer ``embeddings``) and VideoGPT's EMA statistics (``N``, ``z_avg``,
    kept only so the checkpoint loads strictly). Forward: nearest code per position, with the
    straight-through gradient (the output's gradient passes to the input unchanged)."""

    def __init__(self, n_codes: int, embedding_dim: int):
        super().__init__()
        self.register_buffer("embeddings", torch.randn(n_codes, embedding_dim))
        self.register_buffer("N", torch.zeros(n_codes))
        self.register_buffer("z_avg", self.embeddings.clone())

    def nearest_codes(self, z: torch.Tensor) -> torch.Tensor:
        """(B, D, T, H, W) -> code indices (B, T, H, W) by Euclidean distance."""
        flat = z.movedim(1, -1).flatten(0, -2)
        distances = (flat.pow(2).sum(1, keepdim=True) - 2 * flat @ self.embeddings.t()
                     + self.embeddings.pow(2).sum(1)[None])
        return distances.argmin(1).view(z.shape[0], *z.shape[2:])

    def forward(self, z):
        quantized = F.embedding(self.nearest_codes(z), self.embeddings).movedim(-1, 1)
        return z + (quantized - z).detach()


class VQVAE(nn.Module):
    """Children in the official order (encoder, decoder, pre_vq_conv, post_vq_conv, codebook)."""

    def __init__(self, n_hiddens: int = 240, n_res_layers: int = 4, downsample=(4, 4, 4), embedding_dim: int = 256,
                 n_codes: int = 2048):
        super().__init__()
        self.encoder = Encoder(n_hiddens, n_res_layers, downsample)
        self.decoder = Decoder(n_hiddens, n_res_layers, downsample)
        self.pre_vq_conv = SamePadConv3d(n_hiddens, embedding_dim, 1)
        self.post_vq_conv = SamePadConv3d(embedding_dim, n_hiddens, 1)
        self.codebook = Codebook(n_codes, embedding_dim)

    def encode(self, x):
        """Clip in [−0.5, 0.5] -> continuous latent (B, embedding_dim, T/4, H/4, W/4), before quantization."""
        return self.pre_vq_conv(self.encoder(x))

    def forward(self, x):
        """Clip in [−0.5, 0.5] -> its reconstruction, same shape."""
        return self.decoder(self.post_vq_conv(self.codebook(self.encode(x))))


def build_videogpt_vqvae(**overrides) -> VQVAE:
    """The UCF-101 VQ-VAE architecture with random weights (keyword overrides for tiny test sizes)."""
    return VQVAE(**{**UCF101_HPARAMS, **overrides})
