"""Stage 1 speed and quality: kernels/hour of the paper code's loop shape versus ours, and the
activation each parameterization reaches at equal steps.

    .venv/bin/python benchmarks/stage1.py                       # CPU: demo conv2 and r3d_18 layer1, small clips
    .venv/bin/python benchmarks/stage1.py --device cuda --full  # GPU: native clips, more kernels and steps
    .venv/bin/python benchmarks/stage1.py --params              # pixel vs fourier (planted + demo)

Shapes compared, same model, same clip size, same steps, same parameterization, same per-kernel seeds
and random transforms, same machine, no early stop in either:
  (a) paper code's shape (docs/stage1.md): one kernel at a time, batch 1, a forward hook on EVERY
      module, the full forward pass (errors after the target swallowed);
  (b) ours: all kernels in one batch, the forward stopped at the target layer (optimize_kernels).
Kernels/hour of (a) is measured on ``--paper-kernels`` kernels (it is linear in the count); the
activation reached is compared on those kernels (mean ratio ours / paper; ~1 means equal quality).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np
import torch


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def paper_shape_kernel(model, layer: str, kernel: int, config, paper_preprocessing: bool = False) -> float:
    """One kernel as the official code runs it; returns the final un-transformed activation.
    ``paper_preprocessing``: also feed the official code's ImageNet-normalized 32×224×224 upsampled clip."""
    from kernelvis.models.activation import kernel_activation
    from kernelvis.optimize.api import element_seeds
    from kernelvis.optimize.param import make_param
    from kernelvis.optimize.transforms import apply_transforms, draw_transforms

    device = torch.device(config.device)
    (seed,) = element_seeds(config.seed, [kernel], 1)
    frames = config.frames or model.preprocessing.frames
    size = config.size or model.preprocessing.size
    param = make_param(config.param, [seed], frames, size, device, config.color_sqrt_cov, config.spectral_slope)
    generators = [torch.Generator().manual_seed(seed ^ 0x5EED)]
    preprocessing = model.preprocessing.paper_variant() if paper_preprocessing else model.preprocessing
    activations: dict[str, torch.Tensor] = {}

    def keep(name):
        def hook(_module, _inputs, output):
            activations[name] = output
        return hook

    handles = [module.register_forward_hook(keep(name)) for name, module in model.module.named_modules() if name]
    optimizer = torch.optim.Adam([param.tensor], lr=config.lr)
    try:
        for _ in range(config.steps):
            clip = apply_transforms(param.video(), draw_transforms(generators, config.transforms), config.transforms)
            try:
                model.module(preprocessing(clip))
            except RuntimeError:  # the paper code ignores failures after the hooked layer
                pass
            loss = -activations[layer][:, kernel].mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            activations.clear()
    finally:
        for handle in handles:
            handle.remove()
    with torch.no_grad():
        return float(kernel_activation(model, layer, param.video(), kernel, preprocessing=preprocessing))


def compare_shapes(model, layer: str, kernels: list[int], paper_kernels: int, config) -> dict:
    from kernelvis.optimize.api import optimize_kernels

    model.module.to(config.device)
    optimize_kernels(model, layer, kernels[:1], replace(config, steps=1))  # warm-up: lazy imports, allocator
    _sync(config.device)
    start = time.perf_counter()
    ours = optimize_kernels(model, layer, kernels, config)
    _sync(config.device)
    ours_s = time.perf_counter() - start

    paper_activations = []
    start = time.perf_counter()
    for kernel in kernels[:paper_kernels]:
        paper_activations.append(paper_shape_kernel(model, layer, kernel, config))
    _sync(config.device)
    paper_s = time.perf_counter() - start

    ours_activations = np.array([r.activation for r in ours[:paper_kernels]])
    paper_activations = np.array(paper_activations)
    ours_rate = 3600.0 * len(kernels) / ours_s
    paper_rate = 3600.0 * paper_kernels / paper_s
    return {"ours_kernels_per_hour": ours_rate, "paper_kernels_per_hour": paper_rate, "speedup": ours_rate / paper_rate,
            "ours_activation": float(ours_activations.mean()), "paper_activation": float(paper_activations.mean()),
            "activation_ratio": float(np.mean(ours_activations / paper_activations))}


def paper_preprocessing_rate(model, layer: str, kernel: int, config, steps: int) -> float:
    """Kernels/hour of the paper code's shape WITH its 32×224×224 upsampling, timed over ``steps``
    steps and extrapolated to ``config.steps`` (its cost per step is constant)."""
    paper_shape_kernel(model, layer, kernel, replace(config, steps=1), paper_preprocessing=True)  # warm-up
    _sync(config.device)
    start = time.perf_counter()
    paper_shape_kernel(model, layer, kernel, replace(config, steps=steps), paper_preprocessing=True)
    _sync(config.device)
    seconds_per_step = (time.perf_counter() - start) / steps
    return 3600.0 / (seconds_per_step * config.steps)


def speed_cases(args):
    """(label, model spec, layer, kernels, clip frames, clip size, steps)."""
    if args.full:
        return [("demo", "demo@random", "conv2", list(range(24)), None, None, args.steps or 256),
                ("r3d_18", "r3d_18@random", "layer1.1.conv2.0", list(range(64)), None, None, args.steps or 256),
                ("r3d_18", "r3d_18@random", "layer2.1.conv2.0", list(range(64)), None, None, args.steps or 256)]
    return [("demo", "demo@random", "conv2", list(range(args.kernels)), None, None, args.steps or 48),
            ("r3d_18", "r3d_18@random", "layer1.0.conv1.0", list(range(args.kernels)), 8, 48, args.steps or 12)]


def run_speed(args) -> None:
    from kernelvis.models.zoo import load_model
    from kernelvis.optimize.api import OptimizeConfig

    print(f"device {args.device}, {torch.get_num_threads()} thread(s); no early stop; same steps, seeds, transforms")
    print("| model | layer | clip | kernels | steps | paper shape kernels/h | ours kernels/h | speed-up "
          "| activation paper | activation ours | ours/paper | paper shape + its 32x224² upsampling kernels/h |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for label, spec, layer, kernels, frames, size, steps in speed_cases(args):
        model = load_model(spec)
        config = OptimizeConfig(frames=frames, size=size, steps=steps, param=args.param, early_stop_patience=None,
                                device=args.device, seed=0)
        row = compare_shapes(model, layer, kernels, min(args.paper_kernels, len(kernels)), config)
        clip = f"{frames or model.preprocessing.frames}x{size or model.preprocessing.size}²"
        upsampled = (f"{paper_preprocessing_rate(model, layer, kernels[0], config, args.upsampled_steps):.0f}"
                     if args.upsampled_steps else "not run")
        print(f"| {label} | {layer} | {clip} | {len(kernels)} | {steps} | {row['paper_kernels_per_hour']:.0f} "
              f"| {row['ours_kernels_per_hour']:.0f} | {row['speedup']:.1f}x | {row['paper_activation']:.4g} "
              f"| {row['ours_activation']:.4g} | {row['activation_ratio']:.3f} | {upsampled} |", flush=True)


def run_params(args) -> None:
    """Mean activation reached by each parameterization at equal steps and the default lr."""
    from kernelvis.models.planted import PlantedUnit, planted_model
    from kernelvis.models.zoo import load_model
    from kernelvis.optimize.api import OptimizeConfig, optimize_kernels

    planted = planted_model([PlantedUnit("drift", d, 0.25, 0.125) for d in (30.0, 150.0, 270.0)],
                            frames=16, size=24, kernel_frames=7, kernel_size=11)
    cases = [("planted", planted, "energy", [0, 1, 2]),
             ("demo@random", load_model("demo@random"), "conv2", list(range(4))),
             ("demo@random", load_model("demo@random"), "conv3", list(range(4)))]
    print(f"parameterization comparison: {args.param_steps} steps, no early stop, mean activation over kernels")
    print("| model | layer | lr | pixel | fourier | fourier/pixel |")
    print("|---|---|---|---|---|---|")
    for name, model, layer, kernels in cases:
        for lr in args.param_lrs:
            means = {}
            for param in ("pixel", "fourier"):
                config = OptimizeConfig(steps=args.param_steps, lr=lr, param=param, early_stop_patience=None,
                                        device=args.device)
                means[param] = float(np.mean([r.activation for r in optimize_kernels(model, layer, kernels, config)]))
            print(f"| {name} | {layer} | {lr} | {means['pixel']:.4g} | {means['fourier']:.4g} "
                  f"| {means['fourier'] / means['pixel']:.2f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--full", action="store_true", help="native clip sizes, more kernels and steps (GPU)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--kernels", type=int, default=8, help="kernels optimized in our batch (CPU mode)")
    parser.add_argument("--paper-kernels", type=int, default=2, help="kernels run in the paper code's shape")
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--upsampled-steps", type=int, default=1,
                        help="steps timed for the paper shape with its 32x224x224 upsampling (0: skip)")
    parser.add_argument("--param", choices=["pixel", "fourier"], default="pixel")
    parser.add_argument("--params", action="store_true", help="run the parameterization comparison instead")
    parser.add_argument("--param-steps", type=int, default=100)
    parser.add_argument("--param-lrs", type=float, nargs="+", default=[0.05])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)  # the @random models' weights
    if args.params:
        run_params(args)
    else:
        run_speed(args)


if __name__ == "__main__":
    main()
