"""Demo-model training: held-out accuracy and time. Prints; asserts nothing.

    .venv/bin/python benchmarks/demo_training.py          # quick: 6 epochs of 32 clips per class (about a minute)
    .venv/bin/python benchmarks/demo_training.py --full [--seed 0] [--out-file results/demo/demo_model.pt]

``--full`` is the workflow's training (kernelvis train-demo's defaults, docs/data.md: 15+ minutes on a loaded
2-core machine); without it the same loop runs on a reduced task so `make bench` stays short.

The training runs as the workflow's does: one thread and torch capped at AVX2 (kernelvis.numerics), so
``--full`` writes the weights ``kernelvis train-demo`` does. Reports wall time and this process's CPU time (on a shared machine the wall time mostly measures
the other jobs), the 1-minute load average before and after, and held-out accuracy per class.
"""

from __future__ import annotations

import argparse
import os
import time

from kernelvis.numerics import request_portable_isa

request_portable_isa()  # before torch is imported: the workflow's training numerics
import torch  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out-file", default=None, help="also save the checkpoint here")
    parser.add_argument("--full", action="store_true", help="the full-size training (train-demo's defaults)")
    args = parser.parse_args()

    from kernelvis.data.motion_task import MotionTaskConfig
    from kernelvis.training import train_motion_model
    from kernelvis.models.demo import build_demo_model

    quick = {} if args.full else {"epochs": 6, "train_clips_per_class": 32, "heldout_clips_per_class": 8}
    config = MotionTaskConfig(seed=args.seed, progress=True, **quick)
    load_before = os.getloadavg()[0]
    cpu_start, wall_start = time.process_time(), time.perf_counter()
    torch.manual_seed(args.seed)
    model, metrics = train_motion_model(build_demo_model(len(config.classes)), config)
    cpu_seconds, wall_seconds = time.process_time() - cpu_start, time.perf_counter() - wall_start
    if args.out_file:
        torch.save(model.state_dict(), args.out_file)
    print(f"\ndemo model, {len(config.classes)} classes, {metrics.train_clips} training clips x {config.epochs} epochs "
          f"({config.train_frames}-frame windows), {metrics.heldout_clips} held-out {config.frames}x{config.size}x{config.size} clips")
    print(f"held-out accuracy  {metrics.heldout_accuracy:.3f}   (train {metrics.train_accuracy:.3f})")
    print(f"wall time          {wall_seconds:.1f} s   (data {metrics.data_seconds:.1f} s, training+eval {metrics.train_seconds:.1f} s)")
    print(f"CPU time           {cpu_seconds:.1f} s   on {metrics.threads} thread(s), CPU capability {metrics.numerics['cpu_capability']}; load average {load_before:.1f} -> {os.getloadavg()[0]:.1f}")
    for name, accuracy in metrics.heldout_accuracy_per_class.items():
        print(f"  {name:14s} {accuracy:.3f}")


if __name__ == "__main__":
    main()
