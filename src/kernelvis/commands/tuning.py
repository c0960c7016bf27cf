"""Direction tuning of one kernel: drifting gratings over directions × spatial × temporal frequencies,
random-dot fields, and a blank baseline, all batched through the model up to the layer.

Writes tuning.csv (response per stimulus), tuning.json (preferred_direction_deg, dsi,
preferred_spatial_freq, preferred_temporal_freq, preferred_speed_px_per_frame, best_grating_activation,
baseline and random-dot read-outs, provenance), tuning_polar.png and stage_tuning.json (preferred direction,
DSI, best stimulus) into DIR (kernelvis.stages.tuning.tuning_stage). With --optimal, or an optimal.npz in DIR,
the sweep is measured with stage 1's objective and preprocessing.
"""

from __future__ import annotations

HELP = "direction tuning of a kernel (drifting gratings, random dots): preferred direction, DSI, speed"


def add_tuning_options(parser, sweep_only: bool = False) -> None:
    """The sweep's options. ``sweep_only`` (``kernelvis visualize``): only the stimulus options, prefixed
    ``--tuning-`` to sit beside stage 1's; frames, size, seed and device are then stage 1's."""
    group = parser.add_argument_group("tuning sweep")
    prefix = "--tuning-" if sweep_only else "--"
    group.add_argument(f"{prefix}directions", dest="directions", type=int, default=16,
                       help="evenly spaced directions from 0°")
    group.add_argument(f"{prefix}spatial-freqs", dest="spatial_freqs", type=float, nargs="+",
                       default=[0.0625, 0.125, 0.25], metavar="CYC_PER_PX")
    group.add_argument(f"{prefix}temporal-freqs", dest="temporal_freqs", type=float, nargs="+",
                       default=[0.0625, 0.125, 0.25], metavar="CYC_PER_FRAME")
    group.add_argument(f"{prefix}dot-speeds", dest="dot_speeds", type=float, nargs="*", default=[1.0, 2.0],
                       metavar="PX_PER_FRAME", help="random-dot speeds (none: gratings only)")
    group.add_argument(f"{prefix}plaid-freqs", dest="plaid_freqs", type=float, nargs="*",
                       default=[0.0625, 0.0625, 0.125, 0.125], metavar="SF TF",
                       help="pairs (cycles/px, cycles/frame) of plaids (none: no plaids)")
    group.add_argument(f"{prefix}dot-density", dest="dot_density", type=float, default=0.05, help="random dots per px²")
    group.add_argument(f"{prefix}contrast", dest="contrast", type=float, default=1.0)
    group.add_argument(f"{prefix}batch-size", dest="batch_size", type=int, default=32, help="stimuli per forward pass")
    if sweep_only:
        return
    group.add_argument("--frames", type=int, default=None, help="clip length (default: the model's native)")
    group.add_argument("--size", type=int, default=None, help="frame size (default: the model's native)")
    group.add_argument("--objective", choices=["channel", "rectified", "neuron"], default=None,
                       help="default: stage 1's (from --optimal), else channel")
    group.add_argument("--preprocessing", choices=["native", "paper"], default=None,
                       help="default: stage 1's (from --optimal), else native")
    group.add_argument("--optimal", default=None, metavar="NPZ",
                       help="the kernel's optimal.npz (default: DIR/optimal.npz when present): the sweep is measured "
                            "with the objective and preprocessing stage 1 used")
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
                        batch_size=args.batch_size, objective=getattr(args, "objective", None) or "channel",
                        seed=args.seed)


def add_arguments(parser) -> None:
    from kernelvis.commands.common import add_kernel_target_arguments

    add_kernel_target_arguments(parser, kernel_sets=True)
    parser.add_argument("--out", required=True, metavar="DIR", help="kernel directory (with --kernels: layer directory)")
    add_tuning_options(parser)


def run(args) -> int:
    from kernelvis.commands.common import kernel_set_from_args, preload_stage1, refuse_single_kernel_inputs
    from kernelvis.stages.tuning import tuning_stage

    config = tuning_config_from_args(args)
    refuse_single_kernel_inputs(args, "optimal")
    kernel_set = kernel_set_from_args(args)
    from pathlib import Path

    for kernel, kernel_dir in kernel_set.items():  # stage 1's settings where the kernel has a stage 1
        optimal = Path(args.optimal) if args.optimal else Path(kernel_dir) / "optimal.npz"
        if args.optimal or optimal.is_file():
            preload_stage1(kernel_set, optimal, args.objective, args.preprocessing, kernel)
    for (kernel, kernel_dir), record in zip(kernel_set.items(), tuning_stage(kernel_set, config, args.preprocessing)):
        print(f"{kernel_set.model.name} {args.layer} kernel {kernel}: preferred "
              f"{record['preferred_direction_deg']:.1f}°, DSI {record['dsi']:.2f}, speed "
              f"{record['preferred_speed_px_per_frame']:.2f} px/frame -> {kernel_dir}")
    return 0
