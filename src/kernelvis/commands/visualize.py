"""The whole per-kernel pipeline in one command (kernelvis.pipeline.STAGES, the same stages the workflow runs
as one rule each): optimal input (stage 1), decomposition into texture, motion and appearance change (stage 2),
texture and motion optimized against the kernel with reliance indices, direction tuning, DeconvNet top clips
(with --clips), the optimality audit, and the panel. Takes every option of `kernelvis optimize`, `decompose`
(prefixed --decompose-*) and `refine` (prefixed --refine-*). DIR receives the files of every stage plus
summary.json, panel.png and panel.gif; on error nothing is written.

  kernelvis visualize --model planted --layer energy --kernel 2 --out out/planted_k2
"""

from __future__ import annotations

HELP = "optimize, decompose, refine, tune, audit and render one kernel (the whole pipeline)"


def add_arguments(parser) -> None:
    from kernelvis.commands.common import add_kernel_target_arguments
    from kernelvis.commands.decompose import add_decompose_options
    from kernelvis.commands.optimize import add_optimize_options
    from kernelvis.commands.refine import add_refine_options

    add_kernel_target_arguments(parser)
    parser.add_argument("--out", required=True, metavar="DIR", help="output directory")
    parser.add_argument("--clips", default=None, metavar="NPZ",
                        help="clip set for the DeconvNet top clips and the optimality audit's best natural clip "
                             "(default: neither; the audit uses the tuning sweep only)")
    parser.add_argument("--no-tuning", action="store_true", help="skip the tuning sweep (and its part of the audit)")
    parser.add_argument("--no-deconvnet", action="store_true", help="skip the DeconvNet top clips (with --clips)")
    add_optimize_options(parser)
    add_decompose_options(parser)
    add_refine_options(parser)


def run(args) -> int:
    from kernelvis.commands.common import load_kernel_target
    from kernelvis.commands.decompose import decompose_config_from_args
    from kernelvis.commands.optimize import optimize_config_from_args
    from kernelvis.commands.refine import refine_config_from_args
    from kernelvis.io import staged_directory
    from kernelvis.pipeline import KernelRun, run_kernel

    # every option is checked before the long part starts
    configs = optimize_config_from_args(args), decompose_config_from_args(args), refine_config_from_args(args)
    model, kernel = load_kernel_target(args)
    skip = {name for name, off in (("tuning", args.no_tuning), ("deconvnet", args.no_deconvnet)) if off}
    with staged_directory(args.out) as stage:
        summary = run_kernel(KernelRun(model, args.layer, kernel, stage, *configs, clips=args.clips,
                                       neutral_textures=args.neutral_textures, motion_scale=args.motion_scale,
                                       seed=args.seed, device=args.device, skip=frozenset(skip)))
    print(f"{model.name} {args.layer} kernel {kernel}: activation {summary['activation']:.4g}, direction "
          f"{summary['direction_deg']:.0f}° (strength {summary['direction_strength']:.2f}), speed "
          f"{summary['speed_px_per_frame']:.2f} px/frame, motion index {summary['motion_index']:.2f}, optimality audit "
          f"{'pass' if summary['audit_pass'] else 'FAIL'} -> {args.out}")
    return 0
