"""Faithfulness of the visualization on the demo model: per layer, the share of direction-selective
kernels (DSI > 0.3 from the drifting-grating probe) whose visualized motion (stage 1 optimal input ->
stage 2 decomposition -> direction_deg) lies within 30° of their preferred direction.

    .venv/bin/python benchmarks/faithfulness_demo.py            # after `make figures`: its demo weights, 2 kernels per layer, 128 steps
    .venv/bin/python benchmarks/faithfulness_demo.py --full     # every kernel of every layer, 256 steps
    .venv/bin/python benchmarks/faithfulness_demo.py --weights results/demo/demo_model.pt --kernels-per-layer 12

Without weights (no --weights and no results/demo/demo_model.pt) it trains the demo model first (15+ minutes).

Per layer, everything is batched: one grating sweep for all kernels, one optimization for all
kernels, one batched decomposition. Prints the agreement table (markdown) and timings; with --out,
also writes the per-kernel rows (faithfulness.csv, faithfulness_layers.csv).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

DEMO_WEIGHTS = "results/demo/demo_model.pt"  # the workflow's trained demo model (workflow/rules/weights.smk)


def load_or_train_demo(weights: str | None, seed: int):
    from kernelvis.models.zoo import load_model

    if weights:
        return load_model("demo", weights=weights), f"weights {weights}"
    from kernelvis.data.motion_task import MotionTaskConfig
    from kernelvis.training import train_motion_model
    from kernelvis.models.demo import DEMO_PREPROCESSING, build_demo_model
    from kernelvis.models.loaded import LoadedModel

    torch.manual_seed(seed)
    module, metrics = train_motion_model(build_demo_model(), MotionTaskConfig(seed=seed))
    return (LoadedModel("demo", module, DEMO_PREPROCESSING),
            f"trained here: held-out accuracy {100 * metrics.heldout_accuracy:.1f} % in {metrics.total_seconds:.0f} s")


def layer_rows(model, layer: str, kernels: list[int], args) -> tuple[list[dict], dict]:
    from kernelvis.analysis.faithfulness import faithfulness_row
    from kernelvis.analysis.tuning import TuningConfig, tune_kernels
    from kernelvis.decompose.fit import DecomposeConfig, decompose_videos
    from kernelvis.decompose.stats import motion_summary
    from kernelvis.optimize.api import OptimizeConfig, optimize_kernels

    seconds = {}
    start = time.perf_counter()
    tunings = tune_kernels(model, layer, kernels, TuningConfig(directions=args.directions))
    seconds["tuning"] = time.perf_counter() - start
    start = time.perf_counter()
    optimal = optimize_kernels(model, layer, kernels, OptimizeConfig(steps=args.steps, seed=args.seed))
    seconds["optimize"] = time.perf_counter() - start
    start = time.perf_counter()
    videos = np.stack([result.video for result in optimal])
    decompositions = decompose_videos(videos, DecomposeConfig(steps=args.decompose_steps, seed=args.seed))
    seconds["decompose"] = time.perf_counter() - start
    rows = []
    for tuning, result, video, decomposition in zip(tunings, optimal, videos, decompositions):
        summary = {"activation": result.activation, **motion_summary(video, decomposition)}
        rows.append(faithfulness_row("demo", layer, tuning.kernel, summary, tuning.summary()))
    return rows, seconds


def main() -> None:
    from kernelvis.analysis.faithfulness import format_agreement_table, layer_agreement, save_faithfulness

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default=None,
                        help=f"demo checkpoint (default: {DEMO_WEIGHTS}, what `make figures` trains, else train one now)")
    parser.add_argument("--layers", nargs="+", default=["conv1", "conv2", "conv3", "conv4"])
    parser.add_argument("--kernels-per-layer", type=int, default=None,
                        help="first N kernels of each layer (default: 2; --full: all)")
    parser.add_argument("--full", action="store_true", help="every kernel of every layer")
    parser.add_argument("--steps", type=int, default=None, help="stage-1 optimization steps (default 128; --full: 256)")
    parser.add_argument("--decompose-steps", type=int, default=100)
    parser.add_argument("--directions", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out-file", default=None, help="write faithfulness.csv (and faithfulness_layers.csv beside it) here")
    args = parser.parse_args()
    if not args.full:  # quick: 2 kernels per layer at half the steps (all 4 kernels at 256 steps took > 10 CPU min)
        if args.kernels_per_layer is None:
            args.kernels_per_layer = 2
        if args.steps is None:
            args.steps = 128
    if args.steps is None:
        args.steps = 256
    if args.weights is None and Path(DEMO_WEIGHTS).is_file():
        args.weights = DEMO_WEIGHTS
    torch.set_num_threads(args.threads)

    from kernelvis.models.layers import layer_channels

    model, origin = load_or_train_demo(args.weights, args.seed)
    print(f"demo model ({origin}); {args.steps} optimization steps, {args.decompose_steps} decomposition steps, "
          f"{args.directions} directions, {torch.get_num_threads()} threads")
    rows = []
    for layer in args.layers:
        channels = layer_channels(model.module, layer)
        kernels = list(range(min(channels, args.kernels_per_layer or channels)))
        layer_result, seconds = layer_rows(model, layer, kernels, args)
        rows += layer_result
        print(f"{layer}: {len(kernels)} kernels; " + ", ".join(f"{name} {value:.1f} s" for name, value in seconds.items()),
              flush=True)
    agreement = layer_agreement(rows)
    print(format_agreement_table(agreement))
    selective = [row for row in rows if row["direction_selective"]]
    if selective:
        errors = np.array([row["angular_error_deg"] for row in selective])
        print(f"all layers: {sum(row['agrees'] for row in selective)}/{len(selective)} direction-selective kernels "
              f"within 30°; median error {np.median(errors):.0f}°")
    ratios = np.array([row["activation_vs_best_grating"] for row in rows], dtype=float)
    print(f"optimal-input activation / best-grating activation: median {np.nanmedian(ratios):.2f} "
          f"(share > 1: {np.mean(ratios[np.isfinite(ratios)] > 1):.0%})")
    if args.out_file:
        print("wrote", *save_faithfulness(rows, agreement, args.out_file))


if __name__ == "__main__":
    main()
