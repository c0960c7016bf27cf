"""List a model's convolution layers (every Conv3d, and Conv2d for 2D-on-frames models): the name to
pass as ``--layer``, the type, output channels (valid ``--kernel`` values are 0..out_channels-1) and
kernel size. Listing needs no weights (the model is built with random ones unless ``--weights`` is given).

With ``--layer L`` it describes that layer instead, including its output shape on the model's native
clip; ``--kernel K`` also checks that the kernel exists and prints its weight shape and norm.
"""

from __future__ import annotations

HELP = "list a model's conv layers (name, type, out_channels, kernel size); no weights needed"


def add_arguments(parser) -> None:
    parser.add_argument("--model", required=True, help="zoo name (see `kernelvis models`) or path/file.py:function")
    parser.add_argument("--weights", default=None, help="local checkpoint to load (default: random weights)")
    parser.add_argument("--layer", default=None, help="describe this layer only")
    parser.add_argument("--kernel", type=int, default=None, help="with --layer: check and describe this kernel")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def run(args) -> int:
    import json

    from kernelvis.commands.models import format_table
    from kernelvis.errors import BadInputError
    from kernelvis.models import check_kernels, conv_layers
    from kernelvis.models.zoo import load_model

    if args.kernel is not None and args.layer is None:
        raise BadInputError("--kernel needs --layer")
    model = load_model(args.model, weights=args.weights, random_weights=args.weights is None)
    if args.layer is not None:
        record = describe_layer(model, args.layer)
        if args.kernel is not None:
            (kernel,) = check_kernels(model.module, args.layer, [args.kernel])
            record.update(describe_kernel(model, args.layer, kernel))
        print(json.dumps(record, indent=2) if args.json else "\n".join(f"{k}: {v}" for k, v in record.items()))
        return 0
    layers = conv_layers(model.module)
    if args.json:
        print(json.dumps([{"name": i.name, "type": i.type, "out_channels": i.out_channels,
                           "kernel_size": list(i.kernel_size)} for i in layers], indent=2))
        return 0
    rows = [[i.name, i.type, str(i.out_channels), "x".join(map(str, i.kernel_size))] for i in layers]
    print(format_table(["layer", "type", "out_channels", "kernel"], rows))
    p = model.preprocessing
    print(f"\n{len(layers)} conv layers; native clip {p.clip_label}"
          f"{'' if model.weights else ' (random weights: listing needs none)'}")
    return 0


def describe_layer(model, layer: str) -> dict:
    """Type, channels, kernel and the output shape (C, T, H, W) on a native-size clip."""
    import torch

    from kernelvis.models import resolve_layer, run_to_layer

    module = resolve_layer(model.module, layer)
    p = model.preprocessing
    clip = torch.full((1, 3, p.frames, *p.frame_shape), 0.5)
    with torch.no_grad():
        output = run_to_layer(model.module, layer, p(clip))
    record = {"model": model.name, "layer": layer, "type": type(module).__name__}
    for attribute in ("in_channels", "out_channels", "kernel_size", "stride", "padding", "groups"):
        if hasattr(module, attribute):
            value = getattr(module, attribute)
            record[attribute] = list(value) if isinstance(value, tuple) else value
    record["native_clip"] = [p.frames, *p.frame_shape]
    record["output_shape"] = list(output.shape[1:])
    return record


def describe_kernel(model, layer: str, kernel: int) -> dict:
    from kernelvis.models import resolve_layer

    weight = getattr(resolve_layer(model.module, layer), "weight", None)
    if weight is None:
        return {"kernel": kernel}
    return {"kernel": kernel, "kernel_weight_shape": list(weight[kernel].shape),
            "kernel_weight_l2": round(float(weight[kernel].norm()), 6)}
