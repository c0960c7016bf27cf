"""The demo model: a small 3D CNN trained on synthetic motion (see ``kernelvis train-demo``).

Its kernels have real, knowable motion preferences, so the whole pipeline can be checked against
ground truth. Layers ``conv1`` … ``conv4`` are the Conv3d layers (pre-BN, pre-ReLU outputs, as the
paper's objective uses). Input: RGB in [0, 1], 16 frames × 48×48, normalized with mean 0.5, std 0.25.
"""

from __future__ import annotations

import torch.nn as nn

from kernelvis.models.preprocessing import Preprocessing

DEMO_PREPROCESSING = Preprocessing(mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25), frames=16, size=48)
DEMO_WEIGHTS_FILE = "kernelvis_demo.pt"
DEMO_NUM_CLASSES = 13
"""The motion task's classes (``kernelvis.data.motion_task.MOTION_CLASSES``)."""


def _block(in_channels: int, out_channels: int, kernel, stride, padding):
    return nn.Conv3d(in_channels, out_channels, kernel, stride, padding, bias=False), nn.BatchNorm3d(out_channels), nn.ReLU(inplace=False)


class DemoNet(nn.Module):
    def __init__(self, num_classes: int = DEMO_NUM_CLASSES, widths=(16, 24, 32, 48)):
        super().__init__()
        # conv1 strides 2 in space: a 5x5 kernel still sees fine detail, and training is ~4x cheaper on CPU
        self.conv1, self.bn1, self.relu1 = _block(3, widths[0], (3, 5, 5), (1, 2, 2), (1, 2, 2))
        self.conv2, self.bn2, self.relu2 = _block(widths[0], widths[1], (3, 3, 3), (1, 2, 2), (1, 1, 1))
        self.conv3, self.bn3, self.relu3 = _block(widths[1], widths[2], (3, 3, 3), (2, 2, 2), (1, 1, 1))
        self.conv4, self.bn4, self.relu4 = _block(widths[2], widths[3], (3, 3, 3), (2, 2, 2), (1, 1, 1))
        self.pool = nn.AdaptiveAvgPool3d(1)
        self.fc = nn.Linear(widths[3], num_classes)

    def forward(self, x):
        for index in range(1, 5):
            x = getattr(self, f"relu{index}")(getattr(self, f"bn{index}")(getattr(self, f"conv{index}")(x)))
        return self.fc(self.pool(x).flatten(1))


def build_demo_model(num_classes: int = DEMO_NUM_CLASSES) -> nn.Module:
    return DemoNet(num_classes)
