"""kernelvis.optimizers reproduce torch.optim's iterates bit for bit (they exist only to skip its import cost)."""

import math

import pytest
import torch

from kernelvis.optimizers import Adam, MomentumSGD, cosine_decay, linear_decay


def _loss(tensor: torch.Tensor) -> torch.Tensor:
    # non-convex and badly scaled, so the per-coordinate second moments differ a lot
    return (torch.sin(3 * tensor) * torch.linspace(0.01, 5.0, tensor.numel()).view_as(tensor)).sum() + tensor.pow(4).sum()


def _run(make_ours, make_theirs, steps: int = 60, schedule=None):
    start = torch.randn(2, 3, 4, 5, generator=torch.Generator().manual_seed(3))
    ours, theirs = start.clone().requires_grad_(True), start.clone().requires_grad_(True)
    ours_optimizer, theirs_optimizer = make_ours(ours), make_theirs(theirs)
    for step in range(steps):
        if schedule is not None:
            ours_optimizer.lr = schedule(step)
            for group in theirs_optimizer.param_groups:
                group["lr"] = schedule(step)
        for tensor, optimizer in ((ours, ours_optimizer), (theirs, theirs_optimizer)):
            optimizer.zero_grad()
            _loss(tensor).backward()
            optimizer.step()
    return ours.detach(), theirs.detach()


def test_adam_matches_torch_adam_bit_for_bit_under_a_schedule():
    ours, theirs = _run(lambda t: Adam(t, lr=0.05), lambda t: torch.optim.Adam([t], lr=0.05),
                        schedule=lambda step: linear_decay(0.05, step, 60))
    assert torch.equal(ours, theirs)
    assert not torch.equal(ours, torch.randn(2, 3, 4, 5, generator=torch.Generator().manual_seed(3)))


def test_momentum_sgd_matches_torch_sgd_bit_for_bit():
    ours, theirs = _run(lambda t: MomentumSGD(t, lr=0.002, momentum=0.9),
                        lambda t: torch.optim.SGD([t], lr=0.002, momentum=0.9))
    assert torch.equal(ours, theirs)


def test_schedules_start_at_the_base_rate_and_end_at_their_floor():
    assert linear_decay(0.1, 0, 100) == pytest.approx(0.1) and linear_decay(0.1, 100, 100) == pytest.approx(0.005)
    assert cosine_decay(0.1, 0, 50) == pytest.approx(0.1) and cosine_decay(0.1, 50, 50) == pytest.approx(0.001)
    assert cosine_decay(0.1, 25, 50) == pytest.approx((0.1 + 0.001) / 2)
    assert not math.isnan(linear_decay(0.1, 0, 0))


def test_a_step_without_a_gradient_leaves_the_tensor_alone():
    tensor = torch.ones(3, requires_grad=True)
    for optimizer in (Adam(tensor, lr=1.0), MomentumSGD(tensor, lr=1.0)):
        optimizer.step()
    assert torch.equal(tensor.detach(), torch.ones(3))
