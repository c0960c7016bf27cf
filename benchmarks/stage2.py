"""Stage 2 speed and accuracy: ours vs the shape of the paper's decomposer, same clips, same machine.

Clips: smooth textures translating with known velocity (directions and speeds spread over 0-315 deg,
0.5-3 px/frame), 16 frames of 64x64. Measured per clip: seconds and interior end-point error of the
velocity (px/frame, frames 1..T-1) against the ground truth, and reconstruction PSNR.

"paper shape" re-creates how the authors' code fits (docs/stage2.md): static image and per-frame flow
increments initialized at N(0, 0.01²), D_t the cumulative sum of the increments, one grid_sample per
frame in a Python loop, its four losses with weight 1 (MSE, TV of the flow along H, W and T, TV of I,
MSE of I to frame 0) on the clip in [-0.5, 0.5], Adam lr 0.1, a fixed 2000 steps, but with the warp
done correctly (no re-normalized grid, no x/y swap), so it is the method's shape and not its bugs
that is timed. Velocities of both come from D by the same conversion.

Usage: python benchmarks/stage2.py [--n-clips 4] [--paper-steps 2000] [--threads 1] [--device cpu]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from kernelvis.data.synthetic import translating_texture
from kernelvis.decompose.fit import DecomposeConfig, decompose_videos
from kernelvis.decompose.flow import velocity_from_displacement
from kernelvis.decompose.stats import interior_mask, recon_psnr_db
from kernelvis.decompose.warp import pixel_grid, sample_at_px

DIRECTIONS_DEG = [0, 45, 90, 135, 180, 225, 270, 315]
SPEEDS_PX_PER_FRAME = [0.5, 0.85, 1.2, 1.55, 1.9, 2.25, 2.6, 3.0]


def paper_shape_decompose(video: np.ndarray, steps: int, seed: int = 0, device: str = "cpu"):
    """(displacement [T,H,W,2] px, recon [T,H,W,3] in [0,1]) fitted the way the paper's code does."""
    generator = torch.Generator().manual_seed(seed)
    frames, height, width, _ = video.shape
    target = torch.from_numpy(video).to(device).permute(3, 0, 1, 2)[None] - 0.5  # (1, 3, T, H, W)
    static = (0.01 * torch.randn(1, 3, height, width, generator=generator)).to(device).requires_grad_(True)
    increments = (0.01 * torch.randn(frames, 2, height, width, generator=generator)).to(device).requires_grad_(True)
    size_px = torch.tensor([width, height], dtype=torch.float32, device=device).view(1, 2, 1, 1)
    grid = pixel_grid(height, width, device=device)[None]
    optimizer = torch.optim.Adam([static, increments], lr=0.1)

    def tv(x, dims):
        return sum((x.diff(dim=d)).abs().mean() for d in dims)

    for _ in range(steps):
        displacement = torch.cumsum(increments * size_px, dim=0).permute(0, 2, 3, 1)  # (T, H, W, 2) px
        recon = torch.stack([sample_at_px(static, grid + displacement[t:t + 1])[0] for t in range(frames)], dim=1)[None]
        loss = (((recon - target) ** 2).mean() + tv(increments, (0, 2, 3)) + tv(static, (2, 3))
                + ((static - target[:, :, 0]) ** 2).mean())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        displacement = torch.cumsum(increments * size_px, dim=0).permute(0, 2, 3, 1)
        recon = torch.stack([sample_at_px(static, grid + displacement[t:t + 1])[0] for t in range(frames)], dim=1)
    return displacement.cpu().numpy(), (recon.permute(1, 2, 3, 0) + 0.5).clamp(0, 1).cpu().numpy()


def clock() -> float:
    """CPU seconds of this process: on a shared machine, wall time mostly measures the neighbours.
    (With --threads > 1 this sums over threads; compare like with like.)"""
    return time.process_time()


def interior_epe(velocity: np.ndarray, truth: np.ndarray) -> float:
    inside = interior_mask(*truth.shape[1:3]).astype(bool)
    return float(np.linalg.norm(velocity[1:] - truth[1:], axis=-1)[:, inside].mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-clips", type=int, default=4, help="synthetic clips to decompose")
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--paper-steps", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    stimuli = [translating_texture(args.frames, args.size, DIRECTIONS_DEG[i % 8], SPEEDS_PX_PER_FRAME[i % 8], seed=i)
               for i in range(args.n_clips)]
    videos = np.stack([s.video for s in stimuli])
    config = DecomposeConfig(device=args.device)
    decompose_videos(videos[:1, :4], config)  # warm-up (allocator, first-call overheads)

    print(f"# CPU seconds per clip; {args.n_clips} clips of {args.frames}x{args.size}x{args.size}, {args.threads} thread(s), {args.device}; "
          f"torch {torch.__version__}")
    print(f"{'clip':>4} {'dir':>4} {'px/f':>5} | {'ours s':>7} {'EPE':>6} {'PSNR':>5} | "
          f"{'paper s':>8} {'EPE':>6} {'PSNR':>5}")
    rows = []
    for index, stimulus in enumerate(stimuli):
        start = clock()
        (ours,) = decompose_videos(stimulus.video[None], config)
        ours_s = clock() - start
        start = clock()
        displacement, recon = paper_shape_decompose(stimulus.video, args.paper_steps, seed=index, device=args.device)
        paper_s = clock() - start
        paper_velocity = velocity_from_displacement(torch.from_numpy(displacement)[None])[0].numpy()
        row = (ours_s, interior_epe(ours.velocity, stimulus.velocity), recon_psnr_db(stimulus.video, ours.recon),
               paper_s, interior_epe(paper_velocity, stimulus.velocity), recon_psnr_db(stimulus.video, recon))
        rows.append(row)
        print(f"{index:>4} {DIRECTIONS_DEG[index % 8]:>4} {SPEEDS_PX_PER_FRAME[index % 8]:>5.2f} | "
              f"{row[0]:>7.2f} {row[1]:>6.3f} {row[2]:>5.1f} | {row[3]:>8.2f} {row[4]:>6.3f} {row[5]:>5.1f}")
    start = clock()
    decompose_videos(videos, config)
    batched_s = (clock() - start) / len(stimuli)
    mean = np.mean(rows, axis=0)
    print(f"mean: ours {mean[0]:.2f} s/clip (batched {batched_s:.2f} s/clip), EPE {mean[1]:.3f} px/frame, "
          f"PSNR {mean[2]:.1f} dB | paper shape {mean[3]:.2f} s/clip, EPE {mean[4]:.3f} px/frame, PSNR {mean[5]:.1f} dB")
    print(f"ratios: speed-up {mean[3] / mean[0]:.1f}x one clip at a time, {mean[3] / batched_s:.1f}x batched; "
          f"EPE paper/ours {mean[4] / max(mean[1], 1e-9):.1f}x")


if __name__ == "__main__":
    main()
