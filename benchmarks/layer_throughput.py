"""Throughput of whole layers: kernels per CPU-hour through the workflow's per-kernel stage commands at the
workflow's settings, one job per kernel and stage (kernels_per_job: 1) against one job per stage for the whole
chunk, process start included (each job is a fresh `kernelvis <stage>` process, as Snakemake runs it).

    .venv/bin/python benchmarks/layer_throughput.py                  # after `make figures`: 8 kernels of demo conv2
    .venv/bin/python benchmarks/layer_throughput.py --kernels all    # all 24 kernels of demo conv2
    .venv/bin/python benchmarks/layer_throughput.py --model c3d --layer conv2 --kernels all --random-weights \\
        --steps 1500 --device cuda --stages optimize                 # a C3D-shaped layer on a GPU

Settings (steps, restarts, ...) are config/config.yaml's for the model (its per-model overrides included),
unless --steps is given. Prints a table: mode, jobs, wall s, CPU s (user + system of the child processes),
kernels per CPU-hour and per wall-hour, and the speed-up of the chunk.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
STAGE_ORDER = ("optimize", "decompose", "refine", "tuning", "texture_tuning", "deconvnet", "audit", "kernel_summary")


def workflow_setting(config: dict, model: str, stage: str, key: str, default=None):
    entry = next((entry for entry in config["models"] if entry["name"] == model), {})
    own = entry.get(stage) or {}
    return own[key] if key in own else (config.get(stage) or {}).get(key, default)


def stage_commands(args, config: dict, kernels: str, layer_dir: Path, clips: str | None) -> list[tuple[str, list]]:
    """(stage, argv) of every per-kernel stage for ``kernels`` (a --kernels spec), as the workflow's rules."""
    kernelvis = str(BIN / "kernelvis")
    target = ["--model", args.model, *(["--weights", args.weights] if args.weights else []), "--layer", args.layer,
              "--kernels", kernels, "--out", str(layer_dir)]
    device = ["--device", args.device]
    setting = lambda stage, key: str(workflow_setting(config, args.config_model, stage, key))  # noqa: E731
    steps = str(args.steps) if args.steps else setting("optimize", "steps")
    commands = {
        "optimize": [kernelvis, "optimize", *target, "--steps", steps, "--restarts", setting("optimize", "restarts"),
                     "--lr", setting("optimize", "lr"), "--param", setting("optimize", "param"),
                     "--objective", setting("optimize", "objective"), "--seed", setting("optimize", "seed"),
                     *device, "--no-progress"],
        "decompose": [kernelvis, "decompose", "--kernels", kernels, "--out", str(layer_dir),
                      "--steps", setting("decompose", "steps"), *device],
        "refine": [kernelvis, "refine", *target, "--steps", setting("refine", "steps"), *device],
        "tuning": [kernelvis, "tuning", *target, *device],
        "texture_tuning": [kernelvis, "texture-tuning", *target, *device],
        "deconvnet": [kernelvis, "deconvnet", *target[:-2], "--out", str(layer_dir), "--clips", clips or "",
                      "--compare"],
        "audit": [kernelvis, "audit", *target, "--tuning", *(["--clips", clips] if clips else []), *device],
        "kernel_summary": [kernelvis, "figures", "kernel", "--kernels", kernels, "--out", str(layer_dir),
                           "--stages", "optimize", "decompose", "refine", "tuning", "texture_tuning", "audit"],
    }
    stages = [stage for stage in STAGE_ORDER if stage in args.stages and (stage != "deconvnet" or clips)]
    return [(stage, commands[stage]) for stage in stages]


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_mode(args, config: dict, kernels: list[int], per_job: int, clips: str | None) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix="layer_throughput_"))
    layer_dir = workdir / args.layer
    groups = [kernels[start:start + per_job] for start in range(0, len(kernels), per_job)]
    environment = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    cpu_before, started, jobs = children_cpu_s(), time.perf_counter(), 0
    for stage_index in range(len(stage_commands(args, config, "0", layer_dir, clips))):
        for group in groups:
            spec = ",".join(str(kernel) for kernel in group)
            stage, argv = stage_commands(args, config, spec, layer_dir, clips)[stage_index]
            result = subprocess.run(argv, capture_output=True, text=True, env=environment)
            if result.returncode != 0:
                raise SystemExit(f"{stage} failed:\n{result.stderr[-2000:]}")
            jobs += 1
    wall_s, cpu_s = time.perf_counter() - started, children_cpu_s() - cpu_before
    shutil.rmtree(workdir, ignore_errors=True)
    return {"per_job": per_job, "jobs": jobs, "wall_s": wall_s, "cpu_s": cpu_s,
            "kernels_per_cpu_hour": len(kernels) * 3600 / cpu_s, "kernels_per_wall_hour": len(kernels) * 3600 / wall_s}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="demo")
    parser.add_argument("--config-model", default=None, help="the config entry whose settings apply (default: --model)")
    parser.add_argument("--weights", default=None, help="default for demo: the run's results/demo/demo_model.pt")
    parser.add_argument("--random-weights", action="store_true", help="no weights (a speed measurement only)")
    parser.add_argument("--layer", default="conv2")
    parser.add_argument("--kernels", default="0-7", help="all, a range or a list")
    parser.add_argument("--per-job", type=int, nargs="+", default=None,
                        help="kernels per job to compare (default: 1 and all of --kernels)")
    parser.add_argument("--stages", nargs="+", default=list(STAGE_ORDER), choices=STAGE_ORDER)
    parser.add_argument("--clips", default=str(ROOT / "results" / "data" / "clips.npz"),
                        help="clip set for the audit and DeconvNet (skipped when missing)")
    parser.add_argument("--steps", type=int, default=None, help="stage-1 steps (default: the workflow's)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1, help="OMP threads per job (the workflow's: 1)")
    parser.add_argument("--configfile", default=str(ROOT / "config" / "config.yaml"))
    args = parser.parse_args(argv)
    args.config_model = args.config_model or args.model
    config = yaml.safe_load(Path(args.configfile).read_text())
    if args.weights is None and not args.random_weights and args.model == "demo":
        args.weights = str(ROOT / "results" / "demo" / "demo_model.pt")
        if not Path(args.weights).is_file():
            raise SystemExit(f"{args.weights} not found: run `make figures` first (or pass --random-weights)")
    if args.random_weights and args.weights is None:  # the model's architecture with random weights, as a checkpoint
        import torch

        from kernelvis.models.zoo import load_model

        args.weights = str(Path(tempfile.mkdtemp(prefix="layer_throughput_weights_")) / "random.pt")
        torch.save(load_model(args.model, random_weights=True).module.state_dict(), args.weights)
    from kernelvis.kernel_sets import layer_channels, needs_channel_count, parse_kernels

    channels = layer_channels(args.model, args.layer, Path(tempfile.gettempdir()) / "kernelvis_layer_channels") \
        if needs_channel_count(args.kernels) else None
    kernels = parse_kernels(args.kernels, channels)
    clips = args.clips if Path(args.clips).is_file() else None
    if "audit" in args.stages and "tuning" not in args.stages:
        args.stages = [stage for stage in args.stages if stage != "audit"]  # the audit reads the tuning
    rows = [run_mode(args, config, kernels, per_job, clips) for per_job in (args.per_job or [1, len(kernels)])]
    print(f"{args.model} {args.layer}: {len(kernels)} kernels, stages {' '.join(args.stages)}, device {args.device}"
          f", OMP threads {args.threads}")
    print(f"{'per job':>8} {'jobs':>5} {'wall s':>8} {'CPU s':>8} {'kernels/CPU-h':>14} {'kernels/wall-h':>15}")
    for row in rows:
        print(f"{row['per_job']:>8} {row['jobs']:>5} {row['wall_s']:>8.1f} {row['cpu_s']:>8.1f} "
              f"{row['kernels_per_cpu_hour']:>14.1f} {row['kernels_per_wall_hour']:>15.1f}")
    if len(rows) > 1:
        print(f"speed-up of {rows[-1]['per_job']} per job over {rows[0]['per_job']}: "
              f"{rows[-1]['kernels_per_cpu_hour'] / rows[0]['kernels_per_cpu_hour']:.2f}x per CPU-hour, "
              f"{rows[-1]['kernels_per_wall_hour'] / rows[0]['kernels_per_wall_hour']:.2f}x per wall-hour")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
