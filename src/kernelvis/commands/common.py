"""Arguments and loading shared by every per-kernel command (optimize, refine, tuning, visualize, ...)."""

from __future__ import annotations


def add_kernel_target_arguments(parser) -> None:
    """--model, --weights, --layer, --kernel: which kernel of which network."""
    parser.add_argument("--model", required=True, help="zoo name or path/file.py:function")
    parser.add_argument("--weights", default=None, help="local checkpoint")
    parser.add_argument("--layer", required=True)
    parser.add_argument("--kernel", type=int, required=True)


def load_kernel_target(args):
    """(LoadedModel, kernel index) from the target arguments; a bad model, layer or kernel is one-line error."""
    from kernelvis.models import check_kernels, resolve_layer
    from kernelvis.models.zoo import load_model

    model = load_model(args.model, weights=args.weights)
    resolve_layer(model.module, args.layer)
    (kernel,) = check_kernels(model.module, args.layer, [args.kernel])
    return model, kernel
