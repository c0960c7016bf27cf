"""Texture/motion refinement and reliance indices: time per kernel and recovery of planted motion.
Prints; asserts nothing.

    .venv/bin/python benchmarks/refine.py [--steps 100] [--device cpu] [--threads 1]

1. Time per kernel (refine with the default config + reliance indices) on the zoo's planted model
   (16×48×48, layer energy) and the demo model's conv2 (random init: timing only), and kernels/hour.
2. Motion refinement from rest on planted drift units (8 directions, 1 px/frame, 16×32×32, the unit's
   grating as texture): refined direction error and speed.
3. Reliance indices of drift and static planted units on their own optimal stimuli.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch


def translation(frames: int, size: int, direction_deg: float, speed_px_per_frame: float) -> np.ndarray:
    from kernelvis.geometry import unit_velocity

    vx, vy = unit_velocity(direction_deg)
    t = np.arange(frames, dtype=np.float32)[:, None, None]
    displacement = np.zeros((frames, size, size, 2), np.float32)
    displacement[..., 0], displacement[..., 1] = -vx * speed_px_per_frame * t, -vy * speed_px_per_frame * t
    return displacement


def time_per_kernel(model, layer: str, kernel: int, frames: int, size: int, config, margin_px: int = 16) -> tuple[float, float]:
    from kernelvis.analysis.refine import refine, render
    from kernelvis.analysis.reliance import reliance_activations
    from kernelvis.data.synthetic import smooth_noise_texture

    canvas = smooth_noise_texture(size + 2 * margin_px, seed=0)
    displacement = translation(frames, size, 45.0, 1.0)
    with torch.no_grad():
        video = render(torch.from_numpy(canvas), torch.from_numpy(displacement), margin_px)[0].permute(1, 2, 3, 0).numpy()
    start = time.perf_counter()
    result = refine(model, layer, kernel, canvas, displacement, margin_px, config)
    refined = time.perf_counter()
    reliance_activations(model, layer, kernel, video, result.static_canvas, result.displacement, margin_px,
                         device=config.device)
    return refined - start, time.perf_counter() - refined


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from kernelvis.analysis.refine import RefineConfig, refine, refined_arrays
    from kernelvis.analysis.reliance import reliance_activations, reliance_indices
    from kernelvis.data.synthetic import drifting_grating
    from kernelvis.geometry import angular_difference_deg
    from kernelvis.models.demo import DEMO_PREPROCESSING, build_demo_model
    from kernelvis.models.loaded import LoadedModel
    from kernelvis.models.planted import PlantedUnit, planted_model
    from kernelvis.models.zoo import load_model

    config = RefineConfig(steps=args.steps, device=args.device)
    print(f"1. time per kernel: texture + motion ({args.steps} steps each, motion from stage 2 and from rest), "
          f"then reliance (one batch); device {args.device}, {args.threads} thread(s)")
    torch.manual_seed(0)
    for name, model, layer, frames, size in [
            ("planted", load_model("planted"), "energy", 16, 48),
            ("demo (random init)", LoadedModel("demo", build_demo_model(), DEMO_PREPROCESSING), "conv2", 16, 48)]:
        time_per_kernel(model, layer, 0, frames, size, RefineConfig(steps=2, device=args.device))  # warm-up
        refine_s, reliance_s = time_per_kernel(model, layer, 0, frames, size, config)
        print(f"   {name:20s} {layer:7s} {frames}x{size}x{size}: refine {refine_s:6.2f} s, reliance {reliance_s:5.2f} s "
              f"-> {3600 / (refine_s + reliance_s):7.0f} kernels/hour")

    frames, size, margin = 16, 32, 16
    directions = [float(d) for d in range(0, 360, 45)]
    model = planted_model([PlantedUnit("drift", d) for d in directions], frames=frames, size=size)
    print("2. motion refinement from rest, planted drift units at 1 px/frame (grating texture, 16x32x32, "
          f"{args.steps} steps):")
    errors = []
    for kernel, direction in enumerate(directions):
        canvas = drifting_grating(1, size + 2 * margin, direction, 0.125, 0.125).video[0]
        result = refine(model, "energy", kernel, canvas, translation(frames, size, 0.0, 0.0), margin,
                        RefineConfig(steps=args.steps, phases=("motion",), device=args.device))
        _, scalars = refined_arrays(result)
        errors.append(float(angular_difference_deg(scalars["refined_direction_deg"], direction)))
        print(f"   planted {direction:5.1f}°: refined {scalars['refined_direction_deg']:6.1f}° "
              f"(error {errors[-1]:4.1f}°), speed {scalars['refined_speed_px_per_frame']:.2f} px/frame, "
              f"activation {result.activation_start:.1f} -> {result.activation_final:.1f}")
    print(f"   direction error: median {np.median(errors):.1f}°, max {np.max(errors):.1f}°")

    print("3. reliance indices on each unit's own optimal stimulus (16x32x32):")
    model = planted_model([PlantedUnit("drift", 30.0), PlantedUnit("static", 30.0)], frames=frames, size=size)
    canvas = drifting_grating(1, size + 2 * margin, 30.0, 0.125, 0.125).video[0]
    for kernel, (kind, speed) in enumerate([("drift", 1.0), ("static", 0.0)]):
        displacement = translation(frames, size, 30.0, speed)
        from kernelvis.analysis.refine import render

        with torch.no_grad():
            video = render(torch.from_numpy(canvas), torch.from_numpy(displacement), margin)[0].permute(1, 2, 3, 0).numpy()
        indices = reliance_indices(reliance_activations(model, "energy", kernel, video, canvas, displacement, margin))
        print(f"   {kind:6s}: " + ", ".join(f"{key} {value:.2f}" for key, value in indices.items()))


if __name__ == "__main__":
    main()
