"""The optimality audit of one kernel: its optimal input against the best stimulus of its tuning sweep and
the best natural clip of a clip set, all measured with the objective and preprocessing stage 1 used.

  kernelvis audit --model demo --weights results/demo/demo_model.pt --layer conv2 --kernel 1 \\
      --optimal results/demo/conv2/kernel_0001/optimal.npz --tuning results/demo/conv2/kernel_0001/tuning.json \\
      --clips results/data/clips.npz --out-file results/demo/conv2/kernel_0001/stage_audit.json

Writes OUT (JSON): optimal_activation, best_stimulus_activation (+ which stimulus), best_natural_activation
(+ clip index and label), optimal_vs_best_grating, optimal_vs_best_natural, audit_pass, status (``silent``
when the kernel's output is nowhere positive on the optimal input, the sweep and any clip), the objective and
preprocessing, provenance.
"""

from __future__ import annotations

HELP = "optimality audit: optimal input vs best tuning stimulus and best natural clip (same objective)"


def add_arguments(parser) -> None:
    from kernelvis.commands.common import add_kernel_target_arguments

    add_kernel_target_arguments(parser)
    parser.add_argument("--optimal", required=True, metavar="NPZ", help="the kernel's optimal.npz (stage 1)")
    parser.add_argument("--tuning", default=None, metavar="JSON", help="the kernel's tuning.json (same objective)")
    parser.add_argument("--clips", default=None, metavar="NPZ", help="clip set (kernelvis synthetic-clips / sample-clips)")
    parser.add_argument("--out-file", required=True, metavar="JSON", help="the audit record to write")
    parser.add_argument("--device", default="cpu")


def run(args) -> int:
    import json
    import math

    import torch

    from kernelvis.analysis.audit import natural_responses_like
    from kernelvis.analysis.verdict import audit_verdict, kernel_status
    from kernelvis.commands.common import load_kernel_target, stage1_settings
    from kernelvis.errors import BadInputError
    from kernelvis.io import read_video, save_json
    from kernelvis.models.activation import kernel_activation
    from kernelvis.optimize.api import model_preprocessing
    from kernelvis.provenance import make_provenance

    objective, preprocessing_name = stage1_settings(args.optimal)
    model, kernel = load_kernel_target(args)
    preprocessing = model_preprocessing(model, preprocessing_name)
    video = read_video(args.optimal)
    with torch.no_grad():
        model.module.to(args.device)
        clip = torch.from_numpy(video).permute(3, 0, 1, 2)[None].to(args.device)
        optimal_activation = float(kernel_activation(model, args.layer, clip, kernel, objective, preprocessing)[0])

    record = {"model": model.name, "layer": args.layer, "kernel": kernel, "objective": objective,
              "preprocessing": preprocessing_name}
    best_stimulus = math.nan
    if args.tuning:
        tuning = json.loads(open(args.tuning).read())
        for key, expected in (("objective", objective), ("preprocessing", preprocessing_name)):
            if tuning.get(key, expected) != expected:
                raise BadInputError(f"{args.tuning} was measured with {key} {tuning.get(key)!r} but stage 1 used "
                                    f"{expected!r}: re-run `kernelvis tuning --optimal {args.optimal}`")
        best_stimulus = float(tuning.get("best_stimulus_activation", tuning.get("best_grating_activation", math.nan)))
        record["best_stimulus"] = tuning.get("best_stimulus", "")
    best_natural = math.nan
    status = "ok"
    if args.clips:
        from kernelvis.baselines.dataset_examples import load_clips

        clips, labels = load_clips(args.clips)
        natural = natural_responses_like(model, args.layer, kernel, clips, video, objective, preprocessing, args.device)
        best_natural = natural.best_activation
        record.update({"best_natural_clip": natural.best_index, "best_natural_label": str(labels[natural.best_index]),
                       "natural_max_response": natural.max_response, "natural_clips": int(len(clips))})
        status, detail = kernel_status(None, optimal_activation, best_stimulus, natural.max_response)
        if detail:
            record["status_detail"] = detail
    record.update(audit_verdict(optimal_activation, best_stimulus, best_natural))
    record["status"] = status
    record["provenance"] = make_provenance("audit", model, None, layer=args.layer, kernel=kernel, objective=objective,
                                           preprocessing=preprocessing_name, optimal=args.optimal,
                                           tuning=args.tuning, clips=args.clips)
    save_json(args.out_file, record)
    verdict = "passes" if record["audit_pass"] else "FAILS"
    print(f"{model.name} {args.layer} kernel {kernel}: optimal {optimal_activation:.4g} vs best stimulus "
          f"{best_stimulus:.4g}, best natural clip {best_natural:.4g} ({objective}) -> {verdict} the optimality audit"
          + ("" if status == "ok" else f" [{status}]"))
    return 0
