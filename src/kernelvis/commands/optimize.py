"""Stage 1: the optimal input of one kernel by activation maximization.

Writes optimal.npz (video [T,H,W,3] in [0,1], activation, history, all restarts as candidates,
candidate_activations, model, layer, kernel) and optimal.gif into DIR, and merges model, layer,
kernel and activation into DIR/summary.json. Nothing is written if the optimization diverges.
"""

from __future__ import annotations

HELP = "optimal input video of a kernel (activation maximization, stage 1)"


def add_optimize_options(parser) -> None:
    """The stage-1 options, shared with ``kernelvis visualize``."""
    group = parser.add_argument_group("stage 1 (optimal input)")
    group.add_argument("--frames", type=int, default=None, help="clip length (default: the model's native)")
    group.add_argument("--size", type=int, default=None, help="frame size (default: the model's native)")
    group.add_argument("--steps", type=int, default=300, help="Adam steps (the paper uses 1500)")
    group.add_argument("--lr", type=float, default=0.1)
    group.add_argument("--restarts", type=int, default=2, help="candidates optimized together; the best is kept")
    group.add_argument("--seed", type=int, default=0)
    group.add_argument("--param", choices=["pixel", "fourier"], default="pixel",
                       help="pixel: the paper's; fourier: 1/f-scaled spatiotemporal spectrum")
    group.add_argument("--preprocessing", choices=["native", "paper"], default="native",
                       help="native: the model's own; paper: ImageNet mean/std, upsampled to 32x224x224")
    group.add_argument("--objective", choices=["auto", "channel", "rectified", "neuron"], default="auto",
                       help="auto (default): rectified where the kernel is affine in the pixels (a first conv), else "
                            "channel; channel: mean of the kernel's map (the paper's); rectified: mean of its positive "
                            "part; neuron: its centre value")
    group.add_argument("--early-stop", type=int, default=0, metavar="PATIENCE",
                       help="stop when the activation has not improved for this many steps (0: never)")
    group.add_argument("--jitter-px", type=int, default=4, help="symmetric spatial jitter, whole px")
    group.add_argument("--jitter-frames", type=int, default=1, help="temporal jitter, frames")
    group.add_argument("--temporal-jitter", choices=["roll", "shift"], default="roll")
    group.add_argument("--scale", type=float, nargs=2, default=[0.9, 1.1], metavar=("LOW", "HIGH"))
    group.add_argument("--rotation-deg", type=float, default=0.0, help="random rotation range, degrees (0: off)")
    group.add_argument("--pad-px", type=int, default=0, help="grey padding around the frame before transforms")
    group.add_argument("--clip-stats", default=None, metavar="PATH",
                       help="clip statistics (kernelvis clip-stats) for the colour matrix and spectral slope")
    group.add_argument("--device", default="cpu")
    group.add_argument("--no-progress", action="store_true", help="no progress bar")


def optimize_config_from_args(args):
    """An :class:`~kernelvis.optimize.api.OptimizeConfig` from parsed options; bad values raise BadInputError."""
    from kernelvis.errors import BadInputError
    from kernelvis.optimize.api import OptimizeConfig
    from kernelvis.optimize.transforms import TransformConfig

    for name in ("steps", "restarts"):
        if getattr(args, name) < 1:
            raise BadInputError(f"--{name} must be at least 1 (got {getattr(args, name)})")
    for name in ("frames", "size"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            raise BadInputError(f"--{name} must be positive (got {getattr(args, name)})")
    if not args.lr > 0:
        raise BadInputError(f"--lr must be positive (got {args.lr})")
    if args.early_stop < 0:
        raise BadInputError(f"--early-stop must be >= 0 (got {args.early_stop})")
    try:
        transforms = TransformConfig(jitter_px=args.jitter_px, jitter_frames=args.jitter_frames,
                                     temporal_mode=args.temporal_jitter, scale_range=tuple(args.scale),
                                     rotation_deg=args.rotation_deg, pad_px=args.pad_px)
    except ValueError as error:
        raise BadInputError(str(error)) from None
    color_sqrt_cov, spectral_slope = None, 1.0
    if args.clip_stats:
        from kernelvis.data.clip_stats import load_clip_stats

        from kernelvis.optimize.param import MAX_SPECTRAL_SLOPE

        stats = load_clip_stats(args.clip_stats)
        color_sqrt_cov = tuple(tuple(float(v) for v in row) for row in stats.color_sqrt_cov)
        spectral_slope = min(float(stats.spectral_slope), MAX_SPECTRAL_SLOPE)
        if spectral_slope < float(stats.spectral_slope):
            print(f"note: the clips' spectral slope {float(stats.spectral_slope):.2f} is clamped to "
                  f"{MAX_SPECTRAL_SLOPE} for the fourier parameterization (steeper freezes fine structure)")
    return OptimizeConfig(frames=args.frames, size=args.size, steps=args.steps, lr=args.lr, restarts=args.restarts,
                          seed=args.seed, param=args.param, preprocessing=args.preprocessing,
                          objective=args.objective, transforms=transforms,
                          early_stop_patience=args.early_stop or None, color_sqrt_cov=color_sqrt_cov,
                          spectral_slope=spectral_slope, device=args.device, progress=not args.no_progress,
                          log_every=25 if args.no_progress else 0)


def add_arguments(parser) -> None:
    from kernelvis.commands.common import add_kernel_target_arguments

    add_kernel_target_arguments(parser, kernel_sets=True)
    parser.add_argument("--out", required=True, metavar="DIR", help="kernel directory (with --kernels: layer directory)")
    parser.add_argument("--clips", default=None, metavar="NPZ",
                        help="clip set whose best clip (and the best tuning stimulus) a kernel that ended below it "
                             "is restarted from (the optimality audit's references; default: the tuning stimulus only)")
    add_optimize_options(parser)


def run(args) -> int:
    from kernelvis.commands.common import kernel_set_from_args
    from kernelvis.stages.optimize import optimize_stage

    config = optimize_config_from_args(args)
    kernel_set = kernel_set_from_args(args)
    for (kernel, kernel_dir), result in zip(kernel_set.items(), optimize_stage(kernel_set, config, args.clips)):
        status = "" if result.status == "ok" else f" [{result.status}: {result.status_detail}]"
        print(f"{kernel_set.model.name} {args.layer} kernel {kernel}: activation {result.activation:.4g} "
              f"({result.objective}) after {len(result.history)} steps{status} -> {kernel_dir}")
    return 0
