"""The training loop of the synthetic motion task (:mod:`kernelvis.data.motion_task`): trains any
``nn.Module`` mapping (N, 3, T, H, W) clips to class logits (the demo CNN, its 3TConv version);
deterministic for a seed: training runs on a fixed number of threads whatever the process has, and the
``kernelvis`` commands that train cap torch's vector width so that other machines get the same weights
(:mod:`kernelvis.numerics`; what was in effect is in the metrics' ``numerics``)."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from kernelvis.data.motion_task import (HELDOUT_SEED_OFFSET, MotionTaskConfig, _augment, augmentation_table,  # noqa: F401
                                        motion_clips)
from kernelvis.errors import BadInputError, OptimizationDivergedError
from kernelvis.numerics import training_numerics, training_threads


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
    """Compute threads of the training (:data:`kernelvis.numerics.TRAINING_THREADS`, whatever the job had)."""
    config: dict = field(default_factory=dict)
    numerics: dict = field(default_factory=dict)
    """What decided the rounding (:func:`kernelvis.numerics.training_numerics`): threads, CPU capability, the ISA
    environment, ``portable``."""


def train_motion_model(model: nn.Module, config: MotionTaskConfig = MotionTaskConfig(),
                       preprocessing: Callable | None = None) -> tuple[nn.Module, TrainingMetrics]:
    """Train ``model`` on the motion task and report held-out accuracy.

    ``preprocessing`` maps (N, 3, T, H, W) RGB in [0, 1] to the model's input (default: the demo
    model's normalization). Seed the model's construction yourself (``torch.manual_seed``) for a
    reproducible initialization; batching order and data follow ``config.seed``. Runs on
    :data:`~kernelvis.numerics.TRAINING_THREADS` threads (the caller's setting is restored after).
    """
    with training_threads():
        return _train(model, config, preprocessing)


def _train(model: nn.Module, config: MotionTaskConfig, preprocessing: Callable | None) -> tuple[nn.Module, TrainingMetrics]:
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
        total_seconds=total_seconds, threads=torch.get_num_threads(), config=asdict(config),
        numerics=training_numerics())
    model.eval()
    return model, metrics
