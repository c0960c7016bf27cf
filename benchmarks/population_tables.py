"""The "Per layer" section of docs/results.md: every model's ``layers.csv`` (rule ``population_figure``) as a markdown
table, one per model.

    .venv/bin/python benchmarks/population_tables.py results                  # every model under results/
    .venv/bin/python benchmarks/population_tables.py results --models demo

Columns: kernels, statuses, optimality-audit pass (dead and diverged kernels are not audited), visualized speed
(median [IQR], px/frame), mean motion / appearance / residual shares, tuning agreement (kernels with DSI > 0.3 whose
visualized direction lies within 30° of the preferred one) and, when recorded, the texture-tuning agreement.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from kernelvis.analysis.population import markdown_table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path)
    parser.add_argument("--models", nargs="*", default=None)
    args = parser.parse_args(argv)
    paths = sorted(args.results.glob("*/layers.csv"))
    if args.models:
        paths = [args.results / model / "layers.csv" for model in args.models]
    if not paths:
        print(f"no */layers.csv under {args.results}: run the workflow (rule population_figure) first", file=sys.stderr)
        return 1
    for path in paths:
        table = pd.read_csv(path, keep_default_na=True)
        print(f"### {path.parent.name}\n\n{markdown_table(table)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
