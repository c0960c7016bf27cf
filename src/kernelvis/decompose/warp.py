"""Backward warping in pixel units: ``out(p) = image(p + displacement(p))``.

All sampling in stage 2 goes through :func:`sample_at_px`: coordinates are pixel positions
``(x, y)`` (x = column, y = row, y down), converted to ``grid_sample``'s normalized grid with
``align_corners=True`` so pixel centre ``i`` maps exactly to ``-1 + 2 i / (size - 1)``. Every frame of
every clip is sampled by ONE ``grid_sample`` call (frames are stacked along the grid's height),
which is what makes the fit fast on CPU and GPU alike (the paper code loops over frames in Python).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def pixel_grid(height: int, width: int, device=None, dtype=torch.float32) -> torch.Tensor:
    """Pixel coordinates ``(H, W, 2)`` holding ``(x, y)`` of every pixel centre."""
    ys = torch.arange(height, device=device, dtype=dtype)
    xs = torch.arange(width, device=device, dtype=dtype)
    grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([grid_x, grid_y], dim=-1)


def sample_at_px(image: torch.Tensor, coords_px: torch.Tensor, padding_mode: str = "border") -> torch.Tensor:
    """Bilinearly sample ``image`` (B, C, Hi, Wi) at pixel coordinates ``coords_px`` (B, Ho, Wo, 2) (x, y).

    Returns (B, C, Ho, Wo). Differentiable in both arguments.
    """
    height, width = image.shape[-2:]
    scale = coords_px.new_tensor([2.0 / max(width - 1, 1), 2.0 / max(height - 1, 1)])
    grid = coords_px * scale - 1.0
    return F.grid_sample(image, grid, mode="bilinear", padding_mode=padding_mode, align_corners=True)


def inside_mask(coords_px: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """1 where ``coords_px`` (..., 2) falls inside an image of the given size, else 0 (same dtype)."""
    x, y = coords_px[..., 0], coords_px[..., 1]
    inside = (x >= 0) & (x <= width - 1) & (y >= 0) & (y <= height - 1)
    return inside.to(coords_px.dtype)


def warp_static(static_canvas: torch.Tensor, displacement: torch.Tensor, margin_px: int) -> torch.Tensor:
    """Render the clip ``V_t(p) = I(p + D_t(p))`` from a static canvas, all frames in one call.

    static_canvas: (N, 3, Hc, Wc), the static image I on a canvas ``margin_px`` larger than the
        frame on every side (frame pixel p sits at canvas pixel p + margin_px).
    displacement: (T, H, W, 2) shared by all N canvases, or (N, T, H, W, 2); (dx, dy) in px.
    Returns (N, 3, T, H, W). Differentiable in the canvas and the displacement.
    """
    if displacement.ndim not in (4, 5) or displacement.shape[-1] != 2:
        raise ValueError(f"displacement must be (T, H, W, 2) or (N, T, H, W, 2), got {tuple(displacement.shape)}")
    frames, height, width = displacement.shape[-4:-1]
    coords = pixel_grid(height, width, displacement.device, displacement.dtype) + displacement + float(margin_px)
    batch, channels = static_canvas.shape[:2]
    if displacement.ndim == 4:
        # One displacement for every canvas: fold canvases into channels, frames into the grid's height.
        canvas = static_canvas.reshape(1, batch * channels, *static_canvas.shape[-2:])
        out = sample_at_px(canvas, coords.reshape(1, frames * height, width, 2))
    else:
        out = sample_at_px(static_canvas, coords.reshape(batch, frames * height, width, 2))
    return out.reshape(batch, channels, frames, height, width)


def warp_frames(frames: torch.Tensor, displacement: torch.Tensor, padding_mode: str = "border") -> torch.Tensor:
    """``out_i(p) = frames_i(p + displacement_i(p))`` for a batch of images (B, C, H, W) and
    displacements (B, H, W, 2) of the same size. Returns (B, C, H, W)."""
    height, width = frames.shape[-2:]
    coords = pixel_grid(height, width, displacement.device, displacement.dtype) + displacement
    return sample_at_px(frames, coords, padding_mode=padding_mode)
