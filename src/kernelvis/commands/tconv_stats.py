"""What the Conv3T layers of a 3TConv model (e.g. ``demo3t``) state about themselves, read from their
parameters (Ras et al.): per-filter trajectories, per-layer parameter distributions, stated motion.

Writes into OUT: ``tconv_stats.json`` (per layer: mean/std/min/max of scale, rotation_rad, tx, ty, and
stated-speed statistics), ``tconv_kernels.csv`` (one row per filter: stated vx, vy, speed in px/frame,
direction_deg, straightness, final scale and rotation), ``parameter_distributions.png``,
``stated_motion.png``, ``trajectories_<layer>.png`` (the ``--kernels`` fastest filters of each layer)
and, when the first layer takes RGB, ``first_layer_slices.png``.
"""

from __future__ import annotations

HELP = "3TConv parameter analysis: trajectories, parameter distributions, stated motion per filter"


def add_arguments(parser) -> None:
    parser.add_argument("--model", required=True, help="zoo name (demo3t) or path/file.py:function")
    parser.add_argument("--weights", default=None, help="local checkpoint")
    parser.add_argument("--out", required=True, metavar="DIR", help="output directory")
    parser.add_argument("--kernels", type=int, default=6, help="filters per layer in the trajectory figures")


def kernel_rows(motion_by_layer: dict) -> list[dict]:
    rows = []
    for layer, motion in motion_by_layer.items():
        for kernel in range(len(motion["speed_px_per_frame"])):
            rows.append({"layer": layer, "kernel": kernel, **{key: float(values[kernel]) for key, values in motion.items()}})
    return rows


def run(args) -> int:
    import csv

    import numpy as np

    from kernelvis.baselines.tconv_analysis import (conv3t_layers, distribution_summary, parameter_distributions,
                                                    stated_motion, trajectories)
    from kernelvis.errors import BadInputError
    from kernelvis.io import atomic_path, save_json, staged_directory, write_png
    from kernelvis.models.zoo import load_model
    from kernelvis.render.savefig import save_figure
    from kernelvis.render.tconv_plots import (distribution_figure, kernel_slices_image, stated_motion_figure,
                                              trajectory_figure)

    if args.kernels < 1:
        raise BadInputError("--kernels must be >= 1")
    model = load_model(args.model, weights=args.weights)
    layers = conv3t_layers(model.module)
    if not layers:
        raise BadInputError(f"model {model.name!r} has no Conv3T layers (try --model demo3t)")
    distributions = parameter_distributions(model.module)
    motion = {name: stated_motion(layer) for name, layer in layers.items()}
    summary = distribution_summary(distributions)
    for name, values in motion.items():
        speed = values["speed_px_per_frame"]
        summary[name]["stated_speed_px_per_frame"] = {"mean": float(speed.mean()), "median": float(np.median(speed)),
                                                      "max": float(speed.max()),
                                                      "fraction_above_0.5": float(np.mean(speed > 0.5))}
    rows = kernel_rows(motion)
    with staged_directory(args.out) as staging:
        save_json(staging / "tconv_stats.json", {"model": model.name, "weights": model.weights, "layers": summary})
        with atomic_path(staging / "tconv_kernels.csv") as temporary, open(temporary, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        save_figure(distribution_figure(distributions, f"{model.name}: 3T parameters per layer"),
                    staging / "parameter_distributions.png")
        save_figure(stated_motion_figure(motion, f"{model.name}: motion stated by each filter"),
                    staging / "stated_motion.png")
        for name, layer in layers.items():
            paths = trajectories(layer)
            fastest = np.argsort(-motion[name]["speed_px_per_frame"], kind="stable")[:args.kernels]
            save_figure(trajectory_figure(paths.scale, paths.rotation_deg, paths.position_px, sorted(fastest),
                                          f"{model.name} {name}: content trajectories"),
                        staging / f"trajectories_{name.replace('.', '_')}.png")
        first_name, first = next(iter(layers.items()))
        if first.in_channels == 3 and first.groups == 1:
            write_png(staging / "first_layer_slices.png",
                      kernel_slices_image(first.weight.detach().cpu().numpy()).repeat(8, 0).repeat(8, 1))
    print(f"{model.name}: {len(layers)} Conv3T layers, {len(rows)} filters; median stated speed "
          + ", ".join(f"{name} {np.median(values['speed_px_per_frame']):.2f}" for name, values in motion.items())
          + f" px/frame -> {args.out}")
    return 0
