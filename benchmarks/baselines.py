"""Numbers for the classic baselines on the demo model (trained weights if given, else random init)
and the planted model. Prints; asserts nothing.

    .venv/bin/python benchmarks/baselines.py [--weights results/demo/demo_model.pt] [--steps 100] [--n-clips 64]

1. DeconvNet: explicit vs autograd agreement and time per clip, per layer.
2. Dataset examples: scan throughput (clips/s, stopped at the layer) and top-9 + tubes + projections time.
3. Inversion: PSNR of the reconstruction from each layer of one translating natural-texture clip.
4. Dissection on the synthetic concept set: detectors / unique concepts per layer; the labels the
   eight planted drift units get (ground truth: unit k moves at 45k°).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch


def demo_model(weights: str | None):
    from kernelvis.models.demo import DEMO_PREPROCESSING, build_demo_model
    from kernelvis.models.loaded import LoadedModel

    if weights and Path(weights).is_file():
        from kernelvis.models.zoo import load_model

        return load_model("demo", weights=weights), f"trained ({weights})"
    torch.manual_seed(0)
    return LoadedModel("demo", build_demo_model(), DEMO_PREPROCESSING), "random init (no trained weights given)"


def natural_clips(count: int, frames: int, size: int) -> np.ndarray:
    from kernelvis.data import synthetic

    textures = synthetic.NATURAL_TEXTURES
    clips = [synthetic.translating_texture(frames, size, float(45 * (i % 8)), 1.0 + (i % 3) * 0.5,
                                           texture=textures[i % len(textures)], seed=i).video for i in range(count)]
    return (np.stack(clips) * 255).round().astype(np.uint8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", default="results/demo/demo_model.pt")
    parser.add_argument("--steps", type=int, default=100, help="inversion steps")
    parser.add_argument("--n-clips", type=int, default=64, help="clips for the dataset-example scan")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from kernelvis.baselines.dataset_examples import dataset_examples, scan_activations
    from kernelvis.baselines.deconvnet import project_autograd, project_explicit
    from kernelvis.baselines.dissection import concept_clips, dissect
    from kernelvis.baselines.inversion import InversionConfig, invert_layers
    from kernelvis.models.planted import eight_direction_units, planted_model

    model, weights_note = demo_model(args.weights)
    frames, size = model.preprocessing.frames, model.preprocessing.size
    layers = ["conv1", "conv2", "conv3", "conv4"]
    print(f"demo model: {weights_note}; clips {frames}x{size}x{size}; torch threads {args.threads}")

    print("\n1. DeconvNet, explicit vs autograd (8 clips, whole map of kernel 0)")
    video = torch.rand(8, 3, frames, size, size, generator=torch.Generator().manual_seed(0))
    for layer in layers:
        start = time.perf_counter()
        explicit = project_explicit(model, layer, video, 0)
        middle = time.perf_counter()
        autograd = project_autograd(model, layer, video, 0)
        end = time.perf_counter()
        print(f"  {layer}: max |explicit - autograd| {float((explicit - autograd).abs().max()):.2e} "
              f"(peak {float(autograd.abs().max()):.2e}); explicit {1000 * (middle - start) / 8:.1f} ms/clip, "
              f"autograd {1000 * (end - middle) / 8:.1f} ms/clip")

    print(f"\n2. Dataset examples ({args.n_clips} translating natural-texture clips)")
    clips = natural_clips(args.n_clips, frames, size)
    for layer in ("conv2", "conv4"):
        start = time.perf_counter()
        scan_activations(model, layer, list(range(8)), clips, batch_size=16)
        scanned = time.perf_counter()
        examples = dataset_examples(model, layer, 0, clips, batch_size=16)
        done = time.perf_counter()
        print(f"  {layer}: scan {args.n_clips / (scanned - start):.1f} clips/s (8 kernels at once); top-9 with tubes "
              f"{tuple(int(e) for e in examples.crops.shape[1:4])} and projections {done - scanned:.2f} s")

    print(f"\n3. Inversion ({args.steps} steps, one clip)")
    clip = natural_clips(1, frames, size)[0].astype(np.float32) / 255.0
    start = time.perf_counter()
    results = invert_layers(model, layers, clip, InversionConfig(steps=args.steps))
    print("  " + ", ".join(f"{r.layer} {r.psnr_db:.1f} dB (feature err {r.feature_error:.3f})" for r in results)
          + f"; {time.perf_counter() - start:.1f} s")

    print("\n4. Dissection (32 concept clips)")
    concepts = concept_clips(frames=frames, size=size, clips=32, seed=0)
    for layer in layers:
        counts = dissect(model, layer, concepts).counts()
        print(f"  demo {layer}: {counts['detectors']}/{counts['kernels']} detectors, {counts['unique_concepts']} unique; "
              f"per category {counts['detectors_per_category']}")
    planted = planted_model(eight_direction_units(), frames=frames, size=size)
    result = dissect(planted, "energy", concepts)
    labels = [f"{45 * k}°->{result.concepts[c].name} ({iou:.3f})" for k, (c, iou) in enumerate(zip(result.best_concept, result.best_iou))]
    print("  planted drift units: " + ", ".join(labels))


if __name__ == "__main__":
    main()
