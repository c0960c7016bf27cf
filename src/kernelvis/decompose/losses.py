"""Stage 2 loss terms (docs/stage2.md), as means so their weights do not depend on the clip size.

The paper sums four terms with weight 1: reconstruction, TV of the displacements, TV of the static
image and closeness of the static image to a reference frame. Here each is a function; the fit
chooses the weights (``DecomposeConfig``) and the TV of D is spatial only, per frame (the paper's
formula; its code also smoothed across time, which blurs the motion's onset and is not copied).
"""

from __future__ import annotations

import torch

CHARBONNIER_EPS = 1e-3
"""Below this difference (px or intensity) TV is quadratic: keeps the gradient defined at 0."""


def total_variation(field: torch.Tensor) -> torch.Tensor:
    """Mean Charbonnier-smoothed absolute difference between neighbours along the last two axes
    (rows, columns) of ``field`` (..., H, W)."""
    d_rows = field[..., 1:, :] - field[..., :-1, :]
    d_cols = field[..., :, 1:] - field[..., :, :-1]
    eps2 = CHARBONNIER_EPS ** 2
    return torch.sqrt(d_rows * d_rows + eps2).mean() + torch.sqrt(d_cols * d_cols + eps2).mean() - 2 * CHARBONNIER_EPS


def masked_mse(prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean squared error over the entries where ``mask`` (broadcastable, 0/1) is 1."""
    squared = (prediction - target) ** 2
    if mask is None:
        return squared.mean()
    mask = mask.expand_as(squared)
    return (squared * mask).sum() / mask.sum().clamp_min(1.0)
