"""Kernel-specific suppression (Zhuang et al.): keep what kernel K of LAYER needs in a real clip and
remove what the layer's other kernels respond to.

The clip is ``--clips PATH --index N|best``: clip N of a clip set (.npz holding one [N, T, H, W, 3] array, e.g.
``clips.npz``; a single video, .npz with key ``video``, .gif or .mp4, is a set of one). Writes into OUT: ``suppressed.npz``
(``video`` = the suppressed clip, so ``kernelvis decompose OUT/suppressed.npz`` gives its texture and
motion; also ``original``, ``target_map_before``/``after``, ``history``), ``suppressed.gif``,
``comparison.gif`` (original | suppressed) and ``suppression.json`` (preservation SSIM/RMSE of the
target map, suppression of the others, activations before/after).
"""

from __future__ import annotations

HELP = "kernel-specific suppression of a real clip (Zhuang et al.): keep kernel K, suppress the rest"


def add_arguments(parser) -> None:
    from kernelvis.commands.common import add_clip_choice_arguments, add_kernel_target_arguments

    add_kernel_target_arguments(parser)
    add_clip_choice_arguments(parser, best=True)
    parser.add_argument("--examples", default=None, metavar="NPZ",
                        help="the kernel's dataset_examples.npz (kernelvis deconvnet): --index best takes its top-1 "
                             "(default: a scan of --clips)")
    parser.add_argument("--optimal", default=None, metavar="NPZ",
                        help="the kernel's optimal.npz: suppress with the preprocessing stage 1 used")
    parser.add_argument("--resize", action="store_true",
                        help="resample the clip to the model's native frames × height × width first")
    parser.add_argument("--out", required=True, metavar="DIR", help="output directory")
    group = parser.add_argument_group("optimization")
    group.add_argument("--steps", type=int, default=300)
    group.add_argument("--lr", type=float, default=0.01, help="Adam step in [0, 1] pixel units")
    group.add_argument("--alpha", type=float, default=1.0, help="weight of keeping the target map")
    group.add_argument("--beta", type=float, default=1.0, help="weight of suppressing the other kernels")
    group.add_argument("--gamma", type=float, default=0.1, help="pull toward mid-grey")
    group.add_argument("--spatial-tv", type=float, default=0.5)
    group.add_argument("--temporal-tv", type=float, default=0.5)
    group.add_argument("--patience", type=int, default=100, help="early stop after this many steps without gain")
    group.add_argument("--seed", type=int, default=0)
    group.add_argument("--device", default="cpu")


def _resized(clip, frames: int, frame_shape: tuple[int, int]):
    import numpy as np
    import torch
    import torch.nn.functional as F

    # Central crop to the model's aspect ratio first (a 48×48 clip for a 27×48 model), so nothing is stretched.
    height, width = clip.shape[1:3]
    crop_h = min(height, round(width * frame_shape[0] / frame_shape[1]))
    crop_w = min(width, round(height * frame_shape[1] / frame_shape[0]))
    top, left = (height - crop_h) // 2, (width - crop_w) // 2
    clip = np.ascontiguousarray(clip[:, top:top + crop_h, left:left + crop_w])
    video = torch.from_numpy(clip).permute(3, 0, 1, 2)[None]
    video = F.interpolate(video, size=(frames, *frame_shape), mode="trilinear", align_corners=False)
    return video[0].permute(1, 2, 3, 0).clamp(0, 1).numpy()


def best_clip_index(args, model, kernel: int, preprocessing) -> int:
    """The clip the kernel responds to most: the top-1 of its dataset examples, or the same ranking (largest
    value of the kernel's map) from a scan of the clip set."""
    import numpy as np

    if args.examples:
        with np.load(args.examples) as examples:
            return int(examples["indices"][0])
    from kernelvis.analysis.faithfulness import fit_clips
    from kernelvis.baselines.dataset_examples import load_clips, scan_activations, top_indices

    clips, _ = load_clips(args.clips)
    clips = fit_clips(clips, model.preprocessing.frames, model.preprocessing.frame_shape)
    scan = scan_activations(model, args.layer, [kernel], clips, batch_size=16, preprocessing=preprocessing)
    return int(top_indices(scan.max_activation[:, 0], 1)[0])


def run(args) -> int:
    import numpy as np

    from kernelvis.baselines.suppression import SuppressConfig, suppress
    from kernelvis.errors import BadInputError, KernelSilentError
    from kernelvis.io import save_json, save_npz, staged_directory, write_gif
    from kernelvis.commands.common import clip_index, load_kernel_target, read_clip
    from kernelvis.optimize.api import model_preprocessing
    from kernelvis.provenance import make_provenance

    if args.steps < 1 or args.lr <= 0:
        raise BadInputError("--steps must be >= 1 and --lr > 0")
    model, kernel = load_kernel_target(args)
    preprocessing_name = "native"
    if args.optimal:
        from kernelvis.stages.inputs import load_stage1

        preprocessing_name = load_stage1(args.optimal).preprocessing
    preprocessing = model_preprocessing(model, preprocessing_name)
    args.index = clip_index(args, best=lambda: best_clip_index(args, model, kernel, preprocessing))
    clip = read_clip(args.clips, args.index)
    if args.resize:
        clip = _resized(clip, model.preprocessing.frames, model.preprocessing.frame_shape)
    config = SuppressConfig(steps=args.steps, lr=args.lr, alpha=args.alpha, beta=args.beta, gamma=args.gamma,
                            spatial_tv=args.spatial_tv, temporal_tv=args.temporal_tv,
                            early_stop_patience=args.patience, seed=args.seed, device=args.device)
    try:
        result = suppress(model, args.layer, kernel, clip, config, preprocessing)
        status, detail = "ok", ""
    except KernelSilentError as silent:  # a property of the kernel: recorded, the clip is left as it is
        result, status, detail = _unchanged(clip), "silent", str(silent)
    record = {"model": model.name, "layer": args.layer, "kernel": kernel, "clip": str(args.clips),
              "clip_index": args.index, "status": status, "status_detail": detail, **result.metrics,
              "config": {key: getattr(config, key) for key in config.__dataclass_fields__},
              "provenance": make_provenance("suppress", model, config, layer=args.layer, kernel=kernel,
                                            preprocessing=preprocessing_name, clip=str(args.clips),
                                            clip_index=args.index, optimal=args.optimal)}
    with staged_directory(args.out) as staging:
        save_npz(staging / "suppressed.npz", video=result.video, original=result.original,
                 target_map_before=result.target_map_before, target_map_after=result.target_map_after,
                 history=result.history, best_step=np.int64(result.best_step), model=model.name, layer=args.layer,
                 kernel=np.int64(kernel), status=np.str_(status))
        write_gif(staging / "suppressed.gif", result.video)
        write_gif(staging / "comparison.gif", np.concatenate([result.original, result.video], axis=2))
        save_json(staging / "suppression.json", record)
    metrics = result.metrics
    if status != "ok":
        print(f"{model.name} {args.layer} kernel {kernel}: {status}: {detail} -> {args.out}")
        return 0
    print(f"{model.name} {args.layer} kernel {kernel}: target map SSIM {metrics['preservation_ssim']:.3f} "
          f"(RMSE {metrics['preservation_rmse']:.3g}), other kernels keep "
          f"{100 * metrics['rest_remaining_fraction']:.1f}% of their activation -> {args.out}")
    return 0


def _unchanged(clip):
    """A suppression result for a kernel silent on the clip: the clip as it is, no maps, no metrics."""
    import numpy as np

    from kernelvis.baselines.suppression import SuppressionResult

    empty = np.zeros((0, 0, 0), dtype=np.float32)
    return SuppressionResult(video=clip, original=clip, target_map_before=empty, target_map_after=empty,
                             history=np.zeros(0, dtype=np.float32), best_step=-1, metrics={})
