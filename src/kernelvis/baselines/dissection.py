"""Network dissection for video (Bau et al. 2017, docs/baselines.md), with synthetic concept clips.

Concepts come from clips whose per-pixel labels are known exactly, built from
:mod:`kernelvis.data.synthetic`: a textured, coloured square moving over a static textured
background. Every pixel of every frame carries labels in four categories:

* ``object``: ``moving object`` / ``background``;
* ``motion``: ``motion {d}°`` (the object's direction, 8 classes, the README's angle convention);
* ``texture``: the texture family under the pixel (object's or background's);
* ``colour``: the object's tint (the background keeps its own colours and gets no colour label).

Per kernel k: the threshold T_k with P(a_k > T_k) = ``quantile`` over all (clip, t, h, w) of the
layer's output; each map is upsampled to the clip, anchored at receptive-field centres (probed,
so strided, valid-padded and temporally pooled layers line up); M_k = [S_k ≥ T_k];
IoU_{k,c} = Σ|M_k ∩ L_c| / Σ|M_k ∪ L_c| summed over the whole set. Kernel k detects
argmax_c IoU_{k,c} when that IoU exceeds ``iou_threshold`` (0.04).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch

from kernelvis.baselines.dataset_examples import clips_to_tensor, receptive_field_supports, support_box
from kernelvis.data import synthetic
from kernelvis.errors import BadInputError
from kernelvis.geometry import unit_velocity
from kernelvis.models.loaded import LoadedModel
from kernelvis.models.activation import layer_output

QUANTILE = 0.005
IOU_THRESHOLD = 0.04
DIRECTIONS_DEG = tuple(range(0, 360, 45))
COLOURS_RGB = {"red": (1.0, 0.15, 0.15), "green": (0.15, 0.9, 0.15), "blue": (0.2, 0.3, 1.0), "yellow": (1.0, 0.9, 0.1)}
TEXTURE_FAMILIES = ("noise", "brick", "grass", "gravel")
CATEGORIES = ("object", "motion", "texture", "colour")


@dataclass(frozen=True)
class Concept:
    name: str
    category: str


@dataclass
class ConceptSet:
    videos: np.ndarray
    """float32 [N, T, H, W, 3] in [0, 1]"""
    labels: np.ndarray
    """bool [N, C, T, H, W]: labels[n, c] is concept c's mask in clip n"""
    concepts: list[Concept]


def concept_names() -> list[Concept]:
    concepts = [Concept("moving object", "object"), Concept("background", "object")]
    concepts += [Concept(f"motion {d}°", "motion") for d in DIRECTIONS_DEG]
    concepts += [Concept(f"texture {t}", "texture") for t in TEXTURE_FAMILIES]
    concepts += [Concept(colour, "colour") for colour in COLOURS_RGB]
    return concepts


def _tint(video: np.ndarray, rgb: Sequence[float]) -> np.ndarray:
    """Keep the texture's luminance structure, in one hue; the 0.4 floor keeps dark pixels coloured."""
    luminance = video.mean(axis=-1, keepdims=True)
    return (np.asarray(rgb, dtype=np.float32) * (0.4 + 0.6 * luminance)).astype(np.float32)


def _square_masks(frames: int, size: int, side_px: int, start_xy: np.ndarray, velocity_xy: np.ndarray) -> np.ndarray:
    """bool [T, H, W]: a square of ``side_px`` whose centre moves from ``start_xy`` by ``velocity_xy`` per frame."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float64)
    centres = start_xy[None] + np.arange(frames)[:, None] * velocity_xy[None]
    half = side_px / 2.0
    return ((np.abs(x[None] - centres[:, 0, None, None]) < half) & (np.abs(y[None] - centres[:, 1, None, None]) < half))


def concept_clips(frames: int = 16, size: int = 48, clips: int = 16, speed_px_per_frame: float = 1.5,
                  textures: Sequence[str] = TEXTURE_FAMILIES, seed: int = 0) -> ConceptSet:
    """``clips`` labelled clips; clip i moves in direction ``DIRECTIONS_DEG[i % 8]`` and has colour
    ``(i // 2) % 4`` so that motion and colour are not confounded; textures are drawn with ``seed``."""
    unknown = [t for t in textures if t not in TEXTURE_FAMILIES]
    if unknown:
        raise BadInputError(f"unknown texture family {unknown[0]!r}; choose from {', '.join(TEXTURE_FAMILIES)}")
    rng = np.random.default_rng(seed)
    concepts = concept_names()
    index = {c.name: i for i, c in enumerate(concepts)}
    colours = list(COLOURS_RGB)
    side_px = max(3, size // 3)
    videos = np.zeros((clips, frames, size, size, 3), dtype=np.float32)
    labels = np.zeros((clips, len(concepts), frames, size, size), dtype=bool)
    for n in range(clips):
        direction = DIRECTIONS_DEG[n % len(DIRECTIONS_DEG)]
        colour = colours[(n // 2) % len(colours)]
        object_texture, background_texture = rng.choice(list(textures), 2, replace=len(textures) < 2)
        velocity = speed_px_per_frame * np.array(unit_velocity(direction))
        travel = velocity * (frames - 1)
        centre = (size - 1) / 2.0
        start = centre - travel / 2.0  # the path is centred, so the square stays in view
        mask = _square_masks(frames, size, side_px, start, velocity)
        background = synthetic.static_texture(frames, size, seed=int(rng.integers(1 << 30)), texture=str(background_texture)).video
        moving = synthetic.translating_texture(frames, size, float(direction), speed_px_per_frame,
                                               texture=str(object_texture), seed=int(rng.integers(1 << 30))).video
        videos[n] = np.where(mask[..., None], _tint(moving, COLOURS_RGB[colour]), background)
        labels[n, index["moving object"]] = mask
        labels[n, index["background"]] = ~mask
        labels[n, index[f"motion {direction}°"]] = mask
        labels[n, index[f"texture {object_texture}"]] |= mask
        labels[n, index[f"texture {background_texture}"]] |= ~mask
        labels[n, index[colour]] = mask
    return ConceptSet(videos, labels, concepts)


def crop_concepts(concepts: ConceptSet, height: int, width: int) -> ConceptSet:
    """The central ``height`` × ``width`` window of every clip and mask (concept clips are made
    square; a non-square model such as TransNetV2 (27×48) sees them at its native frame shape)."""
    full_h, full_w = concepts.videos.shape[2:4]
    top, left = (full_h - height) // 2, (full_w - width) // 2
    return ConceptSet(np.ascontiguousarray(concepts.videos[:, :, top:top + height, left:left + width]),
                      np.ascontiguousarray(concepts.labels[..., top:top + height, left:left + width]),
                      concepts.concepts)


# ---------------------------------------------------------------------------------------------


def rf_anchors(model: LoadedModel, layer: str, clip_shape: tuple[int, int, int],
               feature_shape: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(offset, stride) per axis (t, h, w): layer position i sits over input coordinate
    offset + stride·i, the centre of its receptive field.

    Probed at the middle layer position and the next one; a receptive field cut by the clip border
    is completed from the other side with the larger of the two extents. Where the probe sees no
    gradient (saturated units), layer cells are taken to tile the clip evenly."""
    clip_shape, feature_shape = np.array(clip_shape), np.array(feature_shape)
    even_stride = clip_shape / feature_shape
    first = feature_shape // 2
    second = np.minimum(first + 1, feature_shape - 1)
    supports = receptive_field_supports(model, layer, None, np.stack([first, second]), tuple(clip_shape))
    boxes = [support_box(support) for support in supports]
    if any(box is None for box in boxes):
        return (even_stride - 1) / 2.0, even_stride
    low, high = np.stack([b[0::2] for b in boxes]), np.stack([b[1::2] for b in boxes])  # [2, 3]
    extent = (high - low).max(axis=0)
    centre = (low + high - 1) / 2.0
    cut_low, cut_high = low == 0, high == clip_shape
    centre = np.where(cut_low & ~cut_high, high - extent / 2.0 - 0.5, centre)
    centre = np.where(cut_high & ~cut_low, low + extent / 2.0 - 0.5, centre)
    stride = np.where(second > first, centre[1] - centre[0], even_stride)
    stride = np.where(stride > 0, stride, even_stride)
    return centre[0] - stride * first, stride


def upsample_maps(maps: torch.Tensor, clip_shape: tuple[int, int, int], offset: np.ndarray, stride: np.ndarray) -> torch.Tensor:
    """Trilinear upsampling of (N, K, T', H', W') maps to the clip grid with layer position i over
    input coordinate offset + stride·i (border values beyond the first/last centre). Separable and
    explicit, so a clip position right over a layer position gets exactly that value."""
    for axis, (size, o, s) in enumerate(zip(clip_shape, offset, stride)):
        dim = 2 + axis
        feature_size = maps.shape[dim]
        position = ((np.arange(size, dtype=np.float64) - o) / s).clip(0, feature_size - 1)
        low = np.floor(position).astype(np.int64)
        high = np.minimum(low + 1, feature_size - 1)
        weight_shape = [1] * maps.ndim
        weight_shape[dim] = size
        weight = torch.from_numpy(position - low).to(maps.dtype).view(weight_shape)
        maps = (maps.index_select(dim, torch.from_numpy(low)) * (1 - weight)
                + maps.index_select(dim, torch.from_numpy(high)) * weight)
    return maps


@dataclass
class LayerDissection:
    layer: str
    concepts: list[Concept]
    thresholds: np.ndarray
    """float32 [K]"""
    iou: np.ndarray
    """float32 [K, C]"""
    iou_threshold: float = IOU_THRESHOLD
    best_concept: np.ndarray = field(init=False)
    best_iou: np.ndarray = field(init=False)

    def __post_init__(self):
        self.best_concept = self.iou.argmax(axis=1)
        self.best_iou = self.iou.max(axis=1)

    @property
    def detectors(self) -> np.ndarray:
        return self.best_iou > self.iou_threshold

    def label(self, kernel: int) -> str | None:
        return self.concepts[self.best_concept[kernel]].name if self.detectors[kernel] else None

    def counts(self) -> dict:
        """Detector units and unique detected concepts, in all and per category."""
        detected = [self.concepts[c] for c, d in zip(self.best_concept, self.detectors) if d]
        unique = {c.name: c for c in detected}.values()
        return {"layer": self.layer, "kernels": int(len(self.best_iou)), "detectors": len(detected),
                "unique_concepts": len(unique),
                "detectors_per_category": {cat: sum(c.category == cat for c in detected) for cat in CATEGORIES},
                "unique_concepts_per_category": {cat: sum(c.category == cat for c in unique) for cat in CATEGORIES}}

    def rows(self) -> list[dict]:
        return [{"layer": self.layer, "kernel": k, "concept": self.concepts[c].name, "category": self.concepts[c].category,
                 "iou": round(float(iou), 6), "detector": bool(d)}
                for k, (c, iou, d) in enumerate(zip(self.best_concept, self.best_iou, self.detectors))]


def dissect(model: LoadedModel, layer: str, concept_set: ConceptSet, quantile: float = QUANTILE,
            iou_threshold: float = IOU_THRESHOLD, batch_size: int = 8) -> LayerDissection:
    """IoU of every kernel of ``layer`` with every concept, summed over the concept clips."""
    if not 0.0 < quantile < 1.0:
        raise BadInputError(f"quantile must lie in (0, 1), got {quantile}")
    videos, labels = concept_set.videos, concept_set.labels
    with torch.no_grad():
        maps = torch.cat([layer_output(model, layer, clips_to_tensor(videos[s:s + batch_size]))
                          for s in range(0, len(videos), batch_size)])
    if maps.ndim != 5:
        raise BadInputError(f"layer {layer!r} output is {tuple(maps.shape)}, not (N, C, T, H, W)")
    kernels = maps.shape[1]
    # one kernel at a time: a transposed copy of all maps would double the memory on big layers
    thresholds = np.array([np.quantile(maps[:, k].numpy(), 1.0 - quantile, method="linear") for k in range(kernels)],
                          dtype=np.float32)
    clip_shape = tuple(videos.shape[1:4])
    offset, stride = rf_anchors(model, layer, clip_shape, tuple(maps.shape[2:]))
    threshold = torch.from_numpy(thresholds).view(1, -1, 1, 1, 1)
    intersection = np.zeros((kernels, len(concept_set.concepts)), dtype=np.float64)
    mask_total = np.zeros(kernels, dtype=np.float64)
    label_total = labels.reshape(len(videos), len(concept_set.concepts), -1).sum(axis=(0, 2)).astype(np.float64)
    for start in range(0, len(videos), batch_size):
        masks = (upsample_maps(maps[start:start + batch_size], clip_shape, offset, stride) >= threshold)
        masks = masks.flatten(2).float()  # (n, K, P)
        concept_masks = torch.from_numpy(labels[start:start + batch_size]).flatten(2).float()  # (n, C, P)
        intersection += torch.einsum("nkp,ncp->kc", masks, concept_masks).double().numpy()
        mask_total += masks.sum(dim=(0, 2)).double().numpy()
    union = mask_total[:, None] + label_total[None, :] - intersection
    iou = (intersection / (union + 1e-10)).astype(np.float32)
    return LayerDissection(layer, list(concept_set.concepts), thresholds, iou, iou_threshold)
