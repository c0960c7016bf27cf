"""FlatConv3d computes exactly what nn.Conv3d computes (it only picks a faster 2D kernel)."""

import pytest
import torch
import torch.nn as nn

from kernelvis.models.flat_conv import FlatConv3d

CASES = [
    dict(kernel_size=(1, 3, 3), padding=(0, 1, 1)),                                       # TransNetV2 spatial
    dict(kernel_size=(3, 1, 1), padding=(4, 0, 0), dilation=(4, 1, 1), bias=True),        # TransNetV2 temporal
    dict(kernel_size=(1, 5, 3), stride=(1, 2, 1), padding=(0, 2, 0), dilation=(1, 1, 2), groups=2),
    dict(kernel_size=(5, 1, 1), stride=(2, 1, 1), padding=(1, 0, 0), bias=False),
    dict(kernel_size=(3, 3, 3), padding=1),                                                # not flat: Conv3d's own path
    dict(kernel_size=(1, 3, 3), padding=(1, 1, 1)),                                        # pads time: Conv3d's own path
]


@pytest.mark.parametrize("options", CASES)
def test_flat_conv_matches_conv3d_forward_and_backward(options):
    torch.manual_seed(0)
    reference = nn.Conv3d(4, 6, **options)
    flat = FlatConv3d(4, 6, **options)
    flat.load_state_dict(reference.state_dict())
    x = torch.randn(2, 4, 9, 11, 13)
    x_reference, x_flat = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    y_reference, y_flat = reference(x_reference), flat(x_flat)
    assert y_flat.shape == y_reference.shape
    torch.testing.assert_close(y_flat, y_reference, atol=1e-5, rtol=1e-5)
    weights = torch.randn_like(y_reference)
    (y_reference * weights).sum().backward()
    (y_flat * weights).sum().backward()
    torch.testing.assert_close(x_flat.grad, x_reference.grad, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(flat.weight.grad, reference.weight.grad, atol=1e-4, rtol=1e-4)
    assert isinstance(flat, nn.Conv3d)


@pytest.mark.parametrize("options", CASES[:4])
def test_flat_kernels_never_reach_the_3d_convolution(options, monkeypatch):
    flat = FlatConv3d(4, 6, **options)

    def no_3d(*args, **kwargs):
        raise AssertionError("a flat kernel went through conv3d")

    monkeypatch.setattr(torch.nn.functional, "conv3d", no_3d)
    flat(torch.randn(1, 4, 9, 11, 13)).sum().backward()
