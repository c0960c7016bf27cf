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
    add_optimize_options(parser)
    add_decompose_options(parser)
    add_refine_options(parser)


def run(args) -> int:
    import json

    from kernelvis.analysis.refine import refine, refined_arrays
    from kernelvis.analysis.reliance import reliance_activations, reliance_summary
    from kernelvis.commands.decompose import decompose_config_from_args
    from kernelvis.commands.optimize import optimize_config_from_args
    from kernelvis.commands.refine import refine_config_from_args, write_refined
    from kernelvis.decompose.fit import decompose_video
    from kernelvis.decompose.save import save_decomposition
    from kernelvis.decompose.stats import motion_summary
    from kernelvis.io import staged_directory, update_json
    from kernelvis.commands.common import load_kernel_target
    from kernelvis.optimize.api import model_preprocessing, optimize_kernels, save_optimal
    from kernelvis.render.panels import write_kernel_panel

    configs = (optimize_config_from_args(args), decompose_config_from_args(args), refine_config_from_args(args))
    optimize_config, decompose_config, refine_config = configs
    model, kernel = load_kernel_target(args)
    with staged_directory(args.out) as stage:
        (optimal,) = optimize_kernels(model, args.layer, [kernel], optimize_config)
        save_optimal(optimal, stage, model.name, args.layer, kernel)
        decomposition = decompose_video(optimal.video, decompose_config)
        save_decomposition(decomposition, stage, motion_summary(optimal.video, decomposition), args.motion_scale)
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
        summary = json.loads((stage / "summary.json").read_text())
        write_kernel_panel(stage, summary, args.motion_scale)
    print(f"{model.name} {args.layer} kernel {kernel}: activation {summary['activation']:.4g}, direction "
          f"{summary['direction_deg']:.0f}° (strength {summary['direction_strength']:.2f}), speed "
          f"{summary['speed_px_per_frame']:.2f} px/frame, motion index {summary['motion_index']:.2f} -> {args.out}")
    return 0
