"""What a 3TConv kernel says about itself: trajectories and parameter statistics (docs/baselines.md).

The analyses read the *parameters*, not the weights: for every filter the accumulated transform
from slice 0 to slice i gives how the slice content is scaled, rotated and moved over time, and so
the motion the kernel states. The motion a kernel *prefers* can then be compared with what our
decomposition finds in its optimal input (``benchmarks/tconv_agreement.py``).

Conventions (all explicit, as the 3TConv plots flip signs): positions are the kernel-centre content
in px, x right, y down (the README's Conventions); ``scale`` is the content magnification (>1 = grows);
``rotation_deg`` is the content rotation counter-clockwise on screen; directions come from
:mod:`kernelvis.geometry`. Because θ maps output to input, content at k0's point q appears in slice i
at M_i⁻¹ q, with M_i = A_1 ⋯ A_i ("seq" mode) or A_i ("naive" mode).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn

from kernelvis.geometry import direction_deg_of
from kernelvis.models.conv3t import Conv3T

PARAMETERS = ("scale", "rotation_rad", "tx", "ty")


@dataclass(frozen=True)
class Trajectories:
    """Per filter of one layer, over the kT slices (slice 0 = identity)."""

    scale: np.ndarray
    """(C, kT) cumulative content magnification."""
    rotation_deg: np.ndarray
    """(C, kT) cumulative content rotation, counter-clockwise on screen."""
    position_px: np.ndarray
    """(C, kT, 2) where k0's centre content sits in slice t, (x right, y down) px from the centre."""

    @property
    def velocity_px_per_frame(self) -> np.ndarray:
        """(C, 2) mean content velocity (vx, vy) from the first to the last slice."""
        frames = self.position_px.shape[1]
        return (self.position_px[:, -1] - self.position_px[:, 0]) / max(frames - 1, 1)

    @property
    def straightness(self) -> np.ndarray:
        """(C,) |net displacement| / path length: 1 = a straight, one-way path (0 when nothing moves)."""
        steps = np.linalg.norm(np.diff(self.position_px, axis=1), axis=-1).sum(axis=1)
        net = np.linalg.norm(self.position_px[:, -1] - self.position_px[:, 0], axis=-1)
        return np.where(steps > 1e-9, net / np.maximum(steps, 1e-12), 0.0)


def _homogeneous(theta: torch.Tensor) -> torch.Tensor:
    bottom = torch.zeros(*theta.shape[:-2], 1, 3, dtype=theta.dtype)
    bottom[..., 0, 2] = 1.0
    return torch.cat([theta, bottom], dim=-2)


@torch.no_grad()
def trajectories(layer: Conv3T) -> Trajectories:
    """Cumulative scale, rotation and centre path of every filter of a Conv3T layer."""
    theta = _homogeneous(layer.theta().detach().double().cpu())  # (kT-1, C, 3, 3)
    channels = theta.shape[1]
    accumulated = [torch.eye(3, dtype=torch.float64).expand(channels, 3, 3)]
    for matrix in theta:
        accumulated.append(accumulated[-1] @ matrix if layer.mode == "seq" else matrix)
    inverse = torch.linalg.inv(torch.stack(accumulated, dim=1))  # (C, kT, 3, 3): k0 coords -> slice coords
    linear = inverse[..., :2, :2]
    scale = torch.sqrt(torch.abs(torch.linalg.det(linear)))
    # In y-down coordinates a positive matrix angle turns clockwise on screen; report counter-clockwise.
    rotation_deg = -torch.rad2deg(torch.atan2(linear[..., 1, 0], linear[..., 0, 0]))
    rotation_deg = torch.from_numpy(np.degrees(np.unwrap(np.radians(rotation_deg.numpy()), axis=1)))
    kh, kw = layer.kernel_size[1:]
    half_size = torch.tensor([max(kw - 1, 1) / 2.0, max(kh - 1, 1) / 2.0], dtype=torch.float64)
    position_px = inverse[..., :2, 2] * half_size
    return Trajectories(scale.numpy(), rotation_deg.numpy(), position_px.numpy())


def stated_motion(layer: Conv3T) -> dict[str, np.ndarray]:
    """The motion each filter's parameters state: per channel vx, vy, speed (px/frame), direction_deg,
    straightness, final scale and rotation."""
    paths = trajectories(layer)
    velocity = paths.velocity_px_per_frame
    return {
        "vx_px_per_frame": velocity[:, 0],
        "vy_px_per_frame": velocity[:, 1],
        "speed_px_per_frame": np.hypot(velocity[:, 0], velocity[:, 1]),
        "direction_deg": direction_deg_of(velocity[:, 0], velocity[:, 1]),
        "straightness": paths.straightness,
        "final_scale": paths.scale[:, -1],
        "final_rotation_deg": paths.rotation_deg[:, -1],
    }


def conv3t_layers(module: nn.Module) -> dict[str, Conv3T]:
    """Every Conv3T of a model by its ``named_modules`` name, in definition order."""
    return {name: child for name, child in module.named_modules() if isinstance(child, Conv3T)}


@torch.no_grad()
def parameter_distributions(module: nn.Module) -> dict[str, dict[str, np.ndarray]]:
    """Per Conv3T layer, the flattened values of each transformation parameter (scale, rotation_rad, tx, ty)."""
    return {name: {parameter: getattr(layer, parameter).detach().cpu().numpy().ravel().astype(np.float64)
                   for parameter in PARAMETERS}
            for name, layer in conv3t_layers(module).items()}


def distribution_summary(distributions: dict[str, dict[str, np.ndarray]]) -> dict[str, dict[str, dict[str, float]]]:
    """mean, std, min, max of every parameter per layer, plus ``all`` pooled over layers."""
    def stats(values: np.ndarray) -> dict[str, float]:
        return {"mean": float(values.mean()), "std": float(values.std()), "min": float(values.min()),
                "max": float(values.max()), "count": int(values.size)}

    summary = {layer: {parameter: stats(values) for parameter, values in params.items()}
               for layer, params in distributions.items()}
    if distributions:
        summary["all"] = {parameter: stats(np.concatenate([params[parameter] for params in distributions.values()]))
                          for parameter in PARAMETERS}
    return summary
