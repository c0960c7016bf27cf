"""Stage 2: decompose a video into a static texture, a motion and an appearance change
(V_t(p) ≈ A_t(I(p + D_t(p))); docs/methods-stage2.md).

VIDEO is an .npz (key 'video', e.g. optimal.npz), a .gif or an .mp4. Writes into DIR:
decomposition.npz (static, displacement, velocity, recon, static_canvas, margin_px, start, gain,
offset, residual_coef, residual_image, recon_motion_only, recon_appearance_only), static.png,
motion.gif (hue = direction, brightness = speed), recon.gif, arrows.png, and merges recon_psnr_db,
direction_deg, direction_strength, speed_px_per_frame, motion_share, appearance_share,
residual_share, temporal_change, static_clip, motion_index (= motion_share), decompose_start (plus
model, layer, kernel, activation when VIDEO is an optimal.npz) into the summary JSON. Nothing is
written on error.
"""

from __future__ import annotations

HELP = "static texture + motion of a video (stage 2)"



def add_decompose_options(parser, short_names: bool = False) -> None:
    """The stage-2 options, shared with ``kernelvis visualize``.

    ``--decompose-steps`` and ``--decompose-lr`` carry a prefix so they can sit beside stage 1's
    ``--steps``/``--lr``; ``short_names=True`` (the decompose command) also accepts ``--steps``/``--lr``.
    The seed and device are read from ``args.seed`` / ``args.device`` (shared with stage 1).
    """
    from kernelvis.decompose.config import ANCHORS, DecomposeConfig

    defaults = DecomposeConfig()
    group = parser.add_argument_group("stage 2 (decomposition)")
    group.add_argument("--decompose-steps", *(["--steps"] if short_names else []), dest="decompose_steps", type=int,
                       default=defaults.steps, help="joint refinement steps of the static image and displacements")
    group.add_argument("--decompose-lr", *(["--lr"] if short_names else []), dest="decompose_lr", type=float,
                       default=defaults.lr, help="Adam rate of the joint refinement")
    group.add_argument("--flow-levels", type=int, default=defaults.flow_levels, help="pyramid levels of the pairwise flow")
    group.add_argument("--flow-steps", type=int, default=defaults.flow_steps,
                       help="Adam steps of the pairwise flow at the finest level (each coarser level: twice as many)")
    group.add_argument("--flow-lr", type=float, default=defaults.flow_lr)
    group.add_argument("--flow-tv", type=float, default=defaults.flow_tv_weight, help="TV weight of the pairwise flow")
    group.add_argument("--w-recon", type=float, default=defaults.recon_weight, help="weight of the reconstruction MSE")
    group.add_argument("--w-tv-displacement", type=float, default=defaults.tv_displacement_weight,
                       help="weight of TV(D_t), spatial")
    group.add_argument("--w-tv-static", type=float, default=defaults.tv_static_weight, help="weight of TV(I)")
    group.add_argument("--w-static", type=float, default=defaults.static_weight,
                       help="weight of the MSE between I and the anchor frame")
    group.add_argument("--anchor", choices=ANCHORS, default=defaults.anchor,
                       help="the frame the static texture I is anchored to: 'first' = frame 0, as the paper; "
                            "'contrast' = frame 0 unless it has under 3/4 of the clip's highest contrast, then the first "
                            "frame that has (an optimal input that fades in; on whole demo layers it reconstructed "
                            "worse); 'best' = both where they differ, the better reconstruction kept (such a clip is "
                            "fitted twice)")
    group.add_argument("--paper-weights", action="store_true",
                       help="all four loss weights 1, as in the paper (blurs I on [0,1] videos)")
    group.add_argument("--margin-px", type=int, default=None,
                       help="static canvas margin around the frame (default: largest displacement + 2)")
    group.add_argument("--no-appearance", dest="appearance", action="store_false",
                       help="texture + motion only, no appearance component (stage 2 before issue 16)")
    group.add_argument("--no-translation-start", dest="rigid_start", action="store_false",
                       help="fit from the pairwise flow's start only, not also from one velocity for the whole clip "
                            "(about halves stage 2's time)")
    group.add_argument("--appearance-grid", type=int, default=defaults.appearance_grid,
                       help="control points per side of the gain/offset maps (1: global gain and offset)")
    group.add_argument("--motion-scale", type=float, default=None, metavar="PX_PER_FRAME",
                       help="speed shown at full brightness in motion.gif; give one value to compare kernels "
                            "(default: the 99th percentile of this clip's speeds)")


def decompose_config_from_args(args):
    """A :class:`~kernelvis.decompose.fit.DecomposeConfig` from parsed options; bad values raise BadInputError."""
    from kernelvis.decompose.config import DecomposeConfig
    from kernelvis.errors import BadInputError

    for name in ("decompose_steps", "flow_steps"):
        if getattr(args, name) < 0:
            raise BadInputError(f"--{name.replace('_', '-')} must be >= 0 (got {getattr(args, name)})")
    if args.flow_levels < 1:
        raise BadInputError(f"--flow-levels must be at least 1 (got {args.flow_levels})")
    for name in ("decompose_lr", "flow_lr"):
        if not getattr(args, name) > 0:
            raise BadInputError(f"--{name.replace('_', '-')} must be positive (got {getattr(args, name)})")
    for name in ("w_recon", "w_tv_displacement", "w_tv_static", "w_static", "flow_tv"):
        if getattr(args, name) < 0:
            raise BadInputError(f"--{name.replace('_', '-')} must be >= 0 (got {getattr(args, name)})")
    if getattr(args, "appearance_grid", 1) < 1:
        raise BadInputError(f"--appearance-grid must be at least 1 (got {args.appearance_grid})")
    if args.margin_px is not None and args.margin_px < 0:
        raise BadInputError(f"--margin-px must be >= 0 (got {args.margin_px})")
    if args.motion_scale is not None and not args.motion_scale > 0:
        raise BadInputError(f"--motion-scale must be positive (got {args.motion_scale})")
    weights = (dict(recon_weight=1.0, tv_displacement_weight=1.0, tv_static_weight=1.0, static_weight=1.0)
               if args.paper_weights else
               dict(recon_weight=args.w_recon, tv_displacement_weight=args.w_tv_displacement,
                    tv_static_weight=args.w_tv_static, static_weight=args.w_static))
    return DecomposeConfig(steps=args.decompose_steps, lr=args.decompose_lr, flow_levels=args.flow_levels,
                           flow_steps=args.flow_steps, flow_lr=args.flow_lr, flow_tv_weight=args.flow_tv,
                           margin_px=args.margin_px, seed=getattr(args, "seed", 0),
                           appearance=getattr(args, "appearance", True),
                           rigid_start=getattr(args, "rigid_start", True),
                           anchor=getattr(args, "anchor", defaults_anchor()),
                           appearance_grid=getattr(args, "appearance_grid", defaults_grid()),
                           device=getattr(args, "device", "cpu"), **weights)


def defaults_anchor() -> str:
    from kernelvis.decompose.config import DecomposeConfig

    return DecomposeConfig().anchor


def defaults_grid() -> int:
    from kernelvis.decompose.config import DecomposeConfig

    return DecomposeConfig().appearance_grid


def add_arguments(parser) -> None:
    parser.add_argument("video", metavar="VIDEO", nargs="?", default=None,
                        help=".npz (key 'video'), .gif or .mp4 (leave out with --kernels)")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="output directory (with --kernels: the layer directory holding kernel_NNNN/optimal.npz)")
    parser.add_argument("--kernels", default=None, metavar="SPEC",
                        help="decompose these kernels' optimal inputs (OUT/kernel_NNNN/optimal.npz) in one process: "
                             "a range 0-15 or a list 0,3,7")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    add_decompose_options(parser, short_names=True)


def run(args) -> int:
    from kernelvis.errors import BadInputError
    from kernelvis.stages.decompose import decompose_file, decompose_stage

    config = decompose_config_from_args(args)
    if (args.video is None) == (args.kernels is None):
        raise BadInputError("give a VIDEO, or --kernels to decompose kernels' optimal inputs under --out")
    if args.kernels is not None:
        from kernelvis.commands.common import kernel_set_from_args

        args.layer, args.kernel = "", None
        kernel_set = kernel_set_from_args(args, load_model=False)
        for kernel_dir, summary in zip(kernel_set.dirs, decompose_stage(kernel_set, config, args.motion_scale)):
            print(f"{kernel_dir}: direction {summary['direction_deg']:.1f} deg, speed "
                  f"{summary['speed_px_per_frame']:.3f} px/frame, motion share {summary['motion_share']:.2f}")
        return 0
    _, summary = decompose_file(args.video, args.out, config, args.motion_scale)
    print(f"{args.video}: direction {summary['direction_deg']:.1f} deg, speed {summary['speed_px_per_frame']:.3f} "
          f"px/frame, strength {summary['direction_strength']:.2f}, change shares motion {summary['motion_share']:.2f} "
          f"/ appearance {summary['appearance_share']:.2f} / residual {summary['residual_share']:.2f}, "
          f"recon {summary['recon_psnr_db']:.1f} dB -> {args.out}")
    return 0
