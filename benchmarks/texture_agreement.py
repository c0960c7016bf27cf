"""Texture-conditioned agreement of stage-2 variants, measured on whole layers of a finished run.

For every kernel of the given layers (their ``optimal.npz`` in ``results/<model>/<layer>/kernel_NNNN``), each
variant of stage 2 (``DecomposeConfig`` overrides) decomposes the optimal input, its visualized direction and
speed are summarized as summary.json's are, and the kernel's own stage-2 texture is moved in every direction at
that speed (texture-conditioned tuning, with stage 1's objective and preprocessing, as the workflow's
``texture_tuning`` rule does). Printed per layer and variant: the agreement share (over kernels with texture
DSI > 0.3 and a measurable curve), the median reconstruction PSNR over all the layer's kernels and how many
textures are anchored after frame 0, and per kernel that is counted, its anchor frame, PSNR, direction, speed and
verdict. With ``--json`` every kernel's row, counted or not.

This is how a change to stage 2 is judged on populations rather than on the kernel that prompted it.

Usage:
  python benchmarks/texture_agreement.py --results results --model transnetv2 \\
      --layers SDDCNN.0.DDCNN.0.Conv3D_1.layers.1 --variant default '{}' --variant smooth '{"velocity_tv_weight": 1e-3}'
  (demo: --model demo --weights results/demo/demo_model.pt; --directions 16 is the default run's setting)
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from kernelvis.analysis.texture_tuning import TextureTuningConfig, probes_for_kernel, texture_tuning
from kernelvis.analysis.verdict import DSI_THRESHOLD
from kernelvis.decompose.config import DecomposeConfig
from kernelvis.decompose.fit import decompose_video
from kernelvis.decompose.stats import motion_summary
from kernelvis.models.zoo import load_model
from kernelvis.optimize.api import model_preprocessing
from kernelvis.stages.inputs import load_stage1


def kernel_dirs(layer_dir: Path) -> list[Path]:
    return sorted(path.parent for path in layer_dir.glob("kernel_*/optimal.npz"))


def measure_layer(model, layer: str, layer_dir: Path, variants: dict, tuning_config: TextureTuningConfig) -> dict:
    """{variant: [per-kernel row]} for every kernel of the layer with an optimal input."""
    stage1s = [load_stage1(directory / "optimal.npz") for directory in kernel_dirs(layer_dir)]
    if not stage1s:
        raise SystemExit(f"no optimal inputs under {layer_dir}/kernel_*/optimal.npz: run the workflow first "
                         "(make figures, or config/heldout.yaml for the held-out layers)")
    rows = {}
    for name, overrides in variants.items():
        config = DecomposeConfig(**overrides)
        started = time.perf_counter()
        probes, summaries = [], []
        for stage1 in stage1s:
            decomposition = decompose_video(stage1.video, config)
            summaries.append(motion_summary(stage1.video, decomposition))
            probes += probes_for_kernel(int(stage1.metadata["kernel"]), stage1.video, decomposition, None,
                                        stage1.objective, stage1.activation)
        decompose_s = time.perf_counter() - started
        preprocessing = model_preprocessing(model, stage1s[0].preprocessing)
        results = texture_tuning(model, layer, probes, tuning_config, preprocessing)
        rows[name] = [{"kernel": result.kernel, "direction_deg": summary["direction_deg"],
                       "speed_px_per_frame": summary["speed_px_per_frame"],
                       "strength": summary["direction_strength"], "recon_psnr_db": summary["recon_psnr_db"],
                       "anchor_frame": summary["anchor_frame"], "decompose_start": summary["decompose_start"],
                       "texture_peak_deg": result.preferred_direction_deg,
                       "texture_dsi": result.dsi, "fraction": result.visualized_fraction,
                       "counted": bool(result.dsi > DSI_THRESHOLD and result.agrees is not None),
                       "agrees": result.agrees, "decompose_s_per_kernel": decompose_s / max(len(stage1s), 1)}
                      for result, summary in zip(results, summaries)]
    return rows


def report(layer: str, rows: dict) -> None:
    print(f"== {layer}")
    for name, kernels in rows.items():
        counted = [row for row in kernels if row["counted"]]
        agreeing = sum(bool(row["agrees"]) for row in counted)
        seconds = kernels[0]["decompose_s_per_kernel"] if kernels else 0.0
        psnr = float(np.median([row["recon_psnr_db"] for row in kernels])) if kernels else float("nan")
        moved = sum(row["anchor_frame"] != 0 for row in kernels)
        print(f"  {name:>16}: {agreeing}/{len(counted)} agree ({len(kernels)} kernels; stage 2 {seconds:.1f} s a kernel; "
              f"median reconstruction {psnr:.2f} dB; texture anchored after frame 0 for {moved})")
        for row in counted:
            print(f"      kernel {row['kernel']:3d} (frame {row['anchor_frame']}, {row['recon_psnr_db']:.1f} dB): "
                  f"visualized {row['direction_deg']:6.1f} deg at "
                  f"{row['speed_px_per_frame']:.2f} px/frame (strength {row['strength']:.2f}), texture peak "
                  f"{row['texture_peak_deg']:6.1f} deg (DSI {row['texture_dsi']:.2f}, fraction "
                  f"{row['fraction']:.2f}): {'agrees' if row['agrees'] else 'DISAGREES'}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", default="results")
    parser.add_argument("--model", default="transnetv2", help="the results directory's model name")
    parser.add_argument("--spec", default=None, help="zoo spec (default: --model)")
    parser.add_argument("--weights", default=None)
    parser.add_argument("--layers", nargs="+", default=["SDDCNN.0.DDCNN.0.Conv3D_1.layers.1"],
                        help="layers with optimal inputs under RESULTS/MODEL (default: TransNetV2's block-0 temporal "
                             "layer, which the default run visualizes whole)")
    parser.add_argument("--variant", nargs=2, action="append", metavar=("NAME", "JSON"),
                        help="a stage-2 variant: DecomposeConfig overrides as JSON (repeatable; default: '{}')")
    parser.add_argument("--directions", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", default=None, help="also write every row here")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    variants = {name: json.loads(text) for name, text in (args.variant or [("default", "{}")])}
    model = load_model(args.spec or args.model, weights=args.weights)
    config = TextureTuningConfig(directions=args.directions)
    everything = {}
    for layer in args.layers:
        rows = measure_layer(model, layer, Path(args.results) / args.model / layer, variants, config)
        report(layer, rows)
        everything[layer] = rows
    if args.json:
        Path(args.json).write_text(json.dumps(everything, indent=1, default=float))
    totals = {name: [0, 0] for name in variants}
    for rows in everything.values():
        for name, kernels in rows.items():
            counted = [row for row in kernels if row["counted"]]
            totals[name][0] += sum(bool(row["agrees"]) for row in counted)
            totals[name][1] += len(counted)
    for name, (agreeing, counted) in totals.items():
        print(f"all layers, {name}: {agreeing}/{counted} agree")


if __name__ == "__main__":
    main()
