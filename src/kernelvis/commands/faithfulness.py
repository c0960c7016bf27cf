"""Per model: set each kernel's tuning (preferred direction, DSI) beside the direction of its visualized
motion (decomposition), and report per layer the share of direction-selective kernels (DSI > 0.3)
whose visualized motion lies within 30° of their preferred direction.

Reads results/{model}/{layer}/kernel_NNNN/{summary,tuning}.json; writes OUT (faithfulness.csv),
faithfulness_layers.csv beside it and figures/faithfulness.png|pdf in OUT's folder. With --clips, the
best natural clip's activation (same objective) is measured per kernel for the activation ratios.
"""

from __future__ import annotations

HELP = "agreement of visualized motion with direction tuning, per kernel and per layer"


def add_arguments(parser) -> None:
    parser.add_argument("--model", required=True, help="zoo name or SPEC (also the results folder name unless --model-name)")
    parser.add_argument("--model-name", default=None, help="folder name under RESULTS (default: --model)")
    parser.add_argument("--results", default="results", help="results root holding MODEL/LAYER/kernel_NNNN/")
    parser.add_argument("--summaries", nargs="+", default=None, metavar="SUMMARY_JSON",
                        help="explicit kernel summary.json files instead of scanning RESULTS (tuning.json beside each)")
    parser.add_argument("--out-file", default=None, help="CSV to write (default: RESULTS/MODEL/faithfulness.csv)")
    parser.add_argument("--figure", default=None,
                        help="summary figure PNG, a PDF beside it (default: OUT's folder/figures/faithfulness.png)")
    parser.add_argument("--clips", default=None, help="clips.npz for the best-natural-clip activation (loads the model)")
    parser.add_argument("--weights", default=None, help="checkpoint for --clips")


def run(args) -> int:
    from pathlib import Path

    from kernelvis.analysis.faithfulness import (DSI_THRESHOLD, MAX_ERROR_DEG, build_faithfulness, format_agreement_table,
                                                 kernel_directories_of, save_faithfulness)
    from kernelvis.baselines.dataset_examples import load_clips
    from kernelvis.render.savefig import save_figure
    from kernelvis.render.tuning_plot import faithfulness_figure

    name = args.model_name or args.model
    out = Path(args.out_file) if args.out_file else Path(args.results) / name / "faithfulness.csv"
    figure_path = Path(args.figure) if args.figure else out.parent / "figures" / "faithfulness.png"
    found = kernel_directories_of(args.summaries) if args.summaries else None
    model = clips = None
    if args.clips:
        from kernelvis.models.zoo import load_model

        clips, _ = load_clips(args.clips)
        model = load_model(args.model, weights=args.weights)
    rows, agreement = build_faithfulness(args.results, name, model, clips, found)
    figure = faithfulness_figure(rows, agreement, DSI_THRESHOLD, MAX_ERROR_DEG, title=f"{name}: tuning vs visualized motion")
    save_figure(figure, figure_path, also_pdf=True)
    save_faithfulness(rows, agreement, out)
    print(format_agreement_table(agreement))
    print(f"-> {out}")
    return 0
