"""What stopping the forward pass at the target layer saves: time of a full forward pass versus
``run_to_layer`` to an early, a middle and the last conv, on each model's native clip, random weights.

    .venv/bin/python benchmarks/run_to_layer.py                         # r3d_18, x3d_xs, c3d on CPU
    .venv/bin/python benchmarks/run_to_layer.py --models slowfast_r50 --device cuda --threads 8

Prints one markdown row per (model, layer): milliseconds per clip (median of --repeats, forward +
backward to the input, as an optimizer step needs) and the speed-up over the full pass.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch


def _time_ms(step, repeats: int, device: str) -> float:
    times = []
    for _ in range(repeats + 1):  # the first call warms up kernels and allocators
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        start = time.perf_counter()
        step()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        times.append((time.perf_counter() - start) * 1000.0)
    return statistics.median(times[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["r3d_18", "x3d_xs", "c3d"])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from kernelvis.models import conv_layers, run_to_layer
    from kernelvis.models.zoo import load_model

    print(f"device {args.device}, {args.threads} thread(s), forward+backward per clip, median of {args.repeats}")
    print("| model | clip | target | ms | speed-up vs full |")
    print("|---|---|---|---|---|")
    for name in args.models:
        model = load_model(name, random_weights=True)
        model.module.to(args.device)
        p = model.preprocessing
        clip = torch.rand(1, 3, p.frames, p.size, p.size, generator=torch.Generator().manual_seed(0)).to(args.device)
        convs = [info.name for info in conv_layers(model.module)]

        def step(layer=None):
            video = clip.clone().requires_grad_(True)
            inputs = p(video)
            output = model.module(inputs) if layer is None else run_to_layer(model.module, layer, inputs)
            output.float().mean().backward()

        full_ms = _time_ms(step, args.repeats, args.device)
        clip_text = f"{p.frames}x{p.size}x{p.size}"
        print(f"| {name} | {clip_text} | full forward | {full_ms:.0f} | 1.0 |")
        for layer in (convs[1], convs[len(convs) // 2], convs[-1]):
            ms = _time_ms(lambda: step(layer), args.repeats, args.device)
            print(f"| {name} | {clip_text} | {layer} | {ms:.0f} | {full_ms / ms:.1f} |")


if __name__ == "__main__":
    main()
