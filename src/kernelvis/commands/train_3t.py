"""Train the 3TConv demo model (``demo3t``: the demo architecture with Conv3T layers) on the synthetic
motion task, with the same training loop as the demo model (``kernelvis.data.motion_task``).

Writes the state dict to OUT (``--weights OUT`` for ``--model demo3t``) and the training metrics
(held-out accuracy overall and per class, losses, timings, the stated motion of conv1) to OUT with
the suffix ``.json``. ``--from-3d CKPT`` starts from a trained 3D demo model instead (k0 from the
mean or centre temporal slice of each kernel, identity transforms, BN and fc copied).
"""

from __future__ import annotations

TRAINS = True
"""Torch's vector width is capped for this command (kernelvis.numerics): the weights do not depend on the CPU."""
HELP = "train the 3TConv demo model (demo3t) on the synthetic motion task"


def add_arguments(parser) -> None:
    parser.add_argument("--out-file", required=True, help="state-dict path (.pt); metrics go beside it as .json")
    parser.add_argument("--init-shift-std", type=float, default=0.7, metavar="PX_PER_FRAME",
                        help="random initial drift per filter (0: identity transforms, which barely train)")
    parser.add_argument("--from-3d", default=None, metavar="CKPT", help="transfer from a trained 3D demo checkpoint")
    parser.add_argument("--k0-from", choices=["mean", "centre"], default="mean",
                        help="with --from-3d: which temporal slice becomes k0")
    group = parser.add_argument_group("motion task")
    group.add_argument("--classes", nargs="+", default=None, help="subset of the motion classes (default: all; a subset gives a smaller head than the zoo's demo3t)")
    group.add_argument("--epochs", type=int, default=None)
    group.add_argument("--clips-per-class", type=int, default=None, help="training clips per class")
    group.add_argument("--heldout-per-class", type=int, default=None)
    group.add_argument("--frames", type=int, default=None)
    group.add_argument("--size", type=int, default=None)
    group.add_argument("--textures", nargs="+", default=None)
    group.add_argument("--batch-size", type=int, default=None)
    group.add_argument("--lr", type=float, default=None)
    group.add_argument("--seed", type=int, default=0)
    group.add_argument("--progress", action="store_true", help="print one line per epoch")


def task_config_from_args(args):
    """A MotionTaskConfig with the task's defaults where an option is not given."""
    from kernelvis.data.motion_task import MotionTaskConfig

    given = {"classes": tuple(args.classes) if args.classes else None, "epochs": args.epochs,
             "train_clips_per_class": args.clips_per_class, "heldout_clips_per_class": args.heldout_per_class,
             "frames": args.frames, "size": args.size, "textures": tuple(args.textures) if args.textures else None,
             "batch_size": args.batch_size, "lr": args.lr}
    return MotionTaskConfig(seed=args.seed, progress=args.progress,
                            **{key: value for key, value in given.items() if value is not None})


def build_model(config, init_shift_std: float, from_3d: str | None, k0_from: str, seed: int):
    import torch

    from kernelvis.models.conv3t import build_demo3t_model, demo3t_from_demo
    from kernelvis.models.demo import DemoNet
    from kernelvis.models.weights import apply_state_dict, read_checkpoint

    torch.manual_seed(seed)
    if from_3d is None:
        return build_demo3t_model(len(config.classes), init_shift_std, seed)
    demo = DemoNet(len(config.classes))
    apply_state_dict(demo, read_checkpoint(from_3d), "demo", str(from_3d))
    return demo3t_from_demo(demo, k0_from)


def run(args) -> int:
    import dataclasses
    from pathlib import Path

    import numpy as np
    import torch

    from kernelvis.baselines.tconv_analysis import stated_motion
    from kernelvis.training import train_motion_model
    from kernelvis.errors import BadInputError
    from kernelvis.io import atomic_path, save_json
    from kernelvis.models.demo import DEMO_PREPROCESSING

    config = task_config_from_args(args)
    if args.init_shift_std < 0:
        raise BadInputError("--init-shift-std must be >= 0")
    model = build_model(config, args.init_shift_std, args.from_3d, args.k0_from, args.seed)
    model, metrics = train_motion_model(model, config, DEMO_PREPROCESSING)
    out = Path(args.out_file)
    with atomic_path(out) as temporary:
        torch.save(model.state_dict(), temporary)
    motion = stated_motion(model.conv1)
    record = {**dataclasses.asdict(metrics), "model": "demo3t", "weights": str(out),
              "init_shift_std_px_per_frame": args.init_shift_std, "from_3d": args.from_3d,
              "parameters": int(sum(p.numel() for p in model.parameters())),
              "conv1_median_stated_speed_px_per_frame": float(np.median(motion["speed_px_per_frame"]))}
    save_json(out.with_suffix(".json"), record)
    print(f"demo3t: held-out accuracy {metrics.heldout_accuracy:.3f} ({metrics.heldout_clips} clips, "
          f"{len(config.classes)} classes, {metrics.total_seconds:.0f} s) -> {out}")
    return 0
