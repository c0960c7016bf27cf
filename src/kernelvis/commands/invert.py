"""Network inversion (Mahendran & Vedaldi) for video: one clip reconstructed from the features of
each given layer, with the α-norm and spatiotemporal total-variation priors.

Writes into DIR: inversion.npz (original [T,H,W,3], layers, reconstructions [L,T,H,W,3], psnr_db [L],
feature_error [L], history [L,steps]), inversion.json (per layer PSNR and feature error, settings)
and inversion.png (original and one row per layer).
"""

from __future__ import annotations

HELP = "reconstruct a clip from each layer's features (network inversion, Mahendran & Vedaldi)"


def add_arguments(parser) -> None:
    parser.add_argument("--model", required=True, help="zoo name or path/file.py:function")
    parser.add_argument("--weights", default=None, help="local checkpoint")
    parser.add_argument("--layers", nargs="+", default=None, help="layers to invert from (default: every conv layer)")
    from kernelvis.commands.common import add_clip_choice_arguments

    add_clip_choice_arguments(parser)
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="output directory (e.g. results/MODEL/figures/inversion)")
    group = parser.add_argument_group("optimization")
    group.add_argument("--steps", type=int, default=200)
    group.add_argument("--lr", type=float, default=0.05)
    group.add_argument("--alpha", type=float, default=6.0, help="exponent of the α-norm prior")
    group.add_argument("--alpha-weight", type=float, default=1e-3)
    group.add_argument("--tv-beta", type=float, default=2.0)
    group.add_argument("--tv-weight", type=float, default=0.5, help="raise it for deep layers (Mahendran & Vedaldi do)")
    group.add_argument("--tv-time-weight", type=float, default=1.0, help="weight of temporal differences in the TV prior")
    group.add_argument("--seed", type=int, default=0)


def run(args) -> int:
    from dataclasses import asdict

    import numpy as np

    from kernelvis.baselines.inversion import InversionConfig, invert_layers
    from kernelvis.errors import BadInputError
    from kernelvis.commands.common import clip_index, read_clip
    from kernelvis.io import save_json, save_npz, staged_directory
    from kernelvis.models import conv_layers, resolve_layer
    from kernelvis.models.zoo import load_model
    from kernelvis.render.baseline_figures import inversion_figure
    from kernelvis.render.savefig import save_figure

    if args.steps < 1 or args.lr <= 0:
        raise BadInputError("--steps must be at least 1 and --lr positive")
    model = load_model(args.model, weights=args.weights)
    layers = args.layers or [info.name for info in conv_layers(model.module)]
    for layer in layers:
        resolve_layer(model.module, layer)
    index = clip_index(args)
    video = read_clip(args.clips, index)
    native_shape = tuple(model.preprocessing.frame_shape)
    if video.shape[1:3] != native_shape:  # e.g. a 48×48 clip for TransNetV2's 27×48: crop to its aspect, resize
        from kernelvis.analysis.faithfulness import fit_clips

        video = fit_clips(video[None], video.shape[0], native_shape)[0]
    config = InversionConfig(steps=args.steps, lr=args.lr, alpha=args.alpha, alpha_weight=args.alpha_weight,
                             tv_beta=args.tv_beta, tv_weight=args.tv_weight, tv_time_weight=args.tv_time_weight,
                             seed=args.seed)
    results = invert_layers(model, layers, video, config)
    psnr = [r.psnr_db for r in results]
    with staged_directory(args.out) as staging:
        save_npz(staging / "inversion.npz", original=video, layers=np.array(layers),
                 reconstructions=np.stack([r.video for r in results]), psnr_db=np.array(psnr, dtype=np.float32),
                 feature_error=np.array([r.feature_error for r in results], dtype=np.float32),
                 history=np.stack([r.history for r in results]))
        save_json(staging / "inversion.json", {
            "model": model.name, "source": args.clips, "index": index,
            "layers": [{"layer": r.layer, "psnr_db": r.psnr_db, "feature_error": r.feature_error} for r in results],
            "config": asdict(config)})
        save_figure(inversion_figure(video, layers, [r.video for r in results], psnr,
                                     title=f"{model.name}: the clip recovered from each layer's features"),
                    staging / "inversion.png")
    for r in results:
        print(f"{model.name} {r.layer}: PSNR {r.psnr_db:.2f} dB, feature error {r.feature_error:.4f}")
    print(f"-> {args.out}")
    return 0
