"""Adam and momentum SGD on a single tensor, with the same update arithmetic as ``torch.optim`` on the CPU.

Why not ``torch.optim``: constructing any of its optimizers imports ``torch._dynamo`` (about 1.4 s on the
2-core reference machine), and every pipeline job that optimizes something (stage 1, refinement, suppression,
inversion) is a fresh process, so the default run paid that dozens of times. These two are the updates the
pipeline uses, written out; ``tests/test_optimizers.py`` checks they give bit-for-bit the iterates of
``torch.optim.Adam`` and ``torch.optim.SGD(momentum=...)``. The learning rate is a plain attribute: a schedule
sets ``optimizer.lr`` before a step.
"""

from __future__ import annotations

import math

import torch


class _OneTensor:
    """What both optimizers share: the tensor, its rate, clearing its gradient, and a step that skips when there
    is no gradient (``_update`` gets a gradient that exists, under no_grad)."""

    def __init__(self, tensor: torch.Tensor, lr: float):
        self.tensor, self.lr = tensor, lr

    def zero_grad(self) -> None:
        self.tensor.grad = None

    @torch.no_grad()
    def step(self) -> None:
        if self.tensor.grad is not None:
            self._update(self.tensor.grad)

    def _update(self, grad: torch.Tensor) -> None:
        raise NotImplementedError


class Adam(_OneTensor):
    """Adam (Kingma & Ba) on one tensor, torch's defaults (betas 0.9/0.999, eps 1e-8, no weight decay)."""

    def __init__(self, tensor: torch.Tensor, lr: float, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8):
        super().__init__(tensor, lr)
        self.betas, self.eps = betas, eps
        self.first = torch.zeros_like(tensor, memory_format=torch.preserve_format)
        self.second = torch.zeros_like(tensor, memory_format=torch.preserve_format)
        self.count = 0

    def _update(self, grad: torch.Tensor) -> None:
        beta1, beta2 = self.betas
        self.count += 1
        self.first.lerp_(grad, 1 - beta1)
        self.second.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        step_size = self.lr / (1 - beta1 ** self.count)
        denominator = (self.second.sqrt() / (1 - beta2 ** self.count) ** 0.5).add_(self.eps)
        self.tensor.addcdiv_(self.first, denominator, value=-step_size)


class MomentumSGD(_OneTensor):
    """SGD with heavy-ball momentum on one tensor (torch's ``SGD(momentum=m)``: no dampening, not Nesterov)."""

    def __init__(self, tensor: torch.Tensor, lr: float, momentum: float = 0.9):
        super().__init__(tensor, lr)
        self.momentum = momentum
        self.velocity: torch.Tensor | None = None

    def _update(self, grad: torch.Tensor) -> None:
        if self.velocity is None:
            self.velocity = grad.detach().clone()
        else:
            self.velocity.mul_(self.momentum).add_(grad)
        self.tensor.add_(self.velocity, alpha=-self.lr)


def linear_decay(base_lr: float, step: int, steps: int, final_fraction: float = 0.05) -> float:
    """The rate at ``step`` of a linear fall from ``base_lr`` to ``final_fraction`` of it over ``steps``."""
    return base_lr * (1.0 - (1.0 - final_fraction) * step / max(steps, 1))


def cosine_decay(base_lr: float, step: int, steps: int, final_fraction: float = 0.01) -> float:
    """The rate at ``step`` of a half-cosine from ``base_lr`` to ``final_fraction`` of it over ``steps``."""
    floor = base_lr * final_fraction
    return floor + (base_lr - floor) * (1 + math.cos(math.pi * min(step, steps) / max(steps, 1))) / 2
