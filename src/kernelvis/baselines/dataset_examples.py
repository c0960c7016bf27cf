"""Dataset examples (Zeiler & Fergus's top-9) for a kernel of a 3D network.

For each clip of a clip set, the kernel's strongest activation over (t, h, w) is found in one
batched pass that stops at the layer; the 9 clips with the largest maxima are kept (one instance
per clip, as in the paper's figures). For each of them: the spatiotemporal receptive-field tube
around the maximum (probed by gradients, so it is right for any architecture: strides, padding,
residual branches, temporal pooling) and the DeconvNet projection of that one activation.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from kernelvis.baselines.deconvnet import override_relu_backward, project
from kernelvis.data.kinetics import load_clip_set
from kernelvis.errors import BadInputError
from kernelvis.models.loaded import LoadedModel
from kernelvis.models.activation import explained_inplace_errors, layer_output

def load_clips(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """A clip set ``clips.npz`` (``kernelvis synthetic-clips`` / ``sample-clips``): clips
    [N, T, H, W, 3] (uint8, or float in [0, 1]) and one label string per clip (its class name)."""
    clip_set = load_clip_set(path)
    clips, labels = np.asarray(clip_set.clips), np.asarray(clip_set.labels)
    if clips.ndim != 5 or clips.shape[-1] != 3 or clips.shape[0] == 0:
        raise BadInputError(f"{path}: expected clips shaped [N, T, H, W, 3], got {list(clips.shape)}")
    names = clip_set.class_names
    if labels.dtype.kind in "iu" and labels.size and 0 <= labels.min() and labels.max() < len(names) and len(names) > 1:
        return clips, np.array([names[int(label)] for label in labels])
    return clips, labels.astype(str)


def clips_to_tensor(clips: np.ndarray) -> torch.Tensor:
    """[N, T, H, W, 3] uint8 or float in [0, 1] -> float32 (N, 3, T, H, W)."""
    clips = np.asarray(clips)
    video = torch.from_numpy(clips.astype(np.float32) / (255.0 if clips.dtype == np.uint8 else 1.0))
    return video.permute(0, 4, 1, 2, 3).contiguous()


@dataclass
class ActivationScan:
    """Per clip and kernel: max over (t, h, w), where it is (layer coordinates) and the mean."""

    max_activation: np.ndarray
    """float32 [N, K]"""
    max_position: np.ndarray
    """int64 [N, K, 3] (t, h, w) in the layer's output grid"""
    mean_activation: np.ndarray
    """float32 [N, K]: the stage-1 objective (channel mean), for natural-vs-optimal comparisons"""


def scan_activations(model: LoadedModel, layer: str, kernels: Sequence[int], clips: np.ndarray,
                     batch_size: int = 8, preprocessing=None) -> ActivationScan:
    """One forward pass per batch (stopped at ``layer``) gives every kernel's max and mean per clip.
    ``preprocessing``: as stage 1 used (default: the model's native)."""
    kernels = torch.as_tensor(list(kernels), dtype=torch.long)
    maxima, positions, means = [], [], []
    with torch.no_grad():
        for start in range(0, len(clips), batch_size):
            output = layer_output(model, layer, clips_to_tensor(clips[start:start + batch_size]), preprocessing)
            if output.ndim != 5:
                raise BadInputError(f"layer {layer!r} output is {tuple(output.shape)}, not (N, C, T, H, W)")
            maps = output.index_select(1, kernels)  # (n, K, T', H', W')
            flat = maps.flatten(2)
            value, index = flat.max(dim=2)
            grid = torch.stack(torch.unravel_index(index, maps.shape[2:]), dim=-1)
            maxima.append(value)
            positions.append(grid)
            means.append(flat.mean(dim=2))
    return ActivationScan(torch.cat(maxima).numpy().astype(np.float32), torch.cat(positions).numpy().astype(np.int64),
                          torch.cat(means).numpy().astype(np.float32))


def top_indices(values: np.ndarray, top: int = 9) -> np.ndarray:
    """Indices of the ``top`` largest values, largest first; ties go to the lower index."""
    values = np.asarray(values, dtype=np.float64)
    order = np.lexsort((np.arange(len(values)), -values))
    return order[:min(top, len(values))]


def receptive_field_supports(model: LoadedModel, layer: str, kernel: int | None, positions: np.ndarray,
                             clip_shape: tuple[int, int, int], repeats: int = 2, batch_size: int = 8,
                             seed: int = 0) -> np.ndarray:
    """bool [P, T, H, W]: the input positions that can influence the unit at each layer position
    ``positions[p] = (t, h, w)`` of ``kernel`` (None: of any kernel).

    Found as the support of the unit's input gradient with ReLU backward made linear; max-pool
    switches depend on the input, so the support is the union over ``repeats`` random clips. A unit
    that is saturated (zero gradient) for all of them has an empty support.
    """
    generator = torch.Generator().manual_seed(seed)
    positions = np.asarray(positions, dtype=np.int64).reshape(-1, 3)
    supports = []
    per_batch = max(1, batch_size // repeats)
    for start in range(0, len(positions), per_batch):
        chunk = positions[start:start + per_batch]
        video = torch.rand((len(chunk) * repeats, 3) + tuple(clip_shape), generator=generator).requires_grad_(True)
        with torch.enable_grad(), override_relu_backward(model.module, "identity"), explained_inplace_errors(model, layer):
            output = layer_output(model, layer, video)
            signal = torch.zeros_like(output)
            channels = slice(None) if kernel is None else kernel
            for n, (t, h, w) in enumerate(np.repeat(chunk, repeats, axis=0)):
                signal[n, channels, t, h, w] = 1.0
            (gradient,) = torch.autograd.grad(output, video, signal)
        supports.append((gradient.abs().sum(1).view(len(chunk), repeats, *clip_shape).sum(1) > 0).numpy())
    return np.concatenate(supports)


def support_box(support: np.ndarray) -> np.ndarray | None:
    """The bounding box [t0, t1, h0, h1, w0, w1) of a bool [T, H, W] support, None if empty."""
    box = []
    for axis in range(3):
        hit = np.flatnonzero(support.any(axis=tuple(a for a in range(3) if a != axis)))
        if not hit.size:
            return None
        box += [int(hit[0]), int(hit[-1]) + 1]
    return np.asarray(box, dtype=np.int64)


def receptive_field_boxes(model: LoadedModel, layer: str, kernel: int, positions: np.ndarray,
                          clip_shape: tuple[int, int, int], batch_size: int = 8, seed: int = 0) -> np.ndarray:
    """The input tube [t0, t1) × [h0, h1) × [w0, w1) that can influence the kernel's unit at each
    layer position, clipped to the clip: int64 [P, 6] (the whole clip where the probe found none)."""
    whole = np.array([0, clip_shape[0], 0, clip_shape[1], 0, clip_shape[2]], dtype=np.int64)
    supports = receptive_field_supports(model, layer, kernel, positions, clip_shape, batch_size=batch_size, seed=seed)
    boxes = [support_box(support) for support in supports]
    return np.stack([whole if box is None else box for box in boxes]).reshape(-1, 6)


def crop_tubes(videos: np.ndarray, boxes: np.ndarray, fill: float = 0.5) -> np.ndarray:
    """Crop each video [T, H, W, C] to its box; tubes cut by the clip border are padded with
    ``fill`` at the end so all crops share the largest box's shape: float32 [P, t, h, w, C]."""
    boxes = np.asarray(boxes)
    extent = (boxes[:, 1::2] - boxes[:, 0::2]).max(axis=0)
    crops = np.full((len(videos),) + tuple(int(e) for e in extent) + (videos[0].shape[-1],), fill, dtype=np.float32)
    for p, (video, (t0, t1, h0, h1, w0, w1)) in enumerate(zip(videos, boxes)):
        crops[p, :t1 - t0, :h1 - h0, :w1 - w0] = video[t0:t1, h0:h1, w0:w1]
    return crops


@dataclass
class DatasetExamples:
    kernel: int
    indices: np.ndarray
    """int64 [k]: clip indices, strongest first"""
    max_activations: np.ndarray
    """float32 [k]: each clip's max over (t, h, w)"""
    positions: np.ndarray
    """int64 [k, 3]: where that max is, in the layer grid"""
    boxes: np.ndarray
    """int64 [k, 6]: the receptive-field tube (t0, t1, h0, h1, w0, w1) in the clip"""
    clips: np.ndarray
    """float32 [k, T, H, W, 3]: the chosen clips"""
    crops: np.ndarray
    """float32 [k, t, h, w, 3]: the clips inside the tubes"""
    projections: np.ndarray
    """float32 [k, T, H, W, 3]: signed DeconvNet projection of the max activation, display space"""
    projection_crops: np.ndarray
    """float32 [k, t, h, w, 3]: the projections inside the tubes (0 outside the clip)"""
    labels: np.ndarray | None
    natural_activation: float
    """the best clip's channel-mean response (the stage-1 objective, comparable to optimal.npz's)"""
    natural_activation_index: int
    natural_max_activation: float
    """the largest single activation over all clips and positions"""

    def arrays(self) -> dict:
        arrays = {name: getattr(self, name) for name in (
            "indices", "max_activations", "positions", "boxes", "clips", "crops", "projections", "projection_crops")}
        if self.labels is not None:
            arrays["labels"] = self.labels
        arrays.update(kernel=np.int64(self.kernel), natural_activation=np.float32(self.natural_activation),
                      natural_activation_index=np.int64(self.natural_activation_index),
                      natural_max_activation=np.float32(self.natural_max_activation))
        return arrays


def dataset_examples(model: LoadedModel, layer: str, kernel: int, clips: np.ndarray, labels: np.ndarray | None = None,
                     top: int = 9, batch_size: int = 8, mode: str = "autograd", seed: int = 0,
                     scan: ActivationScan | None = None, kernel_column: int = 0) -> DatasetExamples:
    """Top-``top`` clips of ``kernel`` with receptive-field tubes and DeconvNet projections.

    ``scan`` (from :func:`scan_activations`, column ``kernel_column``) lets several kernels share
    one pass over the clips."""
    if scan is None:
        scan = scan_activations(model, layer, [kernel], clips, batch_size)
        kernel_column = 0
    maxima, positions, means = (scan.max_activation[:, kernel_column], scan.max_position[:, kernel_column],
                                scan.mean_activation[:, kernel_column])
    chosen = top_indices(maxima, top)
    chosen_clips = clips_to_tensor(clips[chosen])
    clip_shape = tuple(chosen_clips.shape[2:])
    boxes = receptive_field_boxes(model, layer, kernel, positions[chosen], clip_shape, batch_size=batch_size, seed=seed)
    projections = torch.cat([project(model, layer, chosen_clips[s:s + batch_size], kernel,
                                     positions[chosen][s:s + batch_size], mode=mode)
                             for s in range(0, len(chosen), batch_size)])
    display_clips = chosen_clips.permute(0, 2, 3, 4, 1).numpy()
    display_projections = projections.permute(0, 2, 3, 4, 1).numpy().astype(np.float32)
    best_mean = int(top_indices(means, 1)[0])
    return DatasetExamples(
        kernel=int(kernel), indices=chosen.astype(np.int64), max_activations=maxima[chosen], positions=positions[chosen],
        boxes=boxes, clips=display_clips, crops=crop_tubes(display_clips, boxes),
        projections=display_projections, projection_crops=crop_tubes(display_projections, boxes, fill=0.0),
        labels=None if labels is None else np.asarray(labels)[chosen],
        natural_activation=float(means[best_mean]), natural_activation_index=best_mean,
        natural_max_activation=float(maxima.max()))
