"""Network dissection for video on synthetic concept clips with exact per-pixel labels (moving
object vs background, 8 motion directions, texture families, colours).

Per kernel: top-quantile threshold over (clip, t, h, w), maps upsampled to the clip at
receptive-field centres, IoU with every concept summed over the set; a detector when the best IoU
exceeds --iou-threshold. Writes into DIR: dissection.csv (layer, kernel, concept, category, iou,
detector: one row per kernel), dissection.json (per-layer detector and unique-concept counts,
overall and per category, plus the settings) and dissection_counts.png.
"""

from __future__ import annotations

HELP = "network dissection on labelled synthetic concept clips: detectors and unique concepts per layer"


def add_arguments(parser) -> None:
    parser.add_argument("--model", required=True, help="zoo name or path/file.py:function")
    parser.add_argument("--weights", default=None, help="local checkpoint")
    parser.add_argument("--layers", nargs="+", default=None, help="layers to dissect (default: every conv layer)")
    parser.add_argument("--out", required=True, metavar="DIR", help="output directory (e.g. results/MODEL/dissection)")
    parser.add_argument("--n-clips", type=int, default=32, help="concept clips (directions cycle every 8)")
    parser.add_argument("--frames", type=int, default=None, help="clip length (default: the model's native)")
    parser.add_argument("--size", type=int, default=None, help="frame size (default: the model's native)")
    parser.add_argument("--speed", type=float, default=1.5, help="object speed, px/frame")
    parser.add_argument("--quantile", type=float, default=0.005, help="top quantile defining a kernel's mask")
    parser.add_argument("--iou-threshold", type=float, default=0.04)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)


def run(args) -> int:
    import csv

    from kernelvis.baselines.dissection import CATEGORIES, concept_clips, crop_concepts, dissect
    from kernelvis.errors import BadInputError
    from kernelvis.io import atomic_path, save_json, staged_directory
    from kernelvis.models import conv_layers, resolve_layer
    from kernelvis.models.zoo import load_model
    from kernelvis.render.baseline_figures import dissection_counts_figure
    from kernelvis.render.savefig import save_figure

    if args.n_clips < 1 or args.batch_size < 1:
        raise BadInputError("--n-clips and --batch-size must be at least 1")
    model = load_model(args.model, weights=args.weights)
    layers = args.layers or [info.name for info in conv_layers(model.module)]
    for layer in layers:
        resolve_layer(model.module, layer)
    frames = args.frames or model.preprocessing.frames
    height, width = (args.size, args.size) if args.size else model.preprocessing.frame_shape
    concepts = concept_clips(frames=frames, size=max(height, width), clips=args.n_clips, speed_px_per_frame=args.speed,
                             seed=args.seed)
    if height != width:  # made square, seen at the model's native H×W (central crop, masks alike)
        concepts = crop_concepts(concepts, height, width)
    results = [dissect(model, layer, concepts, args.quantile, args.iou_threshold, args.batch_size) for layer in layers]
    counts = [result.counts() for result in results]
    with staged_directory(args.out) as staging:
        with atomic_path(staging / "dissection.csv") as temporary, open(temporary, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=["layer", "kernel", "concept", "category", "iou", "detector"])
            writer.writeheader()
            for result in results:
                writer.writerows(result.rows())
        save_json(staging / "dissection.json", {
            "model": model.name, "layers": counts, "concepts": [c.name for c in concepts.concepts],
            "settings": {"clips": args.n_clips, "frames": frames, "size": height if height == width else [height, width], "speed_px_per_frame": args.speed,
                         "quantile": args.quantile, "iou_threshold": args.iou_threshold, "seed": args.seed}})
        save_figure(dissection_counts_figure(counts, CATEGORIES, title=f"{model.name}: network dissection on synthetic "
                                             f"concepts (IoU > {args.iou_threshold})"), staging / "dissection_counts.png")
    for c in counts:
        print(f"{model.name} {c['layer']}: {c['detectors']}/{c['kernels']} detectors, {c['unique_concepts']} unique concepts "
              + ", ".join(f"{k} {v}" for k, v in c["detectors_per_category"].items()))
    print(f"-> {args.out}")
    return 0
