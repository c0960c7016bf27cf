"""What a finished run measured, per model and layer, as markdown tables (the numbers in docs/results.md).

    .venv/bin/python benchmarks/run_report.py results            # every model under results/
    .venv/bin/python benchmarks/run_report.py results --models transnetv2

Per layer: kernels, status counts, optimality-audit pass rate and median ratios, objective, tuning/visualization
agreement (from faithfulness_layers.csv), texture and motion reliance, the stage-2 shares and reconstruction
PSNR; and the per-job CPU time from results/benchmarks.
"""

from __future__ import annotations

import argparse
import csv
import math
from collections import OrderedDict
from pathlib import Path
from statistics import median


def _float(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _median(values) -> str:
    values = [v for v in values if math.isfinite(v)]
    return f"{median(values):.2f}" if values else "–"


def model_table(model_dir: Path) -> str:
    with open(model_dir / "summary.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    agreement = {}
    layers_csv = model_dir / "faithfulness_layers.csv"
    if layers_csv.is_file():
        with open(layers_csv, newline="") as handle:
            agreement = {row["layer"]: row for row in csv.DictReader(handle)}
    by_layer: "OrderedDict[str, list[dict]]" = OrderedDict()
    for row in rows:
        by_layer.setdefault(row["layer"], []).append(row)
    lines = [f"### {model_dir.name}", "",
             "| layer | kernels | objective | status | audit pass | optimal / best stimulus | optimal / best natural "
             "| grating agreement | own-texture agreement (peak alone) | refined-texture agreement | motion reliance "
             "| texture reliance | shares motion / appearance / residual | recon dB |",
             "|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|"]
    for layer, members in by_layer.items():
        statuses = sorted({row.get("status", "ok") or "ok" for row in members})
        passed = sum(row.get("audit_pass", "").lower() == "true" for row in members)
        entry = agreement.get(layer)
        # Without the faithfulness rule's per-layer table the agreement was not measured: "–", never "no DSI".
        none_selective = "no DSI > 0.3" if entry is not None else "–"
        entry = entry or {}
        share = (f"{entry['agreeing']}/{entry['selective']}" if entry.get("selective") not in (None, "", "0")
                 else none_selective)
        texture_share = (f"{entry['texture_agreeing']}/{entry['texture_selective']}"
                         + (f" ({entry['texture_peak_agreeing']})" if entry.get("texture_peak_agreeing") else "")
                         if entry.get("texture_selective") not in (None, "", "0") else none_selective)
        if entry.get("texture_inhibited") not in (None, "", "0"):  # DSI > 0.3 but no motion excites: no verdict
            texture_share += f", {entry['texture_inhibited']} inhibited"
        refined_share = (f"{entry['refined_texture_agreeing']}/{entry['refined_texture_selective']}"
                         if entry.get("refined_texture_selective") not in (None, "", "0") else none_selective)
        shares = " / ".join(_median(_float(row.get(key)) for row in members)
                            for key in ("motion_share", "appearance_share", "residual_share"))
        lines.append(
            f"| {layer} | {len(members)} | {', '.join(sorted({row.get('objective', '') for row in members}))} "
            f"| {', '.join(statuses)} | {passed}/{len(members)} "
            f"| {_median(_float(row.get('optimal_vs_best_grating')) for row in members)} "
            f"| {_median(_float(row.get('optimal_vs_best_natural')) for row in members)} | {share} | {texture_share} | {refined_share} "
            f"| {_median(_float(row.get('motion_reliance')) for row in members)} "
            f"| {_median(_float(row.get('texture_reliance')) for row in members)} | {shares} "
            f"| {_median(_float(row.get('recon_psnr_db')) for row in members)} |")
    passed = sum(row.get("audit_pass", "").lower() == "true" for row in rows)
    lines += ["", f"{model_dir.name}: {passed}/{len(rows)} kernels pass the optimality audit "
                  "(medians over the layer's kernels)."]
    if not layers_csv.is_file():
        lines.append(f"Agreement columns '–': {layers_csv} is missing (the workflow's faithfulness rule writes it).")
    return "\n".join(lines)


def job_times(results: Path) -> str:
    totals: dict[str, list[float]] = {}
    for tsv in sorted((results / "benchmarks").rglob("*.tsv")):
        with open(tsv, newline="") as handle:
            for row in csv.DictReader(handle, delimiter="\t"):
                totals.setdefault(tsv.stem, []).append(_float(row.get("s")))
    lines = ["| rule | jobs | median wall s | total wall s |", "|---|---:|---:|---:|"]
    for rule, seconds in sorted(totals.items()):
        lines.append(f"| {rule} | {len(seconds)} | {_median(seconds)} | {sum(seconds):.0f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", nargs="?", default="results")
    parser.add_argument("--models", nargs="+", default=None)
    args = parser.parse_args()
    results = Path(args.results)
    models = args.models or sorted(p.parent.name for p in results.glob("*/summary.csv"))
    for model in models:
        print(model_table(results / model))
        print()
    if (results / "benchmarks").is_dir():
        print(job_times(results))


if __name__ == "__main__":
    main()
