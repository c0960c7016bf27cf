"""Which stage-1 settings give optimal inputs that are optimal? The optimality audit, per candidate setting,
on a trained network at every depth.

For each candidate (parameterization, learning rate, steps, restarts, early stop, clip statistics) every
kernel is optimized (all kernels of a layer in one batch), then audited exactly as the workflow does: its
optimal input against the best stimulus of the tuning sweep (gratings, plaids, dots) and the best clip of a
clip set, all with the objective stage 1 used (``auto``). Prints per candidate: audit pass rate, median
ratio optimal / max(best stimulus, best clip), and CPU seconds per kernel.

    .venv/bin/python benchmarks/stage1_defaults.py          # after `make figures`: its demo weights and clips
    .venv/bin/python benchmarks/stage1_defaults.py --full   # every candidate on 4 kernels per layer (docs/stage1.md)
    .venv/bin/python benchmarks/stage1_defaults.py --weights results/demo/demo_model.pt --clips results/data/clips.npz
    .venv/bin/python benchmarks/stage1_defaults.py --model transnetv2 --layers SDDCNN.0.DDCNN.0.Conv3D_1.layers.0 ...
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

CANDIDATES = {
    # name: (param, lr, steps, restarts, early-stop patience or 0, use clip statistics)
    "fourier lr.05 200 r2 es100 +stats (old default)": ("fourier", 0.05, 200, 2, 100, True),
    "fourier lr.05 200 r2 es100": ("fourier", 0.05, 200, 2, 100, False),
    "pixel lr.05 200 r2 es100": ("pixel", 0.05, 200, 2, 100, False),
    "pixel lr.1 300 r2 no-es": ("pixel", 0.1, 300, 2, 0, False),
    "pixel lr.1 600 r2 no-es": ("pixel", 0.1, 600, 2, 0, False),
}
CHOSEN = "pixel lr.1 300 r2 no-es"  # stage 1's defaults (docs/stage1.md)
DEMO_WEIGHTS = "results/demo/demo_model.pt"  # the workflow's trained demo model (workflow/rules/weights.smk)
CLIP_STATS = "results/data/clip_stats.json"  # the workflow's clip statistics (workflow/rules/data.smk), if it made them


def references(model, layer, kernels, clips, tuning_config, preprocessing_name="native"):
    """Per kernel: (objective, best tuning stimulus, best natural clip), each measured once: they do not depend
    on the candidate setting. One sweep and one pass over the clips per objective group of the layer."""
    from kernelvis.analysis.tuning import summarize_tuning, sweep_responses, channel_responses
    from kernelvis.models.linearity import probe_kernels, resolve_objective
    from kernelvis.optimize.api import model_preprocessing

    preprocessing = model_preprocessing(model, preprocessing_name)
    p = model.preprocessing
    probes = probe_kernels(model.module, layer, kernels, preprocessing, (p.frames, p.size, p.size))
    objectives = [resolve_objective("auto", probe) for probe in probes]
    result = {}
    for objective in sorted(set(objectives)):
        group = [k for k, o in zip(kernels, objectives) if o == objective]
        config = replace(tuning_config, objective=objective)
        conditions, responses = sweep_responses(model, layer, group, config, preprocessing=preprocessing)
        natural = channel_responses(model, layer, group, clips, objective, preprocessing)
        for column, kernel in enumerate(group):
            tuning = summarize_tuning(kernel, conditions, responses[:, column])
            result[kernel] = (objective, tuning.best_stimulus_activation, float(natural[:, column].max()))
    return result


def audit_layer(model, layer, kernels, config, reference):
    from kernelvis.analysis.verdict import audit_verdict
    from kernelvis.optimize.api import optimize_kernels

    started = time.process_time()
    results = optimize_kernels(model, layer, kernels, config)
    seconds = time.process_time() - started
    rows = []
    for result in results:
        objective, stimulus, natural = reference[result.kernel]
        assert objective == result.objective
        verdict = audit_verdict(result.activation, stimulus, natural)
        best_reference = max(stimulus, natural)
        rows.append({"layer": layer, "kernel": result.kernel, "objective": result.objective,
                     "pass": verdict["audit_pass"], "status": result.status,
                     "ratio": result.activation / best_reference if best_reference > 0 else math.nan,
                     "optimal": result.activation, "stimulus": stimulus, "natural": natural})
    return rows, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="demo")
    parser.add_argument("--weights", default=None,
                        help=f"default for the demo model: {DEMO_WEIGHTS} (what `make figures` trains) if it exists")
    parser.add_argument("--layers", nargs="+", default=["conv1", "conv2", "conv3", "conv4"])
    parser.add_argument("--kernels", type=int, nargs="+", default=None, help="default: 0 1 (--full: 0 1 2 3)")
    parser.add_argument("--clips", default="results/data/clips.npz",
                        help="clip set for the best natural clip (default: the one `make figures` samples)")
    parser.add_argument("--clip-stats", default=None, help="clip_stats.json for the candidates that use it")
    parser.add_argument("--candidates", nargs="+", default=None,
                        help=f"names from CANDIDATES (default: the chosen one, {CHOSEN!r}; --full: all)")
    parser.add_argument("--full", action="store_true", help="every candidate on kernels 0-3 (an hour or more)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--verbose", action="store_true", help="one line per kernel")
    args = parser.parse_args()
    if args.kernels is None:
        args.kernels = [0, 1, 2, 3] if args.full else [0, 1]
    if args.candidates is None:
        args.candidates = list(CANDIDATES) if args.full else [CHOSEN]
    if args.weights is None and args.model == "demo" and Path(DEMO_WEIGHTS).is_file():
        args.weights = DEMO_WEIGHTS
    if args.clip_stats is None and args.full and Path(CLIP_STATS).is_file():
        args.clip_stats = CLIP_STATS
    if not Path(args.clips).is_file():
        raise SystemExit(f"{args.clips} is missing: run `make figures` first, or name a clip set with --clips")
    torch.set_num_threads(args.threads)

    from kernelvis.analysis.faithfulness import fit_clips
    from kernelvis.analysis.tuning import TuningConfig
    from kernelvis.baselines.dataset_examples import load_clips
    from kernelvis.models.zoo import load_model
    from kernelvis.optimize.api import OptimizeConfig

    model = load_model(args.model, weights=args.weights)
    p = model.preprocessing
    clips = fit_clips(load_clips(args.clips)[0], p.frames, p.size)
    color, slope = None, 1.0
    if args.clip_stats:
        from kernelvis.data.clip_stats import load_clip_stats

        stats = load_clip_stats(args.clip_stats)
        color, slope = tuple(tuple(float(v) for v in row) for row in stats.color_sqrt_cov), float(stats.spectral_slope)
    print(f"model {args.model}, layers {args.layers}, kernels {args.kernels}, {len(clips)} natural clips, "
          f"{args.threads} thread(s)")
    started = time.process_time()
    reference = {layer: references(model, layer, args.kernels, clips, TuningConfig()) for layer in args.layers}
    print(f"references (tuning sweeps, natural clips): {time.process_time() - started:.0f} CPU s")
    print("| setting | kernels | audit pass | median ratio | min ratio | CPU s/kernel |")
    print("|---|---:|---:|---:|---:|---:|")
    for name in args.candidates:
        param, lr, steps, restarts, patience, use_stats = CANDIDATES[name]
        if use_stats and not args.clip_stats:
            continue
        config = OptimizeConfig(param=param, lr=lr, steps=steps, restarts=restarts, early_stop_patience=patience or None,
                                color_sqrt_cov=color if use_stats else None, spectral_slope=slope if use_stats else 1.0)
        rows, seconds = [], 0.0
        for layer in args.layers:
            layer_rows, layer_seconds = audit_layer(model, layer, args.kernels, config, reference[layer])
            rows += layer_rows
            seconds += layer_seconds
            if args.verbose:
                for row in layer_rows:
                    print(f"    {row['layer']} k{row['kernel']} {row['objective']}: optimal {row['optimal']:.3g} "
                          f"stimulus {row['stimulus']:.3g} natural {row['natural']:.3g} -> "
                          f"{'pass' if row['pass'] else 'FAIL'}")
        ratios = np.array([row["ratio"] for row in rows], dtype=float)
        passed = sum(row["pass"] for row in rows)
        print(f"| {name} | {len(rows)} | {passed}/{len(rows)} ({100 * passed / len(rows):.0f} %) | "
              f"{np.nanmedian(ratios):.2f} | {np.nanmin(ratios):.2f} | {seconds / len(rows):.1f} |", flush=True)


if __name__ == "__main__":
    main()
