"""Train the demo model (a small 3D CNN, layers conv1..conv4) on the synthetic motion task: 13
classes (8 translation directions, rotation both ways, expansion, contraction, static) on smooth-noise
and photograph textures. Deterministic for a seed. Writes the state dict to OUT (load it with
``--model demo --weights OUT``) and the metrics, held-out accuracy included, to OUT with suffix .json.
"""

from __future__ import annotations

TRAINS = True
"""Torch's vector width is capped for this command (kernelvis.numerics): the weights do not depend on the CPU."""
HELP = "train the demo 3D CNN on synthetic motion (checkpoint + held-out accuracy JSON)"


def add_arguments(parser) -> None:
    from kernelvis.data.motion_task import MotionTaskConfig

    defaults = MotionTaskConfig()
    parser.add_argument("--out-file", default="results/demo/demo_model.pt", help="checkpoint path (.pt)")
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    parser.add_argument("--clips-per-class", type=int, default=defaults.train_clips_per_class, help="training clips per class")
    parser.add_argument("--heldout-per-class", type=int, default=defaults.heldout_clips_per_class,
                        help="held-out clips per class")
    parser.add_argument("--lr", type=float, default=defaults.lr)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--min-accuracy", type=float, default=0.0,
                        help="fail (writing nothing) if held-out accuracy is below this fraction")
    parser.add_argument("--quiet", action="store_true", help="no per-epoch progress")


def run(args) -> int:
    from dataclasses import asdict, replace
    from pathlib import Path

    import torch

    from kernelvis.data.motion_task import MotionTaskConfig
    from kernelvis.training import train_motion_model
    from kernelvis.errors import BadInputError
    from kernelvis.io import atomic_path, save_json
    from kernelvis.models.demo import build_demo_model

    if args.epochs < 1 or args.clips_per_class < 1 or args.heldout_per_class < 1:
        raise BadInputError("--epochs, --clips-per-class and --heldout-per-class must be >= 1")
    config = replace(MotionTaskConfig(), epochs=args.epochs, train_clips_per_class=args.clips_per_class,
                     heldout_clips_per_class=args.heldout_per_class, lr=args.lr, seed=args.seed, progress=not args.quiet)
    torch.manual_seed(args.seed)
    model, metrics = train_motion_model(build_demo_model(len(config.classes)), config)
    print(f"held-out accuracy {metrics.heldout_accuracy:.3f} on {metrics.heldout_clips} clips "
          f"(train {metrics.train_accuracy:.3f}); {metrics.total_seconds:.0f} s on {metrics.threads} thread(s), "
          f"CPU capability {metrics.numerics['cpu_capability']}"
          + ("" if metrics.numerics["portable"] else " (not the portable AVX2 setting: these weights may differ on "
                                                     "another machine; kernelvis.numerics)"))
    if metrics.heldout_accuracy < args.min_accuracy:
        raise BadInputError(f"held-out accuracy {metrics.heldout_accuracy:.3f} is below --min-accuracy "
                            f"{args.min_accuracy}; nothing written")
    out = Path(args.out_file)
    with atomic_path(out) as temporary:
        torch.save(model.state_dict(), temporary)
    save_json(out.with_suffix(".json"), {"checkpoint": out.name, **asdict(metrics)})
    print(f"-> {out} and {out.with_suffix('.json')}")
    return 0
