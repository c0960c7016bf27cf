"""Held-out accuracy of the 3TConv demo (demo3t) on the full synthetic motion task, printed as a table.

Variants: ``shift`` (random initial drift per filter, the train-3t default), ``identity`` (the
3TConv paper's identity initialization) and ``demo3d`` (the ordinary 3D demo, for reference).
Same data, seed and training loop (``kernelvis.training.train_motion_model``) for all, with the workflow's
training numerics (one thread, torch capped at AVX2: kernelvis.numerics).

    .venv/bin/python benchmarks/train_3t.py                      # quick: 1 epoch of 16 clips per class
    .venv/bin/python benchmarks/train_3t.py --full               # full size: the motion task's defaults
    .venv/bin/python benchmarks/train_3t.py --full --variants shift --save-dir /tmp/demo3t
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from kernelvis.numerics import TRAINING_THREADS, request_portable_isa

request_portable_isa()  # before torch is imported: the workflow's training numerics
import torch  # noqa: E402

from kernelvis.data.motion_task import MotionTaskConfig
from kernelvis.training import train_motion_model
from kernelvis.models.conv3t import build_demo3t_model
from kernelvis.models.demo import DEMO_PREPROCESSING, DemoNet


def build(variant: str, classes: int, seed: int, shift_std: float):
    torch.manual_seed(seed)
    if variant == "shift":
        return build_demo3t_model(classes, shift_std, seed)
    if variant == "identity":
        return build_demo3t_model(classes)
    if variant == "demo3d":
        return DemoNet(classes)
    raise SystemExit(f"unknown variant {variant!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", nargs="+", default=["shift", "identity", "demo3d"])
    parser.add_argument("--full", action="store_true", help="the motion task's full size (an hour on 1 thread)")
    parser.add_argument("--epochs", type=int, default=None, help="default: 1, with --full the task's own")
    parser.add_argument("--clips-per-class", type=int, default=None, help="default: 16, with --full the task's own")
    parser.add_argument("--shift-std", type=float, default=0.7, help="px/frame, for the shift variant")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save-dir", default=None, help="also save each variant's state dict here")
    args = parser.parse_args()
    full = MotionTaskConfig()
    epochs = args.epochs or (full.epochs if args.full else 1)
    clips_per_class = args.clips_per_class or (full.train_clips_per_class if args.full else 16)
    heldout = full.heldout_clips_per_class if args.full else 8
    config = MotionTaskConfig(epochs=epochs, train_clips_per_class=clips_per_class, heldout_clips_per_class=heldout,
                              seed=args.seed)
    print(f"motion task: {len(config.classes)} classes, {config.train_clips_per_class}/class train, "
          f"{config.heldout_clips_per_class}/class held out, {config.frames}x{config.size}x{config.size}, "
          f"{config.epochs} epochs, {TRAINING_THREADS} thread(s)")
    print(f"{'variant':<10} {'params':>8} {'held-out acc':>13} {'train acc':>10} {'seconds':>8}")
    for variant in args.variants:
        model = build(variant, len(config.classes), args.seed, args.shift_std)
        started = time.perf_counter()
        model, metrics = train_motion_model(model, config, DEMO_PREPROCESSING)
        seconds = time.perf_counter() - started
        parameters = sum(p.numel() for p in model.parameters())
        print(f"{variant:<10} {parameters:>8d} {metrics.heldout_accuracy:>13.3f} {metrics.train_accuracy:>10.3f} "
              f"{seconds:>8.0f}", flush=True)
        if args.save_dir:
            Path(args.save_dir).mkdir(parents=True, exist_ok=True)
            torch.save(model.state_dict(), Path(args.save_dir) / f"{variant}.pt")


if __name__ == "__main__":
    main()
