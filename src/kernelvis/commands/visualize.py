"""The whole per-kernel pipeline in one command: the same stage functions the workflow's rules run
(kernelvis.stages, in the order of kernelvis.stages.STAGES) and the same merge as its kernel_summary rule:
optimal input (stage 1), decomposition into texture, motion and appearance change (stage 2), texture and
motion optimized against the kernel with reliance indices, direction tuning, DeconvNet top clips (with
--clips), the texture-conditioned tuning, the optimality audit, then summary.json and the panel. Takes every option of `kernelvis optimize`,
`decompose` (prefixed --decompose-*), `refine` (prefixed --refine-*), the tuning sweep (prefixed
--tuning-*) and `texture-tuning` (prefixed --texture-*). DIR receives the files of every stage (with their stage_*.json records) plus summary.json,
panel.png and panel.gif; on error nothing is written.

  kernelvis visualize --model planted --layer energy --kernel 2 --out out/planted_k2
"""

from __future__ import annotations

HELP = "optimize, decompose, refine, tune, audit and render one kernel (the whole pipeline)"


def add_arguments(parser) -> None:
    from kernelvis.commands.common import add_kernel_target_arguments
    from kernelvis.commands.decompose import add_decompose_options
    from kernelvis.commands.optimize import add_optimize_options
    from kernelvis.commands.refine import add_refine_options
    from kernelvis.commands.texture_tuning import add_texture_tuning_options
    from kernelvis.commands.tuning import add_tuning_options

    add_kernel_target_arguments(parser)
    parser.add_argument("--out", required=True, metavar="DIR", help="output directory")
    parser.add_argument("--clips", default=None, metavar="NPZ",
                        help="clip set for the DeconvNet top clips and the optimality audit's best natural clip "
                             "(default: neither; the audit uses the tuning sweep only)")
    parser.add_argument("--no-refine", action="store_true", help="skip the texture and motion optimization")
    parser.add_argument("--no-tuning", action="store_true", help="skip the tuning sweep (and its part of the audit)")
    parser.add_argument("--no-texture-tuning", action="store_true", help="skip the texture-conditioned tuning")
    parser.add_argument("--no-deconvnet", action="store_true", help="skip the DeconvNet top clips (with --clips)")
    add_optimize_options(parser)
    add_decompose_options(parser)
    add_refine_options(parser)
    add_tuning_options(parser, sweep_only=True)
    add_texture_tuning_options(parser, prefixed=True)


def run(args) -> int:
    from kernelvis.commands.common import kernel_set_from_args
    from kernelvis.commands.decompose import decompose_config_from_args
    from kernelvis.commands.optimize import optimize_config_from_args
    from kernelvis.commands.refine import refine_config_from_args
    from kernelvis.commands.texture_tuning import texture_tuning_config_from_args
    from kernelvis.commands.tuning import tuning_config_from_args
    from kernelvis.io import staged_directory
    from kernelvis.pipeline import PipelineSettings, run_kernels

    skip = {name for name, off in (("refine", args.no_refine), ("tuning", args.no_tuning),
                                   ("texture_tuning", args.no_texture_tuning), ("deconvnet", args.no_deconvnet)) if off}
    # every option is checked before the long part starts
    settings = PipelineSettings(optimize_config_from_args(args), decompose_config_from_args(args),
                                refine_config_from_args(args), tuning_config_from_args(args),
                                texture_tuning_config_from_args(args), clips=args.clips,
                                neutral_textures=args.neutral_textures, refine_seed=args.seed,
                                deconvnet_seed=args.seed, motion_scale=args.motion_scale, skip=frozenset(skip))
    with staged_directory(args.out) as staging:
        kernel_set = kernel_set_from_args(args, kernel_dir=staging)
        (summary,) = run_kernels(kernel_set, settings)
    print(f"{summary['model']} {args.layer} kernel {summary['kernel']}: activation {_number(summary.get('activation'))}, "
          f"direction {_number(summary.get('direction_deg'))}° (strength {_number(summary.get('direction_strength'))}), "
          f"speed {_number(summary.get('speed_px_per_frame'))} px/frame, motion index "
          f"{_number(summary.get('motion_index'))}, optimality audit "
          f"{ {True: 'pass', False: 'FAIL', None: 'not applicable'}[summary.get('audit_pass')] }"
          + ("" if summary.get("status", "ok") == "ok" else f" [{summary['status']}]") + f" -> {args.out}")
    return 0


def _number(value) -> str:
    return "n/a" if value is None else f"{value:.3g}"
