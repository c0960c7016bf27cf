"""C3D (Tran et al. 2015), the classic 8-conv 3D network, with the Sports-1M port's parameter names.

Layer names follow the widely used PyTorch port of the Caffe model (weights file ``c3d.pickle``):
``conv1, pool1, conv2, pool2, conv3a, conv3b, pool3, conv4a, conv4b, pool4, conv5a, conv5b, pool5,
fc6, fc7, fc8``, every conv 3×3×3 with padding 1. ``pool1`` pools only in space so early layers
keep all 16 frames. ``forward`` returns logits, not the port's softmax: activation maximization on
a softmax output would reward suppressing the other 486 classes instead of exciting one.

Input: 16 frames × 112×112, 0–255 BGR minus the Sports-1M mean (see :data:`C3D_PREPROCESSING`);
``fc6`` needs exactly that size (512 × 1 × 4 × 4 = 8192 features).
"""

from __future__ import annotations

import torch.nn as nn

from kernelvis.models.preprocessing import Preprocessing

C3D_NUM_CLASSES = 487
C3D_PREPROCESSING = Preprocessing(value_scale=255.0, channel_order="BGR", mean=(90.25, 97.66, 101.41),
                                  std=(1.0, 1.0, 1.0), frames=16, size=112)
"""Caffe convention: 0–255, BGR, the Sports-1M training mean per channel in B, G, R order."""

# (name, in_channels, out_channels) of each conv, and the pooling after each conv group.
_CONVS = (("conv1", 3, 64), ("conv2", 64, 128), ("conv3a", 128, 256), ("conv3b", 256, 256),
          ("conv4a", 256, 512), ("conv4b", 512, 512), ("conv5a", 512, 512), ("conv5b", 512, 512))
_POOL_AFTER = {"conv1": "pool1", "conv2": "pool2", "conv3b": "pool3", "conv4b": "pool4", "conv5b": "pool5"}


class C3D(nn.Module):
    def __init__(self, num_classes: int = C3D_NUM_CLASSES, dropout: float = 0.5):
        super().__init__()
        for name, in_channels, out_channels in _CONVS:
            setattr(self, name, nn.Conv3d(in_channels, out_channels, kernel_size=3, padding=1))
        self.pool1 = nn.MaxPool3d(kernel_size=(1, 2, 2), stride=(1, 2, 2))
        for index in (2, 3, 4):
            setattr(self, f"pool{index}", nn.MaxPool3d(kernel_size=2, stride=2))
        self.pool5 = nn.MaxPool3d(kernel_size=2, stride=2, padding=(0, 1, 1))
        self.fc6 = nn.Linear(8192, 4096)
        self.fc7 = nn.Linear(4096, 4096)
        self.fc8 = nn.Linear(4096, num_classes)
        self.relu = nn.ReLU()
        self.dropout = nn.Dropout(p=dropout)

    def forward(self, x):
        for name, _, _ in _CONVS:
            x = self.relu(getattr(self, name)(x))
            if name in _POOL_AFTER:
                x = getattr(self, _POOL_AFTER[name])(x)
        x = x.flatten(1)
        x = self.dropout(self.relu(self.fc6(x)))
        x = self.dropout(self.relu(self.fc7(x)))
        return self.fc8(x)


def build_c3d(num_classes: int = C3D_NUM_CLASSES) -> nn.Module:
    return C3D(num_classes)
