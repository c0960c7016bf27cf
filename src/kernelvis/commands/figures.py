"""Assemble figures and tables from finished results.

  kernelvis figures kernel --out results/demo/conv2/kernel_0001          # summary.json + panel.png + panel.gif
  kernelvis figures table results/demo/*/kernel_*/summary.json --out-file results/demo/summary.csv
  kernelvis figures depth-grid results/demo/*/kernel_*/summary.json --out-file results/demo/figures/depth_grid.png
  kernelvis figures motion-depth results/demo/summary.csv --out-file results/demo/figures/motion_vs_depth.png
  kernelvis figures reliance results/demo/summary.csv --out-file results/demo/figures/reliance.png
  kernelvis figures population results/demo/summary.csv --out-file results/demo/figures/population.png  # + layers.csv
"""

from __future__ import annotations

import argparse

HELP = "assemble per-kernel panels, summary tables and per-model figures"


def _motion_scale(text: str) -> float | None:
    return None if text in ("auto", "", "none", "null") else float(text)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    figures = parser.add_subparsers(dest="figure", required=True, metavar="FIGURE")

    kernel = figures.add_parser("kernel", help="merge a kernel's stage results into summary.json; draw panel.png/gif")
    kernel.add_argument("--out", required=True, metavar="DIR",
                        help="kernel directory: reads optimal.npz, decomposition.npz, stage_*.json; writes "
                             "summary.json, panel.png, panel.gif (with --kernels: the layer directory)")
    kernel.add_argument("--kernels", default=None, metavar="SPEC",
                        help="merge these kernels (DIR/kernel_NNNN) in one process: a range 0-15 or a list 0,3,7")
    kernel.add_argument("--model-name", default=None, help="model name recorded in summary.json")
    kernel.add_argument("--layer", default=None)
    kernel.add_argument("--stages", nargs="+", default=None, metavar="STAGE",
                        help="the stages whose records (DIR/stage_STAGE.json) are merged, in this order, each "
                             "required (default: every stage record present, over an existing summary.json)")
    kernel.add_argument("--motion-scale", type=_motion_scale, default=None,
                        help="px/frame shown at full HSV brightness ('auto' = robust per-kernel scale)")

    table = figures.add_parser("table", help="summary.csv from per-kernel summary.json files")
    table.add_argument("summaries", nargs="+")
    table.add_argument("--out-file", required=True)

    grid = figures.add_parser("depth-grid", help="rows = layers, columns = kernels, wrapped (PNG + PDF)")
    grid.add_argument("summaries", nargs="+", help="summary.json files; decomposition.npz is read beside each")
    grid.add_argument("--out-file", required=True, help="PNG path; the PDF is written beside it")
    grid.add_argument("--title", default="")
    grid.add_argument("--motion-scale", type=_motion_scale, default=None)
    grid.add_argument("--max-columns", type=int, default=8, metavar="N",
                      help="at most N kernels a row; a layer with more continues on the rows below")

    depth = figures.add_parser("motion-depth", help="motion index and speed per layer (PNG + PDF)")
    depth.add_argument("table", help="summary.csv")
    depth.add_argument("--out-file", required=True)
    depth.add_argument("--title", default="")

    reliance = figures.add_parser("reliance", help="texture/motion reliance per kernel (PNG + PDF)")
    reliance.add_argument("table", help="summary.csv")
    reliance.add_argument("--out-file", required=True)
    reliance.add_argument("--title", default="")

    population = figures.add_parser("population", help="per layer: directions, speeds, shares, audit, tuning "
                                                        "agreement (PNG + PDF, and layers.csv)")
    population.add_argument("table", help="summary.csv")
    population.add_argument("--out-file", required=True, help="PNG path; the PDF is written beside it")
    population.add_argument("--table", dest="layers", default=None, metavar="CSV",
                            help="the per-layer table (default: layers.csv beside summary.csv)")
    population.add_argument("--markdown", default=None, metavar="FILE", help="also the table in markdown ('-': print)")
    population.add_argument("--title", default="")


def run(args) -> int:
    return {"kernel": _kernel, "table": _table, "depth-grid": _depth_grid, "motion-depth": _motion_depth,
            "reliance": _reliance, "population": _population}[args.figure](args)


def _kernel(args) -> int:
    from pathlib import Path

    from kernelvis.errors import BadInputError
    from kernelvis.stages import STAGES, stage_record_name
    from kernelvis.stages.summary import merge_kernel_summary

    unknown = sorted(set(args.stages or ()) - set(STAGES))
    if unknown:
        raise BadInputError(f"--stages: unknown stage(s) {', '.join(unknown)}; the stages are {', '.join(STAGES)}")
    kernel_dirs = [Path(args.out)]
    if args.kernels is not None:
        from kernelvis.kernel_sets import KernelSpecError, parse_kernels

        try:
            kernel_dirs = [Path(args.out) / f"kernel_{kernel:04d}" for kernel in parse_kernels(args.kernels)]
        except KernelSpecError as error:
            raise BadInputError(f"--kernels: {error}") from None
    for kernel_dir in kernel_dirs:
        stage_paths = None if args.stages is None else [kernel_dir / stage_record_name(name) for name in args.stages]
        merge_kernel_summary(kernel_dir, stage_paths, args.model_name, args.layer, args.motion_scale)
        print(f"wrote {kernel_dir}/summary.json, panel.png, panel.gif")
    return 0


def _table(args) -> int:
    from kernelvis.analysis.summary_table import write_summary_csv

    import sys

    from kernelvis.analysis.verdict import audit_share_line

    rows = write_summary_csv(args.summaries, args.out_file)
    print(f"wrote {args.out_file} ({len(rows)} kernels)")
    model_name = str(rows[0].get("model", "")) if rows else ""
    for line in audit_share_line(model_name, rows):
        print(line, file=sys.stderr if line.startswith("WARNING") else sys.stdout)
    return 0


def _depth_grid(args) -> int:
    import json
    from collections import OrderedDict
    from pathlib import Path

    import numpy as np

    from kernelvis.errors import BadInputError
    from kernelvis.render.figures import depth_grid
    from kernelvis.render.savefig import save_figure

    if args.max_columns < 1:
        raise BadInputError(f"--max-columns: at least 1 kernel a row, got {args.max_columns}")
    cells: OrderedDict[str, list[dict]] = OrderedDict()
    for summary_path in map(Path, args.summaries):
        summary = json.loads(summary_path.read_text())
        with np.load(summary_path.parent / "decomposition.npz") as decomposition:
            cell = {"static": decomposition["static"], "velocity": decomposition["velocity"]}
        cell.update({key: summary.get(key) for key in ("kernel", "direction_deg", "speed_px_per_frame", "status",
                                                        "audit_pass", "motion_share", "appearance_share",
                                                        "residual_share")})
        cells.setdefault(summary.get("layer", summary_path.parent.parent.name), []).append(cell)
    save_figure(depth_grid(cells, args.title, args.motion_scale, args.max_columns), args.out_file, also_pdf=True)
    print(f"wrote {args.out_file} and its PDF")
    return 0


def _motion_depth(args) -> int:
    from kernelvis.analysis.summary_table import read_summary_csv
    from kernelvis.render.figures import motion_vs_depth
    from kernelvis.render.savefig import save_figure

    save_figure(motion_vs_depth(read_summary_csv(args.table), args.title), args.out_file, also_pdf=True)
    print(f"wrote {args.out_file} and its PDF")
    return 0


def _reliance(args) -> int:
    from kernelvis.analysis.summary_table import read_summary_csv
    from kernelvis.render.reliance_plot import reliance_figure
    from kernelvis.render.savefig import save_figure

    save_figure(reliance_figure(read_summary_csv(args.table), args.title), args.out_file, also_pdf=True)
    print(f"wrote {args.out_file} and its PDF")
    return 0


def _population(args) -> int:
    import sys
    from pathlib import Path

    from kernelvis.analysis.population import layer_table, markdown_table, write_layer_csv
    from kernelvis.analysis.summary_table import read_summary_csv
    from kernelvis.render.population import population_figure
    from kernelvis.render.savefig import save_figure

    rows = read_summary_csv(args.table)
    layers = args.layers or str(Path(args.table).with_name("layers.csv"))
    table = layer_table(rows)
    write_layer_csv(table, layers)
    save_figure(population_figure(rows, args.title), args.out_file, also_pdf=True)
    if args.markdown == "-":
        print(markdown_table(table), end="")
    elif args.markdown:
        Path(args.markdown).write_text(markdown_table(table))
    print(f"wrote {args.out_file}, its PDF and {layers} ({len(table)} layers)",
          file=sys.stderr if args.markdown == "-" else sys.stdout)  # stdout is the table then
    return 0
