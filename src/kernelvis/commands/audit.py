"""The optimality audit of one kernel: its optimal input against the best stimulus of its tuning sweep and
the best natural clip of a clip set, all measured with the objective and preprocessing stage 1 used.

  kernelvis audit --model demo --weights results/demo/demo_model.pt --layer conv2 --kernel 1 \\
      --optimal results/demo/conv2/kernel_0001/optimal.npz --tuning results/demo/conv2/kernel_0001/tuning.json \\
      --clips results/data/clips.npz --out results/demo/conv2/kernel_0001

Writes DIR/stage_audit.json (kernelvis.stages.audit.audit_stage): optimal_activation, best_stimulus_activation (+ which stimulus), best_natural_activation
(+ clip index and label), optimal_vs_best_grating, optimal_vs_best_natural, audit_pass, status (``silent``
when the kernel's output is nowhere positive on any clip), the objective and preprocessing, provenance.
"""

from __future__ import annotations

HELP = "optimality audit: optimal input vs best tuning stimulus and best natural clip (same objective)"


def add_arguments(parser) -> None:
    from kernelvis.commands.common import add_kernel_target_arguments

    add_kernel_target_arguments(parser, kernel_sets=True)
    parser.add_argument("--optimal", default=None, metavar="NPZ",
                        help="the kernel's optimal.npz (stage 1; default: DIR/optimal.npz; one --kernel only)")
    parser.add_argument("--tuning", nargs="?", const="", default=None, metavar="JSON",
                        help="the tuning reference: the kernel's tuning.json (same objective); without a path, each "
                             "kernel's DIR/tuning.json (default: no tuning reference)")
    parser.add_argument("--clips", default=None, metavar="NPZ", help="clip set (kernelvis synthetic-clips / sample-clips)")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="kernel directory: stage_audit.json is written there (with --kernels: layer directory)")
    parser.add_argument("--device", default="cpu")


def run(args) -> int:
    from pathlib import Path

    from kernelvis.commands.common import kernel_set_from_args, preload_stage1, refuse_single_kernel_inputs
    from kernelvis.stages.audit import audit_stage
    from kernelvis.stages.inputs import load_tuning_record

    refuse_single_kernel_inputs(args, "optimal", "tuning")
    kernel_set = kernel_set_from_args(args)
    for kernel, kernel_dir in kernel_set.items():
        stage1 = preload_stage1(kernel_set, Path(args.optimal) if args.optimal else Path(kernel_dir) / "optimal.npz",
                                kernel=kernel)
        if args.tuning is not None:
            tuning_path = Path(args.tuning) if args.tuning else Path(kernel_dir) / "tuning.json"
            kernel_set.remember("tuning", kernel, load_tuning_record(tuning_path, stage1))
    for kernel, record in zip(kernel_set.kernels, audit_stage(kernel_set, args.clips,
                                                               use_tuning=args.tuning is not None)):
        verdict = "passes" if record["audit_pass"] else "FAILS"
        print(f"{kernel_set.model.name} {args.layer} kernel {kernel}: optimal {record['optimal_activation']} vs best "
              f"stimulus {record['best_stimulus_activation']}, best natural clip {record['best_natural_activation']} "
              f"({record['objective']}) -> {verdict} the optimality audit"
              + ("" if record["status"] == "ok" else f" [{record['status']}]"))
    return 0
