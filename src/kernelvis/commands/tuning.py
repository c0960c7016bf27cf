"""Direction tuning of one kernel: drifting gratings over directions × spatial × temporal frequencies,
random-dot fields, and a blank baseline, all batched through the model up to the layer.

Writes tuning.csv (response per stimulus), tuning.json (preferred_direction_deg, dsi,
preferred_spatial_freq, preferred_temporal_freq, preferred_speed_px_per_frame, best_grating_activation,
baseline and random-dot read-outs) and tuning_polar.png into DIR, and merges preferred_direction_deg
and dsi into the kernel's summary.json.
"""

from __future__ import annotations

HELP = "direction tuning of a kernel (drifting gratings, random dots): preferred direction, DSI, speed"


def add_tuning_options(parser) -> None:
    group = parser.add_argument_group("tuning sweep")
    group.add_argument("--directions", type=int, default=16, help="evenly spaced directions from 0°")
    group.add_argument("--spatial-freqs", type=float, nargs="+", default=[0.0625, 0.125, 0.25], metavar="CYC_PER_PX")
    group.add_argument("--temporal-freqs", type=float, nargs="+", default=[0.0625, 0.125, 0.25], metavar="CYC_PER_FRAME")
    group.add_argument("--dot-speeds", type=float, nargs="*", default=[1.0, 2.0], metavar="PX_PER_FRAME",
                       help="random-dot speeds (none: gratings only)")
    group.add_argument("--plaid-freqs", type=float, nargs="*", default=[0.0625, 0.0625, 0.125, 0.125],
                       metavar="SF TF", help="pairs (cycles/px, cycles/frame) of plaids (none: no plaids)")
    group.add_argument("--dot-density", type=float, default=0.05, help="random dots per px²")
    group.add_argument("--contrast", type=float, default=1.0)
    group.add_argument("--frames", type=int, default=None, help="clip length (default: the model's native)")
    group.add_argument("--size", type=int, default=None, help="frame size (default: the model's native)")
    group.add_argument("--batch-size", type=int, default=32, help="stimuli per forward pass")
    group.add_argument("--objective", choices=["channel", "rectified", "neuron"], default=None,
                       help="default: stage 1's (from --optimal), else channel")
    group.add_argument("--preprocessing", choices=["native", "paper"], default=None,
                       help="default: stage 1's (from --optimal), else native")
    group.add_argument("--optimal", default=None, metavar="NPZ",
                       help="the kernel's optimal.npz: the sweep is measured with the objective and preprocessing "
                            "stage 1 used")
    group.add_argument("--seed", type=int, default=0, help="seed of the random-dot fields")
    group.add_argument("--device", default="cpu")


def tuning_config_from_args(args):
    from kernelvis.analysis.tuning import TuningConfig
    from kernelvis.errors import BadInputError

    if args.directions < 4:
        raise BadInputError(f"--directions must be at least 4 (got {args.directions})")
    for name in ("spatial_freqs", "temporal_freqs", "dot_speeds"):
        if any(value <= 0 for value in getattr(args, name)):
            raise BadInputError(f"--{name.replace('_', '-')} must be positive")
    if len(args.plaid_freqs) % 2 or any(value <= 0 for value in args.plaid_freqs):
        raise BadInputError("--plaid-freqs takes positive pairs: SF TF [SF TF ...]")
    if not 0 < args.dot_density <= 1:
        raise BadInputError(f"--dot-density must lie in (0, 1] dots per px² (got {args.dot_density})")
    if not 0 < args.contrast <= 1:
        raise BadInputError(f"--contrast must lie in (0, 1] (got {args.contrast})")
    return TuningConfig(directions=args.directions, spatial_freqs=tuple(args.spatial_freqs),
                        temporal_freqs=tuple(args.temporal_freqs), dot_speeds_px_per_frame=tuple(args.dot_speeds),
                        plaid_freqs=tuple(zip(args.plaid_freqs[::2], args.plaid_freqs[1::2])),
                        dot_density=args.dot_density, contrast=args.contrast, frames=args.frames, size=args.size,
                        batch_size=args.batch_size, objective=args.objective or "channel", seed=args.seed)


def add_arguments(parser) -> None:
    from kernelvis.commands.common import add_kernel_target_arguments

    add_kernel_target_arguments(parser)
    parser.add_argument("--out", required=True, metavar="DIR", help="output directory")
    parser.add_argument("--summary", default=None, help="summary.json to merge into (default: OUT/summary.json)")
    add_tuning_options(parser)


def run(args) -> int:
    from pathlib import Path

    from kernelvis.analysis.tuning import save_tuning, tune_kernels
    from kernelvis.io import staged_directory, update_json
    from kernelvis.commands.common import load_kernel_target
    from kernelvis.render.tuning_plot import write_polar_tuning

    from kernelvis.commands.common import stage1_settings
    from kernelvis.optimize.api import model_preprocessing
    from kernelvis.provenance import make_provenance

    if args.optimal:
        args.objective, args.preprocessing = stage1_settings(args.optimal, args.objective, args.preprocessing)
    preprocessing = args.preprocessing or "native"
    config = tuning_config_from_args(args)
    model, kernel = load_kernel_target(args)
    (tuning,) = tune_kernels(model, args.layer, [kernel], config, preprocessing=model_preprocessing(model, preprocessing),
                             device=args.device)
    provenance = make_provenance("tuning", model, config, layer=args.layer, kernel=kernel, preprocessing=preprocessing,
                                 objective=config.objective, optimal=args.optimal)
    with staged_directory(args.out) as staging:
        record = save_tuning(tuning, staging, model.name, args.layer, config, preprocessing, provenance)
        write_polar_tuning(staging / "tuning_polar.png", tuning, title=f"{model.name} {args.layer} kernel {kernel}")
    summary_path = Path(args.summary) if args.summary else Path(args.out) / "summary.json"
    update_json(summary_path, {"model": model.name, "layer": args.layer, "kernel": kernel,
                               "preferred_direction_deg": record["preferred_direction_deg"], "dsi": record["dsi"],
                               "best_stimulus_activation": record["best_stimulus_activation"],
                               "best_stimulus": record["best_stimulus"], "tuning_objective": config.objective})
    print(f"{model.name} {args.layer} kernel {kernel}: preferred {record['preferred_direction_deg']:.1f}°, "
          f"DSI {record['dsi']:.2f}, speed {record['preferred_speed_px_per_frame']:.2f} px/frame -> {args.out}")
    return 0
