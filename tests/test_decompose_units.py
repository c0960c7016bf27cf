"""Stage 2 building blocks against closed-form answers: warp, chaining, velocity, statistics."""

import numpy as np
import pytest
import torch

from kernelvis.decompose.flow import chain_displacements, velocity_from_displacement
from kernelvis.decompose.stats import explained_variation, recon_psnr_db
from kernelvis.decompose.warp import pixel_grid, warp_static


def test_warp_static_samples_the_canvas_at_p_plus_displacement():
    margin, height, width = 3, 5, 6
    canvas = torch.arange(2 * 3 * 11 * 12, dtype=torch.float32).reshape(2, 3, 11, 12)
    displacement = torch.zeros(4, height, width, 2)
    displacement[1, ..., 0] = 2.0    # frame 1 samples 2 px to the right
    displacement[2, ..., 1] = -1.0   # frame 2 samples 1 px up
    displacement[3] = 0.5            # frame 3 half way between 4 canvas pixels
    out = warp_static(canvas, displacement, margin)
    assert out.shape == (2, 3, 4, height, width)
    crop = canvas[..., margin:margin + height, margin:margin + width]
    torch.testing.assert_close(out[:, :, 0], crop)
    torch.testing.assert_close(out[:, :, 1], canvas[..., margin:margin + height, margin + 2:margin + 2 + width])
    torch.testing.assert_close(out[:, :, 2], canvas[..., margin - 1:margin - 1 + height, margin:margin + width])
    four = canvas[..., margin:margin + height + 1, margin:margin + width + 1]
    average = (four[..., :-1, :-1] + four[..., 1:, :-1] + four[..., :-1, 1:] + four[..., 1:, 1:]) / 4
    torch.testing.assert_close(out[:, :, 3], average)


def test_warp_static_shared_and_per_canvas_displacements_agree_and_are_differentiable():
    generator = torch.Generator().manual_seed(0)
    canvas = torch.rand(3, 3, 14, 14, generator=generator, requires_grad=True)
    displacement = (torch.rand(5, 8, 8, 2, generator=generator) * 4 - 2).requires_grad_(True)
    shared = warp_static(canvas, displacement, 3)
    per_canvas = warp_static(canvas, displacement.unsqueeze(0).expand(3, -1, -1, -1, -1), 3)
    torch.testing.assert_close(shared, per_canvas)
    shared.square().sum().backward()
    assert canvas.grad.abs().sum() > 0 and displacement.grad.abs().sum() > 0


def test_chaining_constant_flow_gives_linear_displacements_and_constant_velocity():
    flow = torch.zeros(1, 5, 16, 16, 2)
    flow[..., 0], flow[..., 1] = -1.5, 0.5      # content moves by (+1.5, -0.5) px per frame
    displacement = chain_displacements(flow)
    expected = torch.arange(6, dtype=torch.float32).view(1, 6, 1, 1, 1) * torch.tensor([-1.5, 0.5])
    torch.testing.assert_close(displacement, expected.expand_as(displacement))
    velocity = velocity_from_displacement(displacement)
    assert torch.all(velocity[:, 0] == 0)
    torch.testing.assert_close(velocity[:, 1:], torch.tensor([1.5, -0.5]).expand_as(velocity[:, 1:]))


def test_velocity_of_a_rotation_is_exact_to_second_order():
    # I rotated by t*omega about the centre: D_t(p) = R(-t omega)(p - c) + c - p.
    size, omega = 33, np.radians(4.0)
    grid = pixel_grid(size, size, dtype=torch.float64) - (size - 1) / 2
    frames = []
    for t in range(4):
        angle = -t * omega
        rotated = torch.stack([np.cos(angle) * grid[..., 0] - np.sin(angle) * grid[..., 1],
                               np.sin(angle) * grid[..., 0] + np.cos(angle) * grid[..., 1]], dim=-1)
        frames.append(rotated - grid)
    velocity = velocity_from_displacement(torch.stack(frames)[None])[0]
    # content at p moved from R(-omega) p: exact velocity p - R(-omega) p
    back = torch.stack([np.cos(-omega) * grid[..., 0] - np.sin(-omega) * grid[..., 1],
                        np.sin(-omega) * grid[..., 0] + np.cos(-omega) * grid[..., 1]], dim=-1)
    inner = slice(4, -4)
    torch.testing.assert_close(velocity[1:, inner, inner], (grid - back)[inner, inner].expand(3, -1, -1, -1),
                               atol=2e-3, rtol=0)


def test_explained_variation_and_psnr_definitions():
    rng = np.random.default_rng(0)
    video = rng.random((6, 8, 8, 3)).astype(np.float32)
    assert explained_variation(video, video) == pytest.approx(1.0, abs=1e-3)  # everything explained (up to the floor)
    mean = np.broadcast_to(video.mean(axis=0), video.shape)
    assert explained_variation(video, mean) == pytest.approx(0.0, abs=1e-6)  # no better than a static image
    static = np.broadcast_to(video[:1], video.shape)
    assert explained_variation(static, static) == 0.0                        # no temporal variation at all
    assert recon_psnr_db(video, video) == 100.0
    assert recon_psnr_db(video, np.clip(video + 0.1, -1, 2)) == pytest.approx(20.0)
