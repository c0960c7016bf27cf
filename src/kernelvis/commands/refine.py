"""Texture and motion optimization against the kernel, and its texture/motion reliance indices.

Reads DIR/optimal.npz (stage 1) and DIR/decomposition.npz (stage 2), optimizes the texture with the
motion fixed and the motion with the texture fixed (alternating for --rounds), each keeping its best
iterate so the activation never drops, then measures the kernel's reliance on texture and motion.
Writes texture.png, motion_refined.gif (optimal input | refined motion | refined reconstruction) and
refined.npz into DIR, and merges the activation after each step, the reliance indices and the
refined direction into the summary JSON.
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

    add_kernel_target_arguments(parser)
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="output directory (refined.npz, texture.png, motion_refined.gif)")
    parser.add_argument("--optimal", default=None, metavar="PATH", help="stage 1's optimal.npz (default: DIR/optimal.npz)")
    parser.add_argument("--decomposition", default=None, metavar="PATH",
                        help="stage 2's decomposition.npz (default: DIR/decomposition.npz)")
    parser.add_argument("--summary", default=None, metavar="PATH", help="summary JSON to merge into (default: DIR/summary.json)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the neutral textures")
    parser.add_argument("--objective", choices=["channel", "rectified", "neuron"], default=None,
                        help="default: the one stage 1 used (read from optimal.npz); a different one is refused")
    parser.add_argument("--preprocessing", choices=["native", "paper"], default=None,
                        help="default: the one stage 1 used (read from optimal.npz); a different one is refused")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    add_refine_options(parser, short_names=True)


def run(args) -> int:
    from pathlib import Path

    from kernelvis.analysis.reliance import refine_with_reliance
    from kernelvis.commands.common import load_kernel_target, stage1_settings
    from kernelvis.io import staged_directory, update_json

    kernel_dir = Path(args.out)
    optimal_path = Path(args.optimal) if args.optimal else kernel_dir / "optimal.npz"
    decomposition_path = Path(args.decomposition) if args.decomposition else kernel_dir / "decomposition.npz"
    if optimal_path.is_file():
        args.objective, args.preprocessing = stage1_settings(optimal_path, args.objective, args.preprocessing)
    config = refine_config_from_args(args)
    optimal_video, decomposition = load_kernel_inputs(optimal_path, decomposition_path)
    model, kernel = load_kernel_target(args)
    result, arrays, scalars = refine_with_reliance(model, args.layer, kernel, optimal_video,
                                                   decomposition["static_canvas"], decomposition["displacement"],
                                                   decomposition["margin_px"], config, args.neutral_textures,
                                                   args.seed)
    with staged_directory(kernel_dir) as staging:
        write_refined(staging, arrays, optimal_video)
    summary_path = Path(args.summary) if args.summary else kernel_dir / "summary.json"
    update_json(summary_path, {"model": model.name, "layer": args.layer, "kernel": kernel,
                               "refine_objective": config.objective, "refine_preprocessing": config.preprocessing,
                               **{key: _json_number(value) for key, value in scalars.items()}})
    print(f"{model.name} {args.layer} kernel {kernel}: activation {result.activation_start:.4g} -> "
          f"{result.activation_final:.4g}, texture_reliance {scalars['texture_reliance']:.2f}, "
          f"motion_reliance {scalars['motion_reliance']:.2f}, reversal drop {scalars['direction_reversal_drop']:.2f}, "
          f"refined direction {scalars['refined_direction_deg']:.0f}° -> {kernel_dir}")
    return 0


def write_refined(out_dir, arrays: dict, optimal_video) -> None:
    """refined.npz, texture.png (the refined texture under the frame) and motion_refined.gif
    (optimal input | refined HSV motion | refined reconstruction, as the paper's GIFs)."""
    from kernelvis.io import save_npz, write_gif, write_png
    from kernelvis.render.panels import side_by_side_frames

    save_npz(out_dir / "refined.npz", **arrays)
    write_png(out_dir / "texture.png", arrays["static"])
    write_gif(out_dir / "motion_refined.gif", side_by_side_frames(optimal_video, arrays["velocity"], arrays["recon"]))


def load_kernel_inputs(optimal_path, decomposition_path):
    """(optimal video [T, H, W, 3], decomposition dict with static_canvas, displacement, margin_px) from stage 1's
    optimal.npz and stage 2's decomposition.npz; a missing or inconsistent file is a :class:`BadInputError`
    naming it."""
    import numpy as np

    from kernelvis.errors import BadInputError
    from kernelvis.io import read_video

    for path, stage in ((optimal_path, "kernelvis optimize"), (decomposition_path, "kernelvis decompose")):
        if not path.is_file():
            raise BadInputError(f"{path} not found: run `{stage}` for this kernel first")
    optimal_video = read_video(optimal_path)
    try:
        with np.load(decomposition_path) as archive:
            displacement = np.asarray(archive["displacement"], dtype=np.float32)
            if "static_canvas" in archive:
                canvas, margin_px = np.asarray(archive["static_canvas"], dtype=np.float32), int(archive["margin_px"])
            else:  # a decomposition without a canvas: the frame-sized texture, no margin
                canvas, margin_px = np.asarray(archive["static"], dtype=np.float32), 0
    except (KeyError, ValueError, OSError) as error:
        raise BadInputError(f"cannot read {decomposition_path}: {error}") from None
    if displacement.shape[:3] != optimal_video.shape[:3] or displacement.shape[-1] != 2:
        raise BadInputError(f"{decomposition_path}: displacement {list(displacement.shape)} does not match the "
                            f"optimal video {list(optimal_video.shape)}")
    expected_canvas = tuple(size + 2 * margin_px for size in optimal_video.shape[1:3]) + (3,)
    if canvas.shape != expected_canvas:
        raise BadInputError(f"{decomposition_path}: static canvas {list(canvas.shape)} is not {list(expected_canvas)}")
    if not (np.isfinite(displacement).all() and np.isfinite(canvas).all()):
        raise BadInputError(f"{decomposition_path}: contains NaN or inf")
    return optimal_video, {"static_canvas": np.clip(canvas, 0.0, 1.0), "displacement": displacement,
                           "margin_px": margin_px}


def _json_number(value):
    """NaN/inf are not JSON: they are written as null."""
    import math

    return None if isinstance(value, float) and not math.isfinite(value) else value
