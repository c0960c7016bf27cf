"""Adam with one step size per vector, not per coordinate, and a linearly decaying rate.

Plain Adam rescales every coordinate on its own, which turns the gradient's direction: for a
grating, whose frames constrain only the motion normal to its stripes (the aperture problem), the
flow's along-stripe component gets steps as large as the normal one and drifts off, so the
recovered direction swings toward the image axes. Sharing the second moment across a vector's
components (the (dx, dy) of a pixel, the colour of a canvas pixel) keeps each pixel's step along its
gradient, so what the frames do not constrain stays where it started (zero), while pixels of low
and high contrast still converge at the same pace. The rate falls linearly to 5 %: at a constant
rate Adam keeps jittering by about the rate, which would floor the end-point error.
"""

from __future__ import annotations

import torch


class VectorAdam:
    """Minimal Adam over ``(tensor, vector_dim)`` pairs; ``vector_dim`` None means per coordinate.
    A third element, if given, multiplies the rate for that tensor (parameters in other units)."""

    def __init__(self, groups: list[tuple], lr: float, steps: int,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-12):
        self.rate_scales = [group[2] if len(group) > 2 else 1.0 for group in groups]
        groups = [tuple(group[:2]) for group in groups]
        self.groups = groups
        self.lr, self.steps, self.betas, self.eps = lr, max(steps, 1), betas, eps
        self.first = [torch.zeros_like(tensor) for tensor, _ in groups]
        self.second = [torch.zeros_like(tensor if dim is None else tensor.narrow(dim, 0, 1)) for tensor, dim in groups]
        self.count = 0

    @torch.no_grad()
    def step(self) -> None:
        beta1, beta2 = self.betas
        lr = self.lr * (1.0 - 0.95 * self.count / self.steps)
        self.count += 1
        for (tensor, dim), first, second, rate_scale in zip(self.groups, self.first, self.second, self.rate_scales):
            grad = tensor.grad
            if grad is None:
                continue
            first.mul_(beta1).add_(grad, alpha=1 - beta1)
            squared = grad.square() if dim is None else grad.square().sum(dim=dim, keepdim=True)
            second.mul_(beta2).add_(squared, alpha=1 - beta2)
            first_hat = first / (1 - beta1 ** self.count)
            second_hat = second / (1 - beta2 ** self.count)
            tensor.sub_(lr * rate_scale * first_hat / (second_hat.sqrt() + self.eps))
            tensor.grad = None
