"""Is a finished run complete? Every configured kernel of every model has its files and a summary.csv row,
every figure exists and is not blank; prints each model's optimality-audit share.

  kernelvis check results/ --configfile config/config.yaml

Exits 1 (after listing every problem) when something is missing or blank. A kernel that is silent, dead or
diverged, or fails the audit, is a result, not a problem: it is reported, not failed.
"""

from __future__ import annotations

HELP = "check that a finished run is complete (files, summary rows, non-blank figures, audit share)"

KERNEL_FILES = ("optimal.npz", "optimal.gif", "decomposition.npz", "static.png", "motion.gif", "recon.gif",
                "summary.json", "panel.png", "panel.gif", "stage_audit.json")
"""What every kernel directory holds whatever the config enables."""
SUMMARY_KEYS = ("model", "layer", "kernel", "status", "objective", "activation", "audit_pass",
                "optimal_vs_best_grating", "optimal_vs_best_natural", "recon_psnr_db", "direction_deg",
                "direction_strength", "speed_px_per_frame")
BLANK_STD = 2.0
"""A PNG whose pixel values have a standard deviation under this (of 255) is blank."""


def add_arguments(parser) -> None:
    parser.add_argument("results", nargs="?", default="results", help="the results folder (default: results)")
    parser.add_argument("--configfile", default="config/config.yaml", help="the config the run used")


def expected_files(config: dict, results) -> tuple[dict, list]:
    """({model: [kernel directories]}, [model-level files]) a run of ``config`` must have produced."""
    from pathlib import Path

    results = Path(results)

    def enabled(section: str, method: str | None = None) -> bool:
        block = config.get(section, {}) or {}
        if method is not None:
            return bool((block.get(method) or {}).get("enabled", False))
        return bool(block.get("enabled", True))

    from kernelvis.errors import BadInputError
    from kernelvis.kernel_sets import KernelSpecError, layer_channels, needs_channel_count, parse_kernels

    def selected(entry, layer, spec) -> list[int]:
        # the workflow's resolution and cache (beside results/, where snakemake ran)
        cache = results.resolve().parent / ".snakemake" / "kernelvis" / "layer_channels"
        try:
            channels = layer_channels(entry["spec"], layer, cache) if needs_channel_count(spec) else None
            return parse_kernels(spec, channels)
        except KernelSpecError as error:
            raise BadInputError(f"model {entry['name']!r}, layer {layer!r}: {error}") from None

    kernels, files = {}, []
    for entry in config["models"]:
        model_dir = results / entry["name"]
        kernels[entry["name"]] = [model_dir / layer / f"kernel_{kernel:04d}"
                                  for layer, spec in entry["layers"].items() for kernel in selected(entry, layer, spec)]
        files += [model_dir / "summary.csv", model_dir / "figures" / "depth_grid.png",
                  model_dir / "figures" / "motion_vs_depth.png", model_dir / "figures" / "population.png",
                  model_dir / "layers.csv"]
        if enabled("refine"):
            files.append(model_dir / "figures" / "reliance.png")
        if enabled("tuning"):
            files += [model_dir / "faithfulness.csv", model_dir / "figures" / "faithfulness.png"]
        if enabled("baselines", "dissection"):
            files.append(model_dir / "dissection" / "dissection_counts.png")
        if enabled("baselines", "inversion"):
            files.append(model_dir / "inversion" / "inversion.png")
    return kernels, files


def blank(png) -> bool:
    import numpy as np
    from PIL import Image

    with Image.open(png) as image:
        return float(np.asarray(image.convert("RGB"), dtype=np.float32).std()) < BLANK_STD


def run(args) -> int:
    import csv
    import json
    from pathlib import Path

    import yaml

    from kernelvis.analysis.verdict import audit_share_line
    from kernelvis.errors import BadInputError

    results = Path(args.results)
    try:
        config = yaml.safe_load(Path(args.configfile).read_text())
    except OSError as error:
        raise BadInputError(f"cannot read the config {args.configfile}: {error.strerror}") from None
    kernels, model_files = expected_files(config, results)
    problems = []
    for path in model_files:
        if not path.is_file():
            problems.append(f"missing {path}")
    for model, directories in kernels.items():
        rows = []
        csv_path = results / model / "summary.csv"
        if csv_path.is_file():
            with open(csv_path, newline="") as handle:
                rows = list(csv.DictReader(handle))
            listed = {(row["layer"], int(float(row["kernel"]))) for row in rows}
            for directory in directories:
                if (directory.parent.name, int(directory.name.split("_")[1])) not in listed:
                    problems.append(f"{csv_path} has no row for {directory.parent.name} kernel {directory.name}")
        for directory in directories:
            for name in KERNEL_FILES:
                if not (directory / name).is_file():
                    problems.append(f"missing {directory / name}")
            summary_path = directory / "summary.json"
            if summary_path.is_file():
                summary = json.loads(summary_path.read_text())
                absent = [key for key in SUMMARY_KEYS if key not in summary]
                if absent:
                    problems.append(f"{summary_path} lacks {', '.join(absent)}")
        for line in audit_share_line(model, rows):
            print(line)
    # figures: what is drawn for a person (panels, comparisons, per-model figures). Data images are not
    # checked: a dead kernel's texture is legitimately uniform grey.
    pngs = sorted({*results.glob("*/*/kernel_*/panel.png"), *results.glob("*/*/kernel_*/comparison.png"),
                   *results.glob("*/figures/*.png"), *results.glob("*/dissection/*.png"),
                   *results.glob("*/inversion/*.png")})
    for png in pngs:
        if blank(png):
            problems.append(f"blank figure {png}")
    for problem in problems:
        print(f"PROBLEM: {problem}")
    total = sum(len(directories) for directories in kernels.values())
    if problems:
        print(f"check: {len(problems)} problem(s) in {results} ({total} kernels, {len(pngs)} figures)")
        return 1
    print(f"check: {results} is complete: {total} kernels of {len(kernels)} model(s), {len(pngs)} figures, none blank")
    return 0
