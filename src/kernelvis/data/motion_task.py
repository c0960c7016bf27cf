"""The synthetic motion-classification task the demo model learns, and a reusable training loop.

Classes (:data:`MOTION_CLASSES`, 13): translation in 8 directions (0°, 45°, …, 315°, the README's Conventions
convention), rotation counter-clockwise and clockwise, expansion, contraction, and static. Every clip
draws its texture family (periodic smooth noise or a scikit-image photograph crop), speed, contrast
and brightness at random, so the only thing that tells the classes apart is the motion: a network
that solves the task must have kernels with real, knowable motion preferences.

:func:`train_motion_model` trains any ``nn.Module`` mapping (N, 3, T, H, W) clips to class logits
(the demo CNN, its 3TConv version); it is deterministic for a given seed and thread count.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from kernelvis.data import synthetic
from kernelvis.errors import BadInputError, OptimizationDivergedError
from kernelvis.io import to_uint8

TRANSLATION_DIRECTIONS_DEG = tuple(range(0, 360, 45))
MOTION_CLASSES = tuple(f"translate_{direction:03d}" for direction in TRANSLATION_DIRECTIONS_DEG) + (
    "rotate_ccw", "rotate_cw", "expand", "contract", "static")
DEFAULT_TEXTURES = ("noise", "noise") + synthetic.NATURAL_TEXTURES
"""Noise is listed twice: 2 in 11 clips are smooth noise, the rest photographs."""

HELDOUT_SEED_OFFSET = 1_000_003
"""The held-out set's seed is the training seed plus this: disjoint random streams."""


@dataclass(frozen=True)
class MotionTaskConfig:
    classes: tuple[str, ...] = MOTION_CLASSES
    frames: int = 16
    size: int = 48
    textures: tuple[str, ...] = DEFAULT_TEXTURES
    speed_px_per_frame: tuple[float, float] = (0.75, 2.0)
    direction_jitter_deg: float = 10.0
    """Translation directions vary by up to ± this around the class direction."""
    deg_per_frame: tuple[float, float] = (2.5, 6.0)
    rate_per_frame: tuple[float, float] = (0.025, 0.05)
    contrast: tuple[float, float] = (0.4, 1.0)
    brightness: tuple[float, float] = (-0.1, 0.1)
    train_clips_per_class: int = 64
    heldout_clips_per_class: int = 24
    train_frames: int | None = 8
    """Train on random windows of this many frames (cheaper; the model is fully convolutional in
    time). Held-out accuracy is always measured on whole ``frames``-long clips."""
    augment: bool = True
    """Random flips, transposes and time reversal, with the labels mapped accordingly (16× data)."""
    epochs: int = 24
    batch_size: int = 32
    lr: float = 3e-3
    weight_decay: float = 1e-4
    seed: int = 0
    progress: bool = False

    def __post_init__(self):
        unknown = sorted(set(self.classes) - set(MOTION_CLASSES))
        if unknown:
            raise BadInputError(f"unknown motion classes {unknown}; choose from: {', '.join(MOTION_CLASSES)}")
        for texture in self.textures:
            if texture not in synthetic.TEXTURES:
                raise BadInputError(f"unknown texture {texture!r}; choose from: {', '.join(synthetic.TEXTURES)}")


def motion_clip(class_name: str, config: MotionTaskConfig, rng: np.random.Generator) -> synthetic.Stimulus:
    """One random clip of ``class_name`` (float video in [0, 1] with its true velocity)."""
    frames, size = config.frames, config.size
    texture = config.textures[rng.integers(len(config.textures))]
    texture_seed = int(rng.integers(2 ** 31))
    if class_name.startswith("translate_"):
        direction_deg = float(class_name.split("_")[1]) + rng.uniform(-1, 1) * config.direction_jitter_deg
        stimulus = synthetic.translating_texture(frames, size, direction_deg, rng.uniform(*config.speed_px_per_frame),
                                                 texture=texture, seed=texture_seed)
    elif class_name.startswith("rotate_"):
        sign = 1.0 if class_name == "rotate_ccw" else -1.0
        stimulus = synthetic.rotating_texture(frames, size, sign * rng.uniform(*config.deg_per_frame),
                                              texture=texture, seed=texture_seed)
    elif class_name in ("expand", "contract"):
        sign = 1.0 if class_name == "expand" else -1.0
        stimulus = synthetic.expanding_texture(frames, size, sign * rng.uniform(*config.rate_per_frame),
                                               texture=texture, seed=texture_seed)
    else:
        stimulus = synthetic.static_texture(frames, size, seed=texture_seed, texture=texture)
    contrast, brightness = rng.uniform(*config.contrast), rng.uniform(*config.brightness)
    video = np.clip(0.5 + brightness + contrast * (stimulus.video - 0.5), 0.0, 1.0).astype(np.float32)
    return synthetic.Stimulus(video, stimulus.velocity)


def motion_clips(config: MotionTaskConfig, clips_per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A labelled clip set: uint8 videos [N, T, H, W, 3] and int64 labels [N] (index into
    ``config.classes``), classes interleaved. Clip i depends only on (seed, i): reproducible."""
    count = clips_per_class * len(config.classes)
    videos = np.empty((count, config.frames, config.size, config.size, 3), dtype=np.uint8)
    labels = np.arange(count, dtype=np.int64) % len(config.classes)
    for index in range(count):
        rng = np.random.default_rng([seed, index])
        videos[index] = to_uint8(motion_clip(config.classes[labels[index]], config, rng).video)
    return videos, labels


# --- label-aware symmetry augmentation ---------------------------------------------------------------
# Each operation acts on (x right, y down) and time; the tables say where each class goes.

def _translation_class(direction_deg: float) -> str:
    return f"translate_{int(round(direction_deg)) % 360:03d}"


def _mapped_class(class_name: str, operation: str) -> str:
    """The class of a clip of ``class_name`` after ``operation`` (hflip, vflip, transpose, reverse)."""
    if class_name.startswith("translate_"):
        direction = float(class_name.split("_")[1])
        return _translation_class({"hflip": 180 - direction, "vflip": -direction, "transpose": 270 - direction,
                                   "reverse": direction + 180}[operation])
    swaps = {"rotate_ccw": "rotate_cw", "rotate_cw": "rotate_ccw", "expand": "contract", "contract": "expand"}
    if class_name.startswith("rotate_") or (operation == "reverse" and class_name in swaps):
        return swaps[class_name]
    return class_name


def augmentation_table(classes: tuple[str, ...]) -> dict[str, np.ndarray] | None:
    """operation -> label permutation, or None when the class set is not closed under the symmetries."""
    index = {name: position for position, name in enumerate(classes)}
    table = {}
    for operation in ("hflip", "vflip", "transpose", "reverse"):
        mapped = [index.get(_mapped_class(name, operation)) for name in classes]
        if any(target is None for target in mapped):
            return None
        table[operation] = np.array(mapped)
    return table


def apply_symmetry(video: np.ndarray, operation: str) -> np.ndarray:
    """A [T, H, W, ...] clip mirrored left-right (hflip), top-bottom (vflip), transposed (x <-> y)
    or played backwards (reverse). A view, not a copy."""
    if operation == "transpose":
        return video.swapaxes(1, 2)
    return np.flip(video, axis={"hflip": 2, "vflip": 1, "reverse": 0}[operation])


def _augment(video: np.ndarray, label: int, table: dict[str, np.ndarray], rng: np.random.Generator):
    """A random element of the 16-element symmetry group (8 mirror/rotations × time direction)."""
    for operation in ("hflip", "vflip", "reverse", "transpose"):
        if rng.random() < 0.5:
            video, label = apply_symmetry(video, operation), table[operation][label]
    return video, label


def clips_to_tensor(videos_uint8: np.ndarray) -> torch.Tensor:
    """uint8 [N, T, H, W, 3] -> float (N, 3, T, H, W) in [0, 1]."""
    return torch.from_numpy(videos_uint8).permute(0, 4, 1, 2, 3).float().div_(255.0)


def _training_batch(videos, labels, batch, window, table, rng):
    """Clips ``batch`` cut to random ``window``-frame windows, symmetry-augmented when ``table``."""
    starts = rng.integers(0, videos.shape[1] - window + 1, len(batch))
    out_videos, out_labels = [], []
    for index, start in zip(batch, starts):
        video, label = videos[index, start:start + window], labels[index]
        if table is not None:
            video, label = _augment(video, label, table, rng)
        out_videos.append(np.ascontiguousarray(video))
        out_labels.append(label)
    return np.stack(out_videos), np.array(out_labels, dtype=np.int64)


@torch.no_grad()
def evaluate(model: nn.Module, videos: np.ndarray, labels: np.ndarray, preprocessing: Callable,
             batch_size: int = 64) -> np.ndarray:
    """Predicted class per clip (eval mode)."""
    model.eval()
    predictions = [model(preprocessing(clips_to_tensor(videos[start:start + batch_size]))).argmax(1)
                   for start in range(0, len(labels), batch_size)]
    return torch.cat(predictions).numpy()


@dataclass
class TrainingMetrics:
    classes: list[str]
    train_clips: int
    heldout_clips: int
    epochs: int
    heldout_accuracy: float
    train_accuracy: float
    """Accuracy on the training set at the end (eval mode)."""
    heldout_accuracy_per_class: dict[str, float]
    epoch_loss: list[float]
    data_seconds: float
    train_seconds: float
    total_seconds: float
    threads: int
    config: dict = field(default_factory=dict)


def train_motion_model(model: nn.Module, config: MotionTaskConfig = MotionTaskConfig(),
                       preprocessing: Callable | None = None) -> tuple[nn.Module, TrainingMetrics]:
    """Train ``model`` on the motion task and report held-out accuracy.

    ``preprocessing`` maps (N, 3, T, H, W) RGB in [0, 1] to the model's input (default: the demo
    model's normalization). Seed the model's construction yourself (``torch.manual_seed``) for a
    reproducible initialization; batching order and data follow ``config.seed``.
    """
    if preprocessing is None:
        from kernelvis.models.demo import DEMO_PREPROCESSING
        preprocessing = DEMO_PREPROCESSING
    start = time.perf_counter()
    train_videos, train_labels = motion_clips(config, config.train_clips_per_class, config.seed)
    heldout_videos, heldout_labels = motion_clips(config, config.heldout_clips_per_class,
                                                  config.seed + HELDOUT_SEED_OFFSET)
    data_seconds = time.perf_counter() - start
    if config.progress:
        print(f"generated {len(train_labels)} training + {len(heldout_labels)} held-out clips in {data_seconds:.1f} s",
              flush=True)

    generator = torch.Generator().manual_seed(config.seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    steps_per_epoch = -(-len(train_labels) // config.batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr, total_steps=config.epochs * steps_per_epoch,
                                                   pct_start=0.2)
    table = augmentation_table(config.classes) if config.augment else None
    if config.augment and table is None:
        raise BadInputError("augment=True needs a class set closed under flips and time reversal "
                            "(e.g. all 8 directions); pass augment=False")
    window = min(config.train_frames or config.frames, config.frames)
    augment_rng = np.random.default_rng([config.seed, 1])
    epoch_loss = []
    for epoch in range(config.epochs):
        model.train()
        order = torch.randperm(len(train_labels), generator=generator).numpy()
        total_loss = 0.0
        for step in range(steps_per_epoch):
            batch = order[step * config.batch_size:(step + 1) * config.batch_size]
            videos, labels = _training_batch(train_videos, train_labels, batch, window, table, augment_rng)
            loss = F.cross_entropy(model(preprocessing(clips_to_tensor(videos))), torch.from_numpy(labels))
            if not torch.isfinite(loss):
                raise OptimizationDivergedError(f"training loss became {loss.item()} at epoch {epoch + 1}; lower --lr")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            total_loss += loss.item() * len(batch)
        epoch_loss.append(total_loss / len(train_labels))
        if config.progress:
            print(f"epoch {epoch + 1}/{config.epochs}: loss {epoch_loss[-1]:.3f} "
                  f"({time.perf_counter() - start:.0f} s)", flush=True)

    heldout_predictions = evaluate(model, heldout_videos, heldout_labels, preprocessing)
    train_predictions = evaluate(model, train_videos, train_labels, preprocessing)
    total_seconds = time.perf_counter() - start
    per_class = {name: float(np.mean(heldout_predictions[heldout_labels == index] == index))
                 for index, name in enumerate(config.classes)}
    metrics = TrainingMetrics(
        classes=list(config.classes), train_clips=len(train_labels), heldout_clips=len(heldout_labels),
        epochs=config.epochs, heldout_accuracy=float(np.mean(heldout_predictions == heldout_labels)),
        train_accuracy=float(np.mean(train_predictions == train_labels)), heldout_accuracy_per_class=per_class,
        epoch_loss=epoch_loss, data_seconds=data_seconds, train_seconds=total_seconds - data_seconds,
        total_seconds=total_seconds, threads=torch.get_num_threads(), config=asdict(config))
    model.eval()
    return model, metrics
