"""Arguments and loading shared by the commands: which kernel (--model --weights --layer --kernel) and which
clip (--clips PATH --index N|best), so an option means the same in every command."""

from __future__ import annotations


def add_kernel_target_arguments(parser, required: bool = True, kernel_sets: bool = False) -> None:
    """--model, --weights, --layer, --kernel: which kernel of which network. ``required=False``: --layer and
    --kernel may be left out (a command that also works on a whole model checks them itself).
    ``kernel_sets``: the command is a per-kernel stage that also runs a set of kernels of the layer in one
    process: --kernels SPEC (all, 0-15, 0,3,7) instead of --kernel, and --out is then the layer directory
    (kernel k's files go to OUT/kernel_{k:04d})."""
    group = parser.add_argument_group("kernel")
    group.add_argument("--model", required=True, help="zoo name or path/file.py:function")
    group.add_argument("--weights", default=None, help="local checkpoint")
    group.add_argument("--layer", required=required)
    if not kernel_sets:
        group.add_argument("--kernel", type=int, required=required, default=None)
        return
    which = group.add_mutually_exclusive_group(required=required)
    which.add_argument("--kernel", type=int, default=None, help="one kernel; --out is its directory")
    which.add_argument("--kernels", default=None, metavar="SPEC",
                       help="kernels of the layer in one batched run: all, a range 0-15 or a list 0,3,7; --out is "
                            "then the layer directory (one kernel_NNNN directory per kernel)")


def add_clip_choice_arguments(parser, best: bool = False) -> None:
    """--clips PATH --index N: one clip of a clip set, the same pair in every command that takes one clip.
    ``best``: --index also accepts ``best`` (the command finds the clip the kernel responds to most)."""
    group = parser.add_argument_group("clip")
    group.add_argument("--clips", required=True, metavar="PATH",
                       help="clip set (clips.npz, [N, T, H, W, 3]); a single video (.npz key video, .gif, .mp4) "
                            "is a set of one")
    group.add_argument("--index", default="0", metavar="N|best" if best else "N",
                       help="which clip of --clips" + (": a number, or 'best' (the clip the kernel responds to "
                                                       "most)" if best else ""))


def clip_index(args, best=None) -> int:
    """--index as a clip number; ``best`` (a function of no arguments) answers --index best."""
    from kernelvis.errors import BadInputError

    if args.index == "best" and best is not None:
        return int(best())
    try:
        return int(args.index)
    except ValueError:
        choices = "a clip number or 'best'" if best is not None else "a clip number"
        raise BadInputError(f"--index must be {choices} (got {args.index!r})") from None


def read_clip(path, index: int = 0):
    """float32 [T, H, W, 3] in [0, 1]: clip ``index`` of a clip set (.npz holding one [N, T, H, W, 3] array),
    or the video of a video file (.npz key video, .gif, .mp4), which is a set of one."""
    from pathlib import Path

    import numpy as np

    from kernelvis.errors import BadInputError
    from kernelvis.io import _as_unit_video, read_video

    path = Path(path)
    if path.suffix.lower() != ".npz" or _npz_has_video(path):
        if index != 0:
            raise BadInputError(f"--index {index} out of range: {path} is one video (--index 0)")
        return read_video(path)
    with np.load(path) as archive:
        stacks = [key for key in archive.files if archive[key].ndim == 5]
        if len(stacks) != 1:
            raise BadInputError(f"{path} holds no single [N, T, H, W, 3] array (arrays: {', '.join(archive.files)})")
        clips = archive[stacks[0]]
    if not 0 <= index < len(clips):
        raise BadInputError(f"--index {index} out of range: {path} holds {len(clips)} clips (0..{len(clips) - 1})")
    # The same validation (shape, dtype, range, NaN) as every other video the package reads.
    return _as_unit_video(clips[index], path)


def _npz_has_video(path) -> bool:
    import numpy as np

    from kernelvis.errors import BadInputError

    if not path.is_file():
        raise BadInputError(f"clip file not found: {path}")
    try:
        with np.load(path) as archive:
            return "video" in archive.files
    except (OSError, ValueError):
        return True  # let read_video report the unreadable file


def load_kernel_target(args):
    """(LoadedModel, kernel index) from the target arguments; a bad model, layer or kernel is one-line error."""
    from kernelvis.models import check_kernels, resolve_layer
    from kernelvis.models.zoo import load_model

    model = load_model(args.model, weights=args.weights)
    resolve_layer(model.module, args.layer)
    (kernel,) = check_kernels(model.module, args.layer, [args.kernel])
    return model, kernel


def kernel_set_from_args(args, kernel_dir=None, load_model: bool = True):
    """The :class:`~kernelvis.stages.KernelSet` of a stage command: --model/--weights/--layer and --kernel (one
    kernel, its directory ``kernel_dir``, default --out) or --kernels (the layer directory --out), and --device.
    ``load_model=False``: a stage that needs no model (stage 2) gets none, and ``all`` is not allowed."""
    from kernelvis.stages import KernelSet

    device = getattr(args, "device", "cpu")
    if getattr(args, "kernels", None) is None:
        model, kernel = load_kernel_target(args) if load_model else (None, args.kernel)
        return KernelSet(model, args.layer, (kernel,), (kernel_dir if kernel_dir is not None else args.out,), device)
    from kernelvis.errors import BadInputError
    from kernelvis.kernel_sets import KernelSpecError, needs_channel_count, parse_kernels

    model = None
    channels = None
    if load_model:
        from kernelvis.models import check_kernels, resolve_layer
        from kernelvis.models.layers import layer_channels
        from kernelvis.models.zoo import load_model as load_zoo_model

        model = load_zoo_model(args.model, weights=args.weights)
        resolve_layer(model.module, args.layer)
        channels = layer_channels(model.module, args.layer)
        if channels is None and needs_channel_count(args.kernels):
            from kernelvis.commands.layers import describe_layer

            channels = int(describe_layer(model, args.layer)["output_shape"][0])
    try:
        kernels = parse_kernels(args.kernels, channels)
    except KernelSpecError as error:
        raise BadInputError(f"--kernels: {error}") from None
    if model is not None:
        check_kernels(model.module, args.layer, kernels)
    return KernelSet.in_layer_dir(model, args.layer, kernels, args.out, device)


def refuse_single_kernel_inputs(args, *options: str) -> None:
    """Explicit input paths (--optimal, ...) name one kernel's files: refused with --kernels."""
    from kernelvis.errors import BadInputError

    given = [f"--{name}" for name in options if getattr(args, name, None)]
    if getattr(args, "kernels", None) is not None and given:
        raise BadInputError(f"{', '.join(given)} name one kernel's files: use --kernel, or leave them out to read "
                            f"each kernel's own directory")


def preload_stage1(kernel_set, optimal_path, objective: str | None = None, preprocessing: str | None = None,
                   kernel: int | None = None):
    """Stage 1 of ``kernel`` (default: the set's first) read from ``optimal_path`` (a command's --optimal, or the
    kernel's own optimal.npz), with an explicit --objective/--preprocessing that disagrees with it refused.
    Returns the :class:`~kernelvis.stages.inputs.Stage1`."""
    from kernelvis.stages.inputs import check_stage1_settings, load_stage1

    stage1 = load_stage1(optimal_path)
    check_stage1_settings(stage1, objective, preprocessing)
    kernel_set.remember("optimize", kernel_set.kernels[0] if kernel is None else kernel, stage1)
    return stage1
