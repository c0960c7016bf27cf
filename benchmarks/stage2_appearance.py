"""Stage 2 before and after the appearance component (issue 16), on optimal inputs and ground truth.

For every clip: reconstruction PSNR, its gain over the best static image (the mean frame), the PSNR
of a per-frame gain/offset of the mean frame (one gain and one offset per frame and channel, closed
form), the change shares (motion / appearance / residual; "before" has no appearance part, its
``motion_index`` is the old explained variation) and CPU seconds per clip (one clip at a time).

"before" is :meth:`DecomposeConfig.before_issue16` (texture + motion, flow from zero on clip-
standardized frames), "after" the default configuration.

Usage: python benchmarks/stage2_appearance.py [DIR ...] [--synthetic] [--threads 1] [--grid 3]
DIR: searched recursively for optimal.npz (e.g. a run's results/ or /tmp/stage2/optimal). Without DIR: the
optimal inputs under results/ (after `make figures`), else the synthetic stimuli.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from kernelvis.data import synthetic
from kernelvis.decompose.fit import DecomposeConfig, decompose_videos
from kernelvis.decompose.stats import explained_variation, motion_summary, recon_psnr_db


def gain_offset_of_mean_frame(video: np.ndarray) -> np.ndarray:
    """Least-squares ``V_t ≈ a_t V̄ + b_t`` per frame and channel: the global-flicker model."""
    video = np.asarray(video, dtype=np.float64)
    mean = video.mean(axis=0)
    centred = mean - mean.mean(axis=(0, 1))
    recon = np.empty_like(video)
    for t in range(video.shape[0]):
        for c in range(3):
            frame = video[t, ..., c]
            slope = float((centred[..., c] * (frame - frame.mean())).sum() / max((centred[..., c] ** 2).sum(), 1e-12))
            recon[t, ..., c] = frame.mean() + slope * centred[..., c]
    return recon


def synthetic_clips(frames: int = 12, size: int = 48) -> dict[str, np.ndarray]:
    """Ground-truth stimuli: translations, a contrast-reversing flicker, a cut, a brightness ramp."""
    first = synthetic.static_texture(frames, size, seed=8).video
    second = synthetic.static_texture(frames, size, seed=108).video
    cut = first.copy()
    cut[frames // 2:] = second[frames // 2:]
    gain = (0.7 + 0.025 * np.arange(frames))[:, None, None, None]
    return {
        "translate 0deg 0.5px": synthetic.translating_texture(frames, size, 0, 0.5, seed=1).video,
        "translate 135deg 3px": synthetic.translating_texture(frames, size, 135, 3.0, seed=2).video,
        "translate grass 2.75px": synthetic.translating_texture(frames, size, 290, 2.75, texture="grass", seed=3).video,
        "flicker": synthetic.flicker(frames, size, temporal_freq=0.125, seed=6).video,
        "cut": cut,
        "ramp+translate": np.clip(synthetic.translating_texture(frames, size, 60, 1.5, seed=9).video * gain, 0, 1),
    }


def optimal_clips(directories: list[str]) -> dict[str, np.ndarray]:
    clips = {}
    for directory in directories:
        for path in sorted(Path(directory).rglob("optimal.npz")):
            with np.load(path) as archive:
                clips[path.parent.name] = archive["video"].astype(np.float32)
    return clips


def timed_fit(video: np.ndarray, config: DecomposeConfig):
    start = time.process_time()
    (fit,) = decompose_videos(video[None], config)
    return fit, time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directories", nargs="*", metavar="DIR")
    parser.add_argument("--synthetic", action="store_true", help="also the ground-truth stimuli")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--grid", type=int, default=DecomposeConfig().appearance_grid)
    args = parser.parse_args()
    if not args.directories and not args.synthetic:
        if Path("results").is_dir() and any(Path("results").rglob("optimal.npz")):
            args.directories = ["results"]  # the default run's optimal inputs
        else:
            print("no DIR and no optimal.npz under results/ (run `make figures`): the synthetic stimuli only")
            args.synthetic = True
    torch.set_num_threads(args.threads)
    clips = {**(synthetic_clips() if args.synthetic else {}), **optimal_clips(args.directories)}
    before_config, after_config = DecomposeConfig.before_issue16(), DecomposeConfig(appearance_grid=args.grid)
    decompose_videos(next(iter(clips.values()))[None, :4], before_config)  # warm-up
    print(f"# CPU s per clip, {args.threads} thread(s), torch {torch.__version__}; PSNR dB; "
          f"static = mean frame, g/o = gain/offset of the mean frame; shares motion/appearance/residual")
    print(f"{'clip':24} {'static':>6} {'g/o':>5} | {'before':>6} {'m.idx':>5} {'s':>5} | "
          f"{'after':>6} {'motion':>6} {'appear':>6} {'resid':>6} {'start':>10} {'s':>5}")
    rows = []
    for name, video in clips.items():
        static_db = recon_psnr_db(video, np.broadcast_to(video.mean(axis=0), video.shape))
        flicker_db = recon_psnr_db(video, gain_offset_of_mean_frame(video))
        before, before_s = timed_fit(video, before_config)
        after, after_s = timed_fit(video, after_config)
        before_db = recon_psnr_db(video, before.recon)
        summary = motion_summary(video, after)
        rows.append((static_db, flicker_db, before_db, summary["recon_psnr_db"], before_s, after_s,
                     summary["appearance_share"]))
        print(f"{name[-24:]:24} {static_db:6.1f} {flicker_db:5.1f} | {before_db:6.1f} "
              f"{explained_variation(video, before.recon):5.2f} {before_s:5.2f} | {summary['recon_psnr_db']:6.1f} "
              f"{summary['motion_share']:6.2f} {summary['appearance_share']:6.2f} {summary['residual_share']:6.2f} "
              f"{after.start:>10} {after_s:5.2f}")
    data = np.array(rows)
    print(f"mean PSNR gain over the best static image: before {np.mean(data[:, 2] - data[:, 0]):.1f} dB, "
          f"after {np.mean(data[:, 3] - data[:, 0]):.1f} dB; after - before: min {np.min(data[:, 3] - data[:, 2]):+.1f} "
          f"dB, mean {np.mean(data[:, 3] - data[:, 2]):+.1f} dB")
    better_by_flicker = data[:, 1] > data[:, 2]
    if better_by_flicker.any():
        print(f"clips where gain/offset beat texture+motion before: {int(better_by_flicker.sum())}; after >= g/o on "
              f"{int((data[better_by_flicker, 3] >= data[better_by_flicker, 1]).sum())}, appearance share > 0.5 on "
              f"{int((data[better_by_flicker, 6] > 0.5).sum())}")
    print(f"time per clip: before {data[:, 4].mean():.2f} s, after {data[:, 5].mean():.2f} s "
          f"(ratio {data[:, 5].sum() / data[:, 4].sum():.2f})")


if __name__ == "__main__":
    main()
