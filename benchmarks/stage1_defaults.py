"""Which stage-1 settings give optimal inputs that are optimal? The optimality audit on WHOLE layers of both
default networks.

Every kernel of each target layer is optimized (one batch per layer) with the workflow's stage-1 settings for
its model (config/config.yaml: demo 300 steps, 2 restarts; TransNetV2 200 steps, 1 restart; pixel, lr 0.1,
objective ``auto``), then audited exactly as the workflow does: its optimal input against the best stimulus of
the tuning sweep (gratings, plaids, dots) and the best clip of a clip set, with the objective stage 1 used.
With ``kernelvis.optimize.api.reference_restart`` available (issue 24), the kernels that end below their best
reference get one more candidate started from that reference, and a second row reports the audit after it.

A first row ("before") runs stage 1 with the rectified objective's surrogate switched off, in the same process.
Prints per (model, layer, row): audit pass share, median and min ratio optimal / best reference, CPU seconds
per kernel (stage 1, plus the reference restart on the second row), and with --verbose one line per kernel.

    .venv/bin/python benchmarks/stage1_defaults.py --clips results/data/clips.npz            # TransNetV2 block 0
    .venv/bin/python benchmarks/stage1_defaults.py --clips results/data/clips.npz \\
        --demo-weights results/demo/demo_model.pt                                             # + demo conv2
    .venv/bin/python benchmarks/stage1_defaults.py --clips ... --targets transnetv2:SDDCNN.0.DDCNN.0.Conv3D_8.layers.1

Run it against another source tree (e.g. the commit before a change) with PYTHONPATH=that/src: the script
uses only what that tree has.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path
from dataclasses import replace

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_TARGETS = ("transnetv2:SDDCNN.0.DDCNN.0.Conv3D_1.layers.1", "transnetv2:SDDCNN.0.DDCNN.0.Conv3D_2.layers.1")
DEMO_TARGETS = ("demo:conv1", "demo:conv2")
WORKFLOW_SETTINGS = {  # config/config.yaml: optimize, and the per-model overrides
    "default": dict(param="pixel", lr=0.1, steps=300, restarts=2, early_stop_patience=None),
    "transnetv2": dict(param="pixel", lr=0.1, steps=200, restarts=1, early_stop_patience=None),
}


def references(model, layer, kernels, clips, tuning_config, preprocessing_name="native"):
    """Per kernel: (objective, best tuning stimulus activation, its clip, best natural clip activation, its clip),
    each measured once (they do not depend on stage 1's setting): one sweep and one pass over the clips per
    objective group of the layer."""
    from kernelvis.analysis.tuning import channel_responses, clip_shape, render_condition, summarize_tuning, \
        sweep_responses
    from kernelvis.models.linearity import probe_kernels, resolve_objective
    from kernelvis.optimize.api import model_preprocessing

    preprocessing = model_preprocessing(model, preprocessing_name)
    frames, size = clip_shape(model, tuning_config)
    probes = probe_kernels(model.module, layer, kernels, preprocessing, (frames, *size))
    objectives = [resolve_objective("auto", probe) for probe in probes]
    result = {}
    for objective in sorted(set(objectives)):
        group = [k for k, o in zip(kernels, objectives) if o == objective]
        config = replace(tuning_config, objective=objective)
        conditions, responses = sweep_responses(model, layer, group, config, preprocessing=preprocessing)
        natural = channel_responses(model, layer, group, clips, objective, preprocessing)
        for column, kernel in enumerate(group):
            tuning = summarize_tuning(kernel, conditions, responses[:, column])
            best_condition = int(np.argmax(np.where([c.stimulus != "blank" for c in conditions],
                                                    responses[:, column], -np.inf)))
            stimulus_clip = render_condition(conditions[best_condition], frames, size, config.contrast, config.seed,
                                             config.dot_density)
            best_clip = int(np.argmax(natural[:, column]))
            result[kernel] = (objective, tuning.best_stimulus_activation, stimulus_clip,
                              float(natural[best_clip, column]), clips[best_clip])
    return result


def _row(layer, kernel, objective, activation, status, reference, restart=None):
    from kernelvis.analysis.verdict import audit_verdict

    _, stimulus, _, natural, _ = reference
    verdict = audit_verdict(activation, stimulus, natural)
    best_reference = max(stimulus, natural)
    try:  # issue 24: silent = nowhere positive on the optimal input, the sweep and every clip
        from kernelvis.analysis.verdict import kernel_status

        # the rectified objective is 0 exactly where the map is nowhere positive; a mean is a lower bound of the max
        status = kernel_status(status, activation, stimulus, natural)[0]
    except ImportError:
        pass
    return {"layer": layer, "kernel": kernel, "objective": objective, "pass": verdict["audit_pass"], "status": status,
            "ratio": activation / best_reference if best_reference > 0 else math.nan, "optimal": activation,
            "stimulus": stimulus, "natural": natural, "restart": restart}


def baseline_layer(model, layer, kernels, config, reference):
    """(rows, seconds) of stage 1 as it was before issue 24 (the rectified objective searched as it is, no
    surrogate), in the same process and under the same load as the other rows; None where this tree has no
    surrogate or no kernel of the layer uses the rectified objective."""
    from kernelvis.optimize import api

    if not hasattr(api, "RECTIFIED_SURROGATE_TEMPERATURE") or all(r[0] != "rectified" for r in reference.values()):
        return None, 0.0
    saved = api.RECTIFIED_SURROGATE_TEMPERATURE
    api.RECTIFIED_SURROGATE_TEMPERATURE = 0.0
    try:
        started = time.process_time()
        results = api.optimize_kernels(model, layer, kernels, config)
        seconds = time.process_time() - started
    finally:
        api.RECTIFIED_SURROGATE_TEMPERATURE = saved
    return [_row(layer, r.kernel, r.objective, r.activation, r.status, reference[r.kernel]) for r in results], seconds


def audit_layer(model, layer, kernels, config, reference):
    """(rows after stage 1, seconds of stage 1, rows after the reference restart or None, its seconds)."""
    from kernelvis.optimize import api

    started = time.process_time()
    results = api.optimize_kernels(model, layer, kernels, config)
    seconds = time.process_time() - started
    rows = [_row(layer, r.kernel, r.objective, r.activation, r.status, reference[r.kernel]) for r in results]
    if not hasattr(api, "reference_restart"):
        return rows, seconds, None, 0.0
    started = time.process_time()
    refs = [{"tuning": reference[r.kernel][2], "natural": reference[r.kernel][4]} for r in results]
    restarted = api.reference_restart(model, layer, results, refs, config)
    restart_seconds = time.process_time() - started
    after = [_row(layer, r.kernel, r.objective, r.activation, r.status, reference[r.kernel],
                  r.reference_restart) for r in restarted]
    return rows, seconds, after, restart_seconds


def print_row(name, rows, seconds):
    ratios = np.array([row["ratio"] for row in rows], dtype=float)
    audited = [row for row in rows if row["status"] not in ("dead", "diverged", "silent")]
    passed = sum(bool(row["pass"]) for row in audited)
    silent = len(rows) - len(audited)
    print(f"| {name} | {len(rows)} | {passed}/{len(audited)} ({100 * passed / max(len(audited), 1):.0f} %) | "
          f"{silent} | {np.nanmedian(ratios):.2f} | {np.nanmin(ratios):.2f} | {seconds / len(rows):.2f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--targets", nargs="+", default=None, metavar="MODEL:LAYER",
                        help=f"whole layers to audit (default: {DEFAULT_TARGETS[0]} and {DEMO_TARGETS[0]}; --full: "
                             f"{' '.join(DEFAULT_TARGETS + DEMO_TARGETS)})")
    parser.add_argument("--full", action="store_true", help="every default layer (about 10 CPU minutes)")
    parser.add_argument("--kernels", type=int, nargs="+", default=None, help="default: every kernel of each layer")
    parser.add_argument("--demo-weights", default=str(ROOT / "results" / "demo" / "demo_model.pt"),
                        help="trained demo weights (default: the run's; the demo layers are skipped without them)")
    parser.add_argument("--clips", default=str(ROOT / "results" / "data" / "clips.npz"),
                        help="clip set for the best natural clip (default: the run's, after make figures)")
    parser.add_argument("--steps", type=int, default=None, help="override the workflow's steps")
    parser.add_argument("--restarts", type=int, default=None, help="override the workflow's restarts")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--verbose", action="store_true", help="one line per kernel")
    parser.add_argument("--no-baseline", action="store_true",
                        help="skip the row of stage 1 without the rectified objective's surrogate (before issue 24)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from kernelvis.analysis.faithfulness import fit_clips
    from kernelvis.analysis.tuning import TuningConfig, clip_shape
    from kernelvis.baselines.dataset_examples import load_clips
    from kernelvis.models.layers import check_kernels
    from kernelvis.models.zoo import load_model
    from kernelvis.optimize.api import OptimizeConfig

    if not Path(args.clips).is_file():
        raise SystemExit(f"{args.clips} not found: run `make figures` first or pass --clips")
    demo = list(DEMO_TARGETS if args.full else DEMO_TARGETS[:1]) if Path(args.demo_weights).is_file() else []
    targets = args.targets or list(DEFAULT_TARGETS if args.full else DEFAULT_TARGETS[:1]) + demo
    raw_clips = load_clips(args.clips)[0]
    models = {}
    print("| model layer: row | kernels | audit pass | silent | median ratio | min ratio | CPU s/kernel |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for target in targets:
        model_name, layer = target.split(":", 1)
        if model_name not in models:
            models[model_name] = load_model(model_name, weights=args.demo_weights if model_name == "demo" else None)
        model = models[model_name]
        frames, size = clip_shape(model, TuningConfig())
        clips = fit_clips(raw_clips, frames, size)
        kernels = list(args.kernels) if args.kernels else list(range(int(model.module.get_submodule(layer).out_channels)))
        kernels = check_kernels(model.module, layer, kernels)
        settings = dict(WORKFLOW_SETTINGS.get(model_name, WORKFLOW_SETTINGS["default"]))
        settings.update({k: v for k, v in (("steps", args.steps), ("restarts", args.restarts)) if v})
        config = OptimizeConfig(**settings)
        started = time.process_time()
        reference = references(model, layer, kernels, clips, TuningConfig())
        reference_seconds = time.process_time() - started
        name = f"{model_name} {layer} ({settings['steps']} steps, {settings['restarts']} restart(s))"
        baseline, baseline_seconds = (None, 0.0) if args.no_baseline else baseline_layer(model, layer, kernels, config,
                                                                                          reference)
        if baseline is not None:
            print_row(f"{name}: stage 1 without the surrogate (before)", baseline, baseline_seconds)
        rows, seconds, after, restart_seconds = audit_layer(model, layer, kernels, config, reference)
        print_row(f"{name}: stage 1", rows, seconds)
        if after is not None:
            print_row(f"{name}: + reference restart", after, seconds + restart_seconds)
        if args.verbose:
            final = after or rows
            for index, (before_row, row) in enumerate(zip(rows, final)):
                print(f"    k{row['kernel']} {row['objective']}: "
                      + (f"without surrogate {baseline[index]['optimal']:.4g}, " if baseline is not None else "")
                      + f"optimal {before_row['optimal']:.4g}"
                      + (f" -> {row['optimal']:.4g} (restart {row['restart']})" if after is not None else "")
                      + f" | stimulus {row['stimulus']:.4g} natural {row['natural']:.4g} -> "
                      f"{'pass' if row['pass'] else 'FAIL'} [{row['status']}]", flush=True)
        print(f"    (references: {reference_seconds:.0f} CPU s, not counted above)", flush=True)


if __name__ == "__main__":
    main()
