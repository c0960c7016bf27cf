"""The ``kernelvis`` command: thin argument parsing; the work happens in the library.

Each subcommand lives in ``kernelvis.commands.<name>`` with ``HELP``, ``add_arguments(parser)`` and
``run(args)``; heavy imports stay inside ``run`` so ``kernelvis --help`` is instant.
Errors for people (:class:`~kernelvis.errors.KernelvisError`) print one line and exit 1.
A command module with ``TRAINS = True`` runs with torch's vector width capped before torch is imported
(:mod:`kernelvis.numerics`), so its weights are the same on other machines.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from kernelvis.errors import KernelvisError

COMMANDS = {
    "models": "kernelvis.commands.models",
    "layers": "kernelvis.commands.layers",
    "optimize": "kernelvis.commands.optimize",
    "decompose": "kernelvis.commands.decompose",
    "refine": "kernelvis.commands.refine",
    "visualize": "kernelvis.commands.visualize",
    "tuning": "kernelvis.commands.tuning",
    "texture-tuning": "kernelvis.commands.texture_tuning",
    "audit": "kernelvis.commands.audit",
    "check": "kernelvis.commands.check",
    "faithfulness": "kernelvis.commands.faithfulness",
    "sample-clips": "kernelvis.commands.sample_clips",
    "clip-stats": "kernelvis.commands.clip_stats",
    "synthetic-clips": "kernelvis.commands.synthetic_clips",
    "train-demo": "kernelvis.commands.train_demo",
    "figures": "kernelvis.commands.figures",
    "fetch-weights": "kernelvis.commands.fetch_weights",
    "deconvnet": "kernelvis.commands.deconvnet",
    "invert": "kernelvis.commands.invert",
    "dissect": "kernelvis.commands.dissect",
    "suppress": "kernelvis.commands.suppress",
    "train-3t": "kernelvis.commands.train_3t",
    "tconv-stats": "kernelvis.commands.tconv_stats",
    "atlas": "kernelvis.commands.atlas",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kernelvis",
        description="What the kernels of 3D video networks respond to: texture and motion.",
        epilog="Each command's options show its own defaults; the workflow passes config/config.yaml's instead. "
               "Both, and which applies when: docs/defaults.md.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module_path in COMMANDS.items():
        try:
            module = importlib.import_module(module_path)
        except ModuleNotFoundError as error:
            if error.name == module_path:  # a command not built in this checkout
                continue
            raise
        sub = subparsers.add_parser(name, help=module.HELP, description=module.__doc__,
                                    formatter_class=argparse.ArgumentDefaultsHelpFormatter)
        module.add_arguments(sub)
        sub.set_defaults(run=module.run, trains=getattr(module, "TRAINS", False))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.trains:
        from kernelvis.numerics import request_portable_isa

        request_portable_isa()
    try:
        return int(args.run(args) or 0)
    except KernelvisError as error:
        print(f"kernelvis: error: {error}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `kernelvis layers ... | head`: the reader left; not an error of ours
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("kernelvis: interrupted; no partial output was kept", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
