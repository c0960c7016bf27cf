"""Measure a clip set's colour covariance (and its square root, the colour decorrelation matrix)
and the slope of its spatiotemporal amplitude spectrum (|F| ∝ 1/|f|^a); write them as JSON for
stage 1's Fourier parameterization (``kernelvis optimize --clip-stats PATH``).
"""

from __future__ import annotations

HELP = "colour covariance sqrt + spectral slope of a clip set (JSON for the fourier prior)"


def add_arguments(parser) -> None:
    parser.add_argument("clips", help="clips.npz (key clips [N,T,H,W,3]) from sample-clips / synthetic-clips")
    parser.add_argument("--out-file", default="results/data/clip_stats.json")


def run(args) -> int:
    import numpy as np

    from kernelvis.data.clip_stats import compute_clip_stats, save_clip_stats
    from kernelvis.data.kinetics import load_clip_set

    stats = compute_clip_stats(load_clip_set(args.clips).clips)
    save_clip_stats(args.out_file, stats)
    print(f"{stats.clips} clips: spectral slope {stats.spectral_slope:.3f} (r² {stats.spectral_fit_r2:.3f}); "
          f"colour sqrt covariance\n{np.array2string(stats.color_sqrt_cov, precision=4)}\n-> {args.out_file}")
    return 0
