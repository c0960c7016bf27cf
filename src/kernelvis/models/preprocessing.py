"""How a model wants its input, and the step from a display-space video to that input.

Optimizers work on RGB video in [0, 1] shaped (N, 3, T, H, W) ("display space"). A
:class:`Preprocessing` turns that into exactly what the network saw at evaluation: value range,
channel order, mean/std and, for two-pathway networks, the [slow, fast] list. Resizing is not part
of it: optimized clips are created at the model's native frames and frame shape (``frames``,
``frame_shape`` = (``height``, ``width``), both ``size`` for a square clip).
The ``paper`` variant reproduces the official code's choice for side-by-side figures.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
KINETICS_MEAN = (0.43216, 0.394666, 0.37645)
KINETICS_STD = (0.22803, 0.22145, 0.216989)
PYTORCHVIDEO_MEAN = (0.45, 0.45, 0.45)
PYTORCHVIDEO_STD = (0.225, 0.225, 0.225)


@dataclass(frozen=True)
class Preprocessing:
    """Native input description of a model.

    ``mean``/``std`` are in the model's value units after scaling by ``value_scale`` and reordering
    to ``channel_order`` (e.g. C3D: 0–255 BGR, mean (90.25, 97.66, 101.41) B,G,R, std 1).
    """

    value_scale: float = 1.0
    channel_order: str = "RGB"
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    frames: int = 16
    size: int = 112
    """Side of a square clip; also the default of ``height`` and ``width``."""
    height: int | None = None
    """Frame height when the model's clip is not square (TransNetV2: 27×48); None: ``size``."""
    width: int | None = None
    """Frame width when the model's clip is not square; None: ``size``."""
    slowfast_alpha: int | None = None
    """For SlowFast: the fast pathway gets all frames, the slow one every ``alpha``-th."""
    resize_to: tuple[int, int, int] | None = None
    """(T, H, W) the clip is trilinearly upsampled to before the model (only the paper's variant)."""

    @property
    def frame_height(self) -> int:
        return int(self.height if self.height is not None else self.size)

    @property
    def frame_width(self) -> int:
        return int(self.width if self.width is not None else self.size)

    @property
    def frame_shape(self) -> tuple[int, int]:
        """(H, W) of the native clip."""
        return self.frame_height, self.frame_width

    @property
    def clip_label(self) -> str:
        """``TxHxW`` of the native clip, for tables and messages."""
        return f"{self.frames}x{self.frame_height}x{self.frame_width}"

    def __call__(self, video01: torch.Tensor):
        """(N, 3, T, H, W) RGB in [0, 1] -> the model's input (a tensor, or a list for SlowFast)."""
        if video01.ndim != 5 or video01.shape[1] != 3:
            raise ValueError(f"expected video shaped (N, 3, T, H, W), got {tuple(video01.shape)}")
        x = video01
        if self.resize_to is not None:
            t, h, w = x.shape[2:]
            if (t, h, w) != tuple(self.resize_to):
                x = F.interpolate(x, size=self.resize_to, mode="trilinear", align_corners=True)
        if self.channel_order == "BGR":
            x = x.flip(1)
        elif self.channel_order != "RGB":
            raise ValueError(f"unknown channel order {self.channel_order!r}")
        mean = torch.tensor(self.mean, dtype=x.dtype, device=x.device).view(1, 3, 1, 1, 1)
        std = torch.tensor(self.std, dtype=x.dtype, device=x.device).view(1, 3, 1, 1, 1)
        x = (x * self.value_scale - mean) / std
        if self.slowfast_alpha is not None:
            slow_index = torch.arange(0, x.shape[2], self.slowfast_alpha, device=x.device)
            return [x.index_select(2, slow_index), x]
        return x

    def paper_variant(self) -> "Preprocessing":
        """The official code's preprocessing: ImageNet mean/std on [0, 1] RGB and upsampling to
        32×224×224, for every model (docs/stage1.md). Pathway packing is kept (the model needs it)."""
        return replace(self, value_scale=1.0, channel_order="RGB", mean=IMAGENET_MEAN, std=IMAGENET_STD,
                       resize_to=(32, 224, 224))


def clip_frame_shape(preprocessing: Preprocessing, size: int | None = None) -> tuple[int, int]:
    """(H, W) a stage should work at: ``size`` × ``size`` when a user asked for a square side
    (``--size``), else the model's native frame shape (which may be non-square)."""
    if size:
        return int(size), int(size)
    return preprocessing.frame_shape
