"""Speed of the tuning probe: one batched sweep for all kernels of a layer, against the naive shape
(one stimulus per forward pass, one kernel at a time, full forward pass each time).

    .venv/bin/python benchmarks/tuning_speed.py [--layer conv2] [--kernels 8] [--threads 2]

Prints seconds and kernels/hour for both, and checks that they measured the same responses.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch


def main() -> None:
    from kernelvis.analysis.tuning import TuningConfig, render_condition, sweep_conditions, sweep_responses
    from kernelvis.models.demo import DEMO_PREPROCESSING, build_demo_model
    from kernelvis.models.layers import resolve_layer
    from kernelvis.models.loaded import LoadedModel

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layer", default="conv2")
    parser.add_argument("--kernels", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = LoadedModel("demo", build_demo_model(), DEMO_PREPROCESSING)  # random weights: speed only
    kernels = list(range(args.kernels))
    config = TuningConfig()
    conditions = sweep_conditions(config)

    start = time.perf_counter()
    _, batched = sweep_responses(model, args.layer, kernels, config, conditions)
    batched_s = time.perf_counter() - start

    # Naive shape: every kernel on its own, every stimulus rendered and run through the whole network.
    target = resolve_layer(model.module, args.layer)
    captured = {}
    handle = target.register_forward_hook(lambda module, inputs, output: captured.__setitem__("out", output))
    naive = np.empty_like(batched)
    start = time.perf_counter()
    with torch.no_grad():
        for column, kernel in enumerate(kernels):
            for row, condition in enumerate(conditions):
                video = render_condition(condition, DEMO_PREPROCESSING.frames, DEMO_PREPROCESSING.size,
                                         config.contrast, config.seed, config.dot_density)
                clip = torch.from_numpy(video).permute(3, 0, 1, 2)[None]
                model.module(DEMO_PREPROCESSING(clip))
                naive[row, column] = captured["out"][0, kernel].mean().item()
    naive_s = time.perf_counter() - start
    handle.remove()

    agree = np.allclose(batched, naive, rtol=1e-4, atol=1e-5)
    print(f"demo {args.layer}, {len(kernels)} kernels, {len(conditions)} stimuli each, {args.threads} threads")
    print(f"batched sweep (chunks of {config.batch_size}, all kernels per pass, stops at the layer): {batched_s:.1f} s "
          f"= {3600 * len(kernels) / batched_s:.0f} kernels/hour")
    print(f"naive (one stimulus, one kernel, full forward per pass): {naive_s:.1f} s "
          f"= {3600 * len(kernels) / naive_s:.0f} kernels/hour; speed-up {naive_s / batched_s:.1f}x; "
          f"same responses: {agree}")


if __name__ == "__main__":
    main()
