"""Write a labelled synthetic clip set (the default pipeline's data) in the clips.npz format of
``kernelvis sample-clips``: the demo motion task's 13 classes (8 translation directions, rotation
both ways, expansion, contraction, static) on smooth-noise and natural-photograph textures, with
random speed and contrast. The manifest lists each clip's class and index.
"""

from __future__ import annotations

HELP = "write a labelled synthetic motion clip set (clips.npz + manifest)"


def add_arguments(parser) -> None:
    parser.add_argument("--per-class", type=int, default=4)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--size", type=int, default=48)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out-file", default="results/data/clips.npz")
    parser.add_argument("--manifest", default=None, help="manifest CSV (default: beside --out-file)")


def run(args) -> int:
    from pathlib import Path

    from kernelvis.data.kinetics import ClipSet, save_clip_set
    from kernelvis.data.motion_task import MotionTaskConfig, motion_clips
    from kernelvis.errors import BadInputError

    if args.per_class < 1 or args.frames < 2 or args.size < 8:
        raise BadInputError("need --per-class >= 1, --frames >= 2 and --size >= 8")
    config = MotionTaskConfig(frames=args.frames, size=args.size)
    clips, labels = motion_clips(config, args.per_class, args.seed)
    names = list(config.classes)
    clip_ids = [f"synthetic_{args.seed}_{index:05d}" for index in range(len(labels))]
    manifest = [{"label": names[label], "id": clip_id, "start": "", "end": "", "path": "", "status": "ok", "sha256": ""}
                for label, clip_id in zip(labels, clip_ids)]
    manifest_path = args.manifest or str(Path(args.out_file).with_name("manifest.csv"))
    save_clip_set(ClipSet(clips, labels, names, clip_ids, manifest), args.out_file, manifest_path)
    print(f"{len(labels)} synthetic clips ({len(names)} classes x {args.per_class}) -> {args.out_file}")
    return 0
