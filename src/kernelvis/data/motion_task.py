"""The synthetic motion-classification task the demo model learns (its training loop: :mod:`kernelvis.training`).

Classes (:data:`MOTION_CLASSES`, 13): translation in 8 directions (0°, 45°, …, 315°, the README's Conventions
convention), rotation counter-clockwise and clockwise, expansion, contraction, and static. Every clip
draws its texture family (periodic smooth noise or a scikit-image photograph crop), speed, contrast
and brightness at random, so the only thing that tells the classes apart is the motion: a network
that solves the task must have kernels with real, knowable motion preferences.

This module holds no torch: the task's settings are read while the command line is built.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kernelvis.data import synthetic
from kernelvis.errors import BadInputError
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
