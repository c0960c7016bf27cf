"""Zeiler & Fergus for a kernel of a 3D network: its top clips from a clip set, the receptive-field
tube around each clip's maximum and the DeconvNet projection of that maximum.

Writes into DIR: dataset_examples.npz (indices, max_activations, positions, boxes, clips, crops,
projections, projection_crops, labels, natural_activation, natural_max_activation),
dataset_examples.png (tubes | projections, 3×3), dataset_examples.gif (the tubes, animated) and
deconv.png (full-frame projections); merges natural_activation (best clip's channel mean, the
stage-1 objective), natural_max_activation and natural_activation_clip into DIR/summary.json.

With --compare it also reads DIR/optimal.npz and DIR/decomposition.npz (stage 1 and 2 of the same
kernel), writes comparison.png (plain AM | ours: texture + motion | DeconvNet top-9 | ratio) and
merges natural_to_optimal_ratio. With --filters it instead draws the first-layer 3D kernels as
temporal slices (first_layer_filters.png in DIR); no clips needed.
"""

from __future__ import annotations

HELP = "DeconvNet + top-9 dataset examples of a kernel (Zeiler & Fergus), comparison figure, first-layer filters"


def add_arguments(parser) -> None:
    from kernelvis.commands.common import add_kernel_target_arguments

    add_kernel_target_arguments(parser, required=False)  # --filters needs no kernel (--layer: the first RGB Conv3d)
    parser.add_argument("--clips", default=None, metavar="PATH", help="clip set (clips.npz, key clips [N,T,H,W,3])")
    parser.add_argument("--out", required=True, metavar="DIR", help="output directory (the kernel's directory)")
    parser.add_argument("--summary", default=None, help="summary.json to merge into (default: OUT/summary.json)")
    parser.add_argument("--top", type=int, default=9, help="number of top clips")
    parser.add_argument("--mode", choices=["autograd", "explicit"], default="autograd",
                        help="autograd: ReLU-backward override, any model; explicit: unpool/rectify/transposed conv, "
                             "plain Conv3d/BN/ReLU/MaxPool3d chains only")
    parser.add_argument("--batch-size", type=int, default=8, help="clips per forward pass")
    parser.add_argument("--seed", type=int, default=0, help="seed of the receptive-field probe")
    parser.add_argument("--compare", action="store_true",
                        help="also write comparison.png from OUT/optimal.npz and OUT/decomposition.npz")
    parser.add_argument("--filters", action="store_true", help="only draw the first-layer kernels (first_layer_filters.png)")


def _run_filters(args, model) -> int:
    from kernelvis.baselines.deconvnet import first_layer_kernels
    from kernelvis.io import staged_directory
    from kernelvis.render.baseline_figures import first_layer_filters_figure
    from kernelvis.render.savefig import save_figure

    layer, slices = first_layer_kernels(model, args.layer)
    with staged_directory(args.out) as staging:
        save_figure(first_layer_filters_figure(slices, layer, title=f"{model.name} {layer}: {len(slices)} kernels as "
                                               f"{slices.shape[1]} temporal slices (t →, grey = 0, one scale per kernel)"),
                    staging / "first_layer_filters.png")
    print(f"{model.name} {layer}: {len(slices)} kernels of {slices.shape[1]}×{slices.shape[2]}×{slices.shape[3]} "
          f"-> {args.out}/first_layer_filters.png")
    return 0


def _load_stage_outputs(out_dir):
    import numpy as np

    from kernelvis.errors import BadInputError

    arrays = {}
    for name, keys in (("optimal.npz", ("video", "activation")), ("decomposition.npz", ("static", "velocity"))):
        path = out_dir / name
        if not path.is_file():
            raise BadInputError(f"--compare needs {path} (run `kernelvis visualize` for this kernel first)")
        with np.load(path) as archive:
            missing = [key for key in keys if key not in archive.files]
            if missing:
                raise BadInputError(f"{path} lacks {', '.join(missing)}")
            arrays.update({f"{name.split('.')[0]}_{key}": np.asarray(archive[key]) for key in keys})
    return arrays


def run(args) -> int:
    from pathlib import Path

    from kernelvis.baselines.dataset_examples import load_clips
    from kernelvis.errors import BadInputError
    from kernelvis.io import update_json
    from kernelvis.models import check_kernels, resolve_layer
    from kernelvis.models.zoo import load_model

    model = load_model(args.model, weights=args.weights)
    if args.filters:
        return _run_filters(args, model)
    for option in ("layer", "kernel", "clips"):
        if getattr(args, option) is None:
            raise BadInputError(f"--{option} is required (unless --filters)")
    if args.top < 1 or args.batch_size < 1:
        raise BadInputError("--top and --batch-size must be at least 1")
    resolve_layer(model.module, args.layer)
    (kernel,) = check_kernels(model.module, args.layer, [args.kernel])
    out_dir = Path(args.out)
    stage_outputs = _load_stage_outputs(out_dir) if args.compare else None
    clips, labels = load_clips(args.clips)
    summary, examples = write_dataset_examples(model, args.layer, kernel, clips, labels, out_dir, stage_outputs,
                                               top=args.top, batch_size=args.batch_size, mode=args.mode, seed=args.seed)
    update_json(Path(args.summary) if args.summary else out_dir / "summary.json", summary)
    ratio_text = f", natural/optimal {summary['natural_to_optimal_ratio']:.3f}" if "natural_to_optimal_ratio" in summary else ""
    print(f"{model.name} {args.layer} kernel {kernel}: top clips {examples.indices.tolist()}, best max "
          f"{examples.max_activations[0]:.4g}, natural (channel mean) {examples.natural_activation:.4g}{ratio_text} "
          f"-> {out_dir}")
    return 0


def write_dataset_examples(model, layer: str, kernel: int, clips, labels, out_dir, stage_outputs: dict | None = None,
                           top: int = 9, batch_size: int = 8, mode: str = "autograd", seed: int = 0):
    """The kernel's top clips of ``clips`` (brought to the model's native shape) with their DeconvNet projections:
    dataset_examples.npz/.png/.gif and deconv.png into ``out_dir`` (atomically), and with ``stage_outputs``
    (optimal_video, optimal_activation, decomposition_static, decomposition_velocity) comparison.png.
    Returns (the scalars for the summary, the :class:`~kernelvis.baselines.dataset_examples.DatasetExamples`)."""
    from kernelvis.baselines.dataset_examples import dataset_examples
    from kernelvis.io import save_npz, staged_directory, write_gif
    from kernelvis.render.baseline_figures import (comparison_figure, dataset_examples_figure, deconv_figure,
                                                   tube_grid_video)
    from kernelvis.render.savefig import save_figure

    native = (model.preprocessing.frames, *model.preprocessing.frame_shape)
    if tuple(clips.shape[1:4]) != native:  # e.g. the 48×48 clip set for TransNetV2's 27×48: crop to its aspect, resize
        from kernelvis.analysis.faithfulness import fit_clips

        clips = fit_clips(clips, native[0], native[1:])
    examples = dataset_examples(model, layer, kernel, clips, labels, top=top, batch_size=batch_size, mode=mode,
                                seed=seed)
    title = f"{model.name} {layer} kernel {kernel}"
    summary = {"model": model.name, "layer": layer, "kernel": kernel,
               "natural_activation": examples.natural_activation,
               "natural_max_activation": examples.natural_max_activation,
               "natural_activation_clip": examples.natural_activation_index}
    with staged_directory(out_dir) as staging:
        save_npz(staging / "dataset_examples.npz", **examples.arrays())
        save_figure(dataset_examples_figure(examples.crops, examples.projection_crops, examples.indices,
                                            examples.max_activations, examples.labels, title=title),
                    staging / "dataset_examples.png")
        write_gif(staging / "dataset_examples.gif", tube_grid_video(examples.crops), fps=4.0)
        save_figure(deconv_figure(examples.clips, examples.projections, examples.boxes, examples.indices, title=title),
                    staging / "deconv.png")
        if stage_outputs is not None:
            optimal_activation = float(stage_outputs["optimal_activation"])
            ratio = examples.natural_activation / optimal_activation if abs(optimal_activation) > 1e-12 else float("nan")
            summary["natural_to_optimal_ratio"] = ratio
            save_figure(comparison_figure(stage_outputs["optimal_video"], stage_outputs["decomposition_static"],
                                          stage_outputs["decomposition_velocity"], examples.crops,
                                          examples.projection_crops, optimal_activation, examples.natural_activation,
                                          title=title), staging / "comparison.png")
    return summary, examples
