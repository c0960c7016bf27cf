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


def stage1_settings(optimal_path, objective: str | None = None, preprocessing: str | None = None) -> tuple[str, str]:
    """(objective, preprocessing) stage 1 used, read from its ``optimal.npz``: every later stage that measures
    the kernel must use the same. An explicit value that disagrees with the artifact is refused."""
    import numpy as np

    from kernelvis.errors import BadInputError

    try:
        with np.load(optimal_path) as archive:
            recorded = {key: str(archive[key]) if key in archive.files else default
                        for key, default in (("objective", "channel"), ("preprocessing", "native"))}
    except (OSError, ValueError) as error:
        raise BadInputError(f"cannot read {optimal_path}: {error}") from None
    for name, given in (("objective", objective), ("preprocessing", preprocessing)):
        if given not in (None, "auto") and given != recorded[name]:
            raise BadInputError(f"--{name} {given} disagrees with {optimal_path}, which was made with {name} "
                                f"{recorded[name]!r}; drop --{name} to use stage 1's, or re-run stage 1")
    return recorded["objective"], recorded["preprocessing"]
