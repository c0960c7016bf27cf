"""Texture and motion optimization against the kernel, and its texture/motion reliance indices.

Reads DIR/optimal.npz (stage 1) and DIR/decomposition.npz (stage 2), optimizes the texture with the
motion fixed and the motion with the texture fixed (alternating for --rounds), each keeping its best
iterate so the activation never drops, then measures the kernel's reliance on texture and motion.
Writes texture.png, motion_refined.gif (optimal input | refined motion | refined reconstruction),
refined.npz and stage_refine.json (the activation after each step, the reliance indices, the refined
direction) into DIR (kernelvis.stages.refine.refine_stage).
"""

from __future__ import annotations

HELP = "texture and motion optimization against the kernel; texture/motion reliance indices"


def add_refine_options(parser, short_names: bool = False) -> None:
    """The texture/motion-optimization options, shared with ``kernelvis visualize``.

    ``--refine-steps``/``--refine-rounds``/``--refine-phases`` carry a prefix so they can sit beside
    stage 1's and stage 2's options; ``short_names=True`` (the refine command) also accepts ``--steps``,
    ``--rounds`` and ``--phases``. Seed, device, objective and preprocessing are read from ``args.seed``,
    ``args.device``, ``args.objective``, ``args.preprocessing`` (shared with stage 1).
    """
    from kernelvis.analysis.refine_config import PHASES, RefineConfig

    defaults = RefineConfig()
    group = parser.add_argument_group("texture and motion optimization")
    group.add_argument("--refine-steps", *(["--steps"] if short_names else []), dest="refine_steps", type=int,
                       default=defaults.steps, help="steps of each texture or motion optimization (0: none)")
    group.add_argument("--refine-rounds", *(["--rounds"] if short_names else []), dest="refine_rounds", type=int,
                       default=defaults.rounds, help="texture-then-motion rounds (alternation)")
    group.add_argument("--refine-phases", *(["--phases"] if short_names else []), dest="refine_phases", nargs="+",
                       choices=PHASES, default=list(defaults.phases), help="which optimizations a round runs, in order")
    group.add_argument("--texture-lr", type=float, default=defaults.texture_lr, help="Adam rate on texture values in [0, 1]")
    group.add_argument("--motion-lr-px", type=float, default=defaults.motion_lr_px, help="motion step, px")
    group.add_argument("--texture-tv-weight", type=float, default=defaults.texture_tv_weight,
                       help="weight of TV(I), relative to the start activation")
    group.add_argument("--motion-smoothness-weight", type=float, default=defaults.motion_smoothness_weight,
                       help="weight of the spatial TV of D, relative to the start activation")
    group.add_argument("--motion-speed-weight", type=float, default=defaults.motion_speed_weight,
                       help="slow-motion prior: weight of the mean squared velocity change, relative to the start activation")
    group.add_argument("--motion-grid", type=int, default=defaults.motion_grid,
                       help="control points per side of the motion change (1: one translation per frame; 0: one per pixel)")
    group.add_argument("--neutral-textures", type=int, default=4,
                       help="smooth-noise textures averaged for the motion-on-neutral-texture activation")


def refine_config_from_args(args):
    """A :class:`~kernelvis.analysis.refine.RefineConfig` from parsed options; bad values raise BadInputError."""
    from kernelvis.analysis.refine_config import RefineConfig
    from kernelvis.errors import BadInputError

    if args.refine_steps < 0 or args.refine_rounds < 1:
        raise BadInputError(f"--refine-steps must be >= 0 and --refine-rounds >= 1 "
                            f"(got {args.refine_steps}, {args.refine_rounds})")
    for name in ("texture_lr", "motion_lr_px"):
        if not getattr(args, name) > 0:
            raise BadInputError(f"--{name.replace('_', '-')} must be positive (got {getattr(args, name)})")
    for name in ("texture_tv_weight", "motion_smoothness_weight", "motion_speed_weight", "motion_grid"):
        if getattr(args, name) < 0:
            raise BadInputError(f"--{name.replace('_', '-')} must be >= 0 (got {getattr(args, name)})")
    if args.neutral_textures < 1:
        raise BadInputError(f"--neutral-textures must be >= 1 (got {args.neutral_textures})")
    return RefineConfig(steps=args.refine_steps, rounds=args.refine_rounds, phases=tuple(args.refine_phases),
                        texture_lr=args.texture_lr, motion_lr_px=args.motion_lr_px,
                        texture_tv_weight=args.texture_tv_weight, motion_smoothness_weight=args.motion_smoothness_weight,
                        motion_speed_weight=args.motion_speed_weight, motion_grid=args.motion_grid,
                        objective=getattr(args, "objective", "channel"),
                        preprocessing=getattr(args, "preprocessing", "native"), device=getattr(args, "device", "cpu"))


def add_arguments(parser) -> None:
    from kernelvis.commands.common import add_kernel_target_arguments

    add_kernel_target_arguments(parser, kernel_sets=True)
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="kernel directory (refined.npz, texture.png, motion_refined.gif, stage_refine.json; with "
                             "--kernels: the layer directory)")
    parser.add_argument("--optimal", default=None, metavar="PATH",
                        help="stage 1's optimal.npz (default: DIR/optimal.npz; one --kernel only)")
    parser.add_argument("--decomposition", default=None, metavar="PATH",
                        help="stage 2's decomposition.npz (default: DIR/decomposition.npz; one --kernel only)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the neutral textures")
    parser.add_argument("--objective", choices=["channel", "rectified", "neuron"], default=None,
                        help="default: the one stage 1 used (read from optimal.npz); a different one is refused")
    parser.add_argument("--preprocessing", choices=["native", "paper"], default=None,
                        help="default: the one stage 1 used (read from optimal.npz); a different one is refused")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    add_refine_options(parser, short_names=True)


def run(args) -> int:
    from pathlib import Path

    from kernelvis.commands.common import kernel_set_from_args, preload_stage1, refuse_single_kernel_inputs
    from kernelvis.stages.inputs import load_stage2
    from kernelvis.stages.refine import refine_stage

    config = refine_config_from_args(args)
    refuse_single_kernel_inputs(args, "optimal", "decomposition")
    kernel_set = kernel_set_from_args(args)
    for kernel, kernel_dir in kernel_set.items():  # explicit inputs (one kernel), and stage 1's settings checked
        optimal_path = Path(args.optimal) if args.optimal else kernel_dir / "optimal.npz"
        stage1 = preload_stage1(kernel_set, optimal_path, args.objective, args.preprocessing, kernel)
        decomposition_path = Path(args.decomposition) if args.decomposition else kernel_dir / "decomposition.npz"
        kernel_set.remember("decompose", kernel, load_stage2(decomposition_path, stage1.video.shape))
    for (kernel, kernel_dir), record in zip(kernel_set.items(), refine_stage(kernel_set, config,
                                                                              args.neutral_textures, args.seed)):
        numbers = ", ".join(f"{key} {_number(record.get(key))}" for key in
                            ("refine_activation_start", "refine_activation", "texture_reliance", "motion_reliance",
                             "direction_reversal_drop", "refined_direction_deg"))
        print(f"{kernel_set.model.name} {args.layer} kernel {kernel}: {numbers} -> {kernel_dir}")
    return 0


def _number(value) -> str:
    return "n/a" if value is None else f"{value:.4g}"
