"""Texture-conditioned direction tuning of one kernel (kernelvis.stages.texture_tuning): the kernel's own
stage-2 texture (and the refined texture, when DIR holds refined.npz) translated in --directions directions at
the visualized speed, half and double it, measured with stage 1's objective and preprocessing.

Reads DIR/optimal.npz, DIR/decomposition.npz and DIR/refined.npz; writes texture_tuning.csv (every curve),
texture_tuning.json (peak direction, DSI, agreement with the visualized direction, the curves, provenance) and
stage_texture_tuning.json into DIR.

  kernelvis texture-tuning --model planted --layer energy --kernel 2 --out out/planted_k2
"""

from __future__ import annotations

HELP = "texture-conditioned direction tuning: the kernel's own texture moved in every direction"


def add_texture_tuning_options(parser, prefixed: bool = False) -> None:
    """The options of the texture-conditioned sweep; ``prefixed`` (``kernelvis visualize``): ``--texture-*``."""
    group = parser.add_argument_group("texture-conditioned tuning")
    prefix = "--texture-" if prefixed else "--"
    group.add_argument(f"{prefix}directions", dest="texture_directions", type=int, default=24,
                       help="evenly spaced directions from 0°")
    group.add_argument(f"{prefix}speed-factors", dest="texture_speed_factors", type=float, nargs="+",
                       default=[0.5, 1.0, 2.0], metavar="FACTOR",
                       help="multiples of the visualized speed (1 must be among them: the verdict's curve)")
    group.add_argument(f"{prefix}min-speed", dest="texture_min_speed", type=float, default=0.25,
                       metavar="PX_PER_FRAME", help="speed probed where the visualized motion is slower (recorded)")


def texture_tuning_config_from_args(args):
    from kernelvis.analysis.texture_tuning import TextureTuningConfig
    from kernelvis.errors import BadInputError

    try:
        return TextureTuningConfig(directions=args.texture_directions,
                                   speed_factors=tuple(args.texture_speed_factors),
                                   min_speed_px_per_frame=args.texture_min_speed)
    except ValueError as error:
        raise BadInputError(str(error)) from None


def add_arguments(parser) -> None:
    from kernelvis.commands.common import add_kernel_target_arguments

    add_kernel_target_arguments(parser, kernel_sets=True)
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="kernel directory holding optimal.npz, decomposition.npz (and refined.npz); with "
                             "--kernels: the layer directory")
    parser.add_argument("--no-refined", action="store_true", help="only stage 2's texture, not the refined one")
    parser.add_argument("--device", default="cpu")
    add_texture_tuning_options(parser)


def run(args) -> int:
    from kernelvis.commands.common import kernel_set_from_args
    from kernelvis.stages.texture_tuning import texture_tuning_stage

    config = texture_tuning_config_from_args(args)
    kernel_set = kernel_set_from_args(args)
    records = texture_tuning_stage(kernel_set, config, use_refined=not args.no_refined)
    for (kernel, kernel_dir), record in zip(kernel_set.items(), records):
        peak, agrees = record.get("texture_preferred_direction_deg"), record.get("texture_agrees")
        print(f"{kernel_set.model.name} {args.layer} kernel {kernel}: own texture peaks at "
              f"{'n/a' if peak is None else f'{peak:.0f}°'} (DSI {record.get('texture_dsi') or 0:.2f}); the visualized "
              f"motion {'agrees' if agrees else 'does not agree' if agrees is False else 'has no direction'} -> "
              f"{kernel_dir}")
    return 0
