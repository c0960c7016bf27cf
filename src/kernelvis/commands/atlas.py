"""Build the atlas: a static site of every visualized kernel (open results/atlas/index.html).

  kernelvis atlas --results results --out results/atlas
  kernelvis atlas --out results/atlas results/demo/*/kernel_*/summary.json   # exactly these kernels
"""

from __future__ import annotations

import argparse

HELP = "build the browsable static site of every visualized kernel (results/atlas)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("summaries", nargs="*",
                        help="kernel summary.json files to include (default: every kernel found under --results)")
    parser.add_argument("--results", default="results", help="the pipeline's results directory")
    parser.add_argument("--out", default="results/atlas", metavar="DIR",
                        help="output directory of the atlas (replaced as a whole)")
    parser.add_argument("--jobs", type=int, default=1, help="processes rendering kernel animations in parallel")


def run(args) -> int:
    from kernelvis.atlas import build_atlas
    from kernelvis.errors import BadInputError

    if args.jobs < 1:
        raise BadInputError("--jobs must be >= 1")
    build_atlas(args.results, args.out, summaries=args.summaries or None, jobs=args.jobs)
    return 0
