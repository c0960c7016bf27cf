"""The whole per-kernel pipeline in one command: optimal input (stage 1), decomposition into texture
and motion (stage 2), texture and motion optimized against the kernel with reliance indices, and the
panel. Takes every option of `kernelvis optimize`, `decompose` (prefixed --decompose-*) and `refine`
(prefixed --refine-*). DIR receives the files of all three plus summary.json, panel.png and panel.gif;
on error nothing is written.

  kernelvis visualize --model planted --layer energy --kernel 2 --out out/planted_k2
"""

from __future__ import annotations

HELP = "optimize, decompose, refine and render one kernel (the whole pipeline)"


def add_arguments(parser) -> None:
    from kernelvis.commands.decompose import add_decompose_options
    from kernelvis.commands.optimize import add_optimize_options
    from kernelvis.commands.refine import add_refine_options

    from kernelvis.commands.common import add_kernel_target_arguments

    add_kernel_target_arguments(parser)
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--clips", default=None, metavar="NPZ",
                        help="clip set for the optimality audit's best natural clip (default: audit against the "
                             "tuning sweep only)")
    parser.add_argument("--no-tuning", action="store_true", help="skip the tuning sweep (and its part of the audit)")
    add_optimize_options(parser)
    add_decompose_options(parser)
    add_refine_options(parser)


def run(args) -> int:
    import json

    from kernelvis.analysis.refine import refine, refined_arrays
    from kernelvis.analysis.reliance import reliance_activations, reliance_summary
    from kernelvis.commands.decompose import decompose_config_from_args, write_decomposition
    from kernelvis.commands.optimize import optimize_config_from_args
    from kernelvis.commands.refine import refine_config_from_args, write_refined
    from kernelvis.decompose.fit import decompose_video
    from kernelvis.decompose.stats import motion_summary
    from kernelvis.io import staged_directory, update_json
    from kernelvis.commands.common import load_kernel_target
    from kernelvis.optimize.api import model_preprocessing, optimize_kernels, save_optimal
    from kernelvis.render.panels import write_kernel_panel

    from kernelvis.commands.optimize import optimize_provenance

    optimize_config, decompose_config = optimize_config_from_args(args), decompose_config_from_args(args)
    refine_config_from_args(args)  # validate the options before the long part starts
    model, kernel = load_kernel_target(args)
    with staged_directory(args.out) as stage:
        (optimal,) = optimize_kernels(model, args.layer, [kernel], optimize_config)
        save_optimal(optimal, stage, model.name, args.layer, kernel,
                     provenance=optimize_provenance(model, args.layer, kernel, optimize_config))
        args.objective = optimal.objective  # every later measurement uses what stage 1 maximized
        refine_config = refine_config_from_args(args)
        decomposition = decompose_video(optimal.video, decompose_config)
        write_decomposition(decomposition, stage, motion_summary(optimal.video, decomposition), args.motion_scale)
        if refine_config.steps > 0:
            refined = refine(model, args.layer, kernel, decomposition.static_canvas, decomposition.displacement,
                             decomposition.margin_px, refine_config)
            activations = reliance_activations(model, args.layer, kernel, optimal.video, refined.static_canvas,
                                               refined.displacement, refined.margin_px, refine_config.objective,
                                               model_preprocessing(model, refine_config.preprocessing),
                                               args.neutral_textures, args.seed, refine_config.device)
            arrays, scalars = refined_arrays(refined)
            write_refined(stage, arrays, optimal.video)
            update_json(stage / "summary.json", {**scalars, **reliance_summary(activations)})
        update_json(stage / "summary.json", _audit(model, args, kernel, optimal, stage))
        summary = json.loads((stage / "summary.json").read_text())
        write_kernel_panel(stage, summary, args.motion_scale)
    print(f"{model.name} {args.layer} kernel {kernel}: activation {summary['activation']:.4g}, direction "
          f"{summary['direction_deg']:.0f}° (strength {summary['direction_strength']:.2f}), speed "
          f"{summary['speed_px_per_frame']:.2f} px/frame, motion index {summary['motion_index']:.2f}, optimality audit "
          f"{'pass' if summary['audit_pass'] else 'FAIL'} -> {args.out}")
    return 0


def _audit(model, args, kernel: int, optimal, stage) -> dict:
    """Tuning sweep (into ``stage``) and the optimality audit, with stage 1's objective and preprocessing."""
    import math

    from kernelvis.analysis.audit import natural_responses_like
    from kernelvis.analysis.verdict import audit_verdict
    from kernelvis.analysis.tuning import TuningConfig, save_tuning, tune_kernels
    from kernelvis.optimize.api import model_preprocessing

    preprocessing = model_preprocessing(model, args.preprocessing)
    scalars, best_stimulus, best_natural = {}, math.nan, math.nan
    if not args.no_tuning:
        config = TuningConfig(objective=optimal.objective)
        (tuning,) = tune_kernels(model, args.layer, [kernel], config, preprocessing=preprocessing, device=args.device)
        record = save_tuning(tuning, stage, model.name, args.layer, config, args.preprocessing)
        best_stimulus = record["best_stimulus_activation"]
        scalars.update({key: record[key] for key in ("preferred_direction_deg", "dsi", "best_stimulus")})
    if args.clips:
        from kernelvis.baselines.dataset_examples import load_clips

        clips, _ = load_clips(args.clips)
        natural = natural_responses_like(model, args.layer, kernel, clips, optimal.video, optimal.objective,
                                         preprocessing, args.device)
        best_natural = natural.best_activation
        scalars["natural_max_response"] = natural.max_response
        if not natural.max_response > 0 and optimal.status == "ok":
            scalars["status"] = "silent"
    scalars.update(audit_verdict(optimal.activation, best_stimulus, best_natural))
    return scalars
