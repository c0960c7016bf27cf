"""Sample a labelled clip set from Kinetics or any folder of videos.

Layouts: with ``--annotations CSV`` (Kinetics ``label,youtube_id,time_start,time_end,split``) clips are
looked up as ``ROOT/SPLIT/<youtube_id>_<start:06d>_<end:06d>.mp4``; without it, ``ROOT/SPLIT/<label>/*``
class folders (or, when ``ROOT/SPLIT`` does not exist, every video under ROOT, labelled by its folder).
Each clip: ``--frames`` frames ``--stride`` apart from the middle of the video, short side resized to
``--size`` and centre-cropped. Writes ``--out`` (clips.npz: clips uint8 [N,T,H,W,3], labels, class_names,
clip_ids) and ``--manifest`` (label,id,start,end,path,status,sha256 for every file tried; missing and
corrupt files are skipped and listed there).
"""

from __future__ import annotations

HELP = "sample N clips per class from Kinetics / a video folder into clips.npz + manifest"


def add_arguments(parser) -> None:
    parser.add_argument("--root", required=True, help="dataset root (holds SPLIT/) or a plain video folder")
    parser.add_argument("--annotations", default=None, help="Kinetics annotation CSV (flat SPLIT/<id>_<s>_<e>.mp4 layout)")
    parser.add_argument("--split", default="val")
    parser.add_argument("--classes", nargs="*", default=None, help="class labels (default: all)")
    parser.add_argument("--per-class", type=int, default=4)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--stride", type=int, default=2, help="take every STRIDE-th decoded frame")
    parser.add_argument("--size", type=int, default=112, help="short side resize, then centre square crop")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="results/data/clips.npz")
    parser.add_argument("--manifest", default=None, help="manifest CSV (default: beside --out)")


def run(args) -> int:
    from pathlib import Path

    from kernelvis.data.kinetics import annotation_sources, folder_sources, sample_clips, save_clip_set, sha256_of

    sources = (annotation_sources(args.root, args.annotations, args.split) if args.annotations
               else folder_sources(args.root, args.split))
    clip_set = sample_clips(sources, args.classes, args.per_class, args.frames, args.stride, args.size, args.seed)
    manifest = args.manifest or str(Path(args.out).with_name("manifest.csv"))
    save_clip_set(clip_set, args.out, manifest)
    counts = ", ".join(f"{count} {status}" for status, count in sorted(clip_set.status_counts.items()))
    print(f"{len(clip_set.labels)} clips from {len(clip_set.class_names)} classes -> {args.out} "
          f"(tried {len(clip_set.manifest)}: {counts})")
    # The manifest's hash names the exact clip list (Kinetics clips disappear from YouTube over time).
    print(f"manifest {manifest} sha256 {sha256_of(Path(manifest))}")
    return 0
