"""Zeiler & Fergus for a kernel of a 3D network: its top clips from a clip set, the receptive-field
tube around each clip's maximum and the DeconvNet projection of that maximum.

Writes into DIR: dataset_examples.npz (indices, max_activations, positions, boxes, clips, crops,
projections, projection_crops, labels, natural_activation, natural_max_activation),
dataset_examples.png (tubes | projections, 3×3), dataset_examples.gif (the tubes, animated) and
deconv.png (full-frame projections) and stage_deconvnet.json: natural_activation (best clip's channel
mean), natural_max_activation and natural_activation_clip (kernelvis.stages.deconvnet.deconvnet_stage).

With --compare it also reads DIR/optimal.npz and DIR/decomposition.npz (stage 1 and 2 of the same
kernel), writes comparison.png (plain AM | ours: texture + motion | DeconvNet top-9 | ratio) and
records natural_to_optimal_ratio. With --filters it instead draws the first-layer 3D kernels as
temporal slices (first_layer_filters.png in DIR); no clips needed.
"""

from __future__ import annotations

HELP = "DeconvNet + top-9 dataset examples of a kernel (Zeiler & Fergus), comparison figure, first-layer filters"


def add_arguments(parser) -> None:
    from kernelvis.commands.common import add_kernel_target_arguments

    # --filters needs no kernel (--layer: the first RGB Conv3d); --kernels: a set of the layer's kernels in one run
    add_kernel_target_arguments(parser, required=False, kernel_sets=True)
    parser.add_argument("--clips", default=None, metavar="PATH", help="clip set (clips.npz, key clips [N,T,H,W,3])")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="output directory (the kernel's directory; with --kernels: the layer directory)")
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


def run(args) -> int:
    from kernelvis.commands.common import kernel_set_from_args
    from kernelvis.errors import BadInputError
    from kernelvis.models.zoo import load_model
    from kernelvis.stages.deconvnet import deconvnet_stage

    if args.filters:
        return _run_filters(args, load_model(args.model, weights=args.weights))
    for option in ("layer", "clips"):
        if getattr(args, option) is None:
            raise BadInputError(f"--{option} is required (unless --filters)")
    if args.kernel is None and args.kernels is None:
        raise BadInputError("--kernel or --kernels is required (unless --filters)")
    if args.top < 1 or args.batch_size < 1:
        raise BadInputError("--top and --batch-size must be at least 1")
    kernel_set = kernel_set_from_args(args)
    records = deconvnet_stage(kernel_set, args.clips, top=args.top, batch_size=args.batch_size, mode=args.mode,
                              seed=args.seed, compare=args.compare)
    for (kernel, kernel_dir), record in zip(kernel_set.items(), records):
        ratio = record.get("natural_to_optimal_ratio")
        ratio_text = f", natural/optimal {ratio:.3f}" if ratio is not None else ""
        print(f"{kernel_set.model.name} {args.layer} kernel {kernel}: best clip {record['natural_activation_clip']}, "
              f"natural (channel mean) {record['natural_activation']:.4g}{ratio_text} -> {kernel_dir}")
    return 0
