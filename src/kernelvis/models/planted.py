"""Planted kernels: tiny models whose kernels have a known, designed preference.

They are the ground truth every stage is checked against (and a sanity check a user can run on
their own set-up). Each unit is a motion-energy unit (Adelson & Bergen): a quadrature pair of
spatiotemporal Gabor filters on luminance, squared and summed, so its channel-mean response is
largest for a grating or texture with the unit's orientation, spatial frequency and drift
(a linear filter alone would have a channel mean that depends only on the clip's mean colour).

Layer ``energy`` (a Conv3d with fixed weights summing each squared pair) holds one channel per unit.
Layer ``gabor`` holds the linear pairs (channels 2k, 2k+1 for unit k).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn

from kernelvis.models.loaded import LoadedModel
from kernelvis.models.preprocessing import Preprocessing


@dataclass(frozen=True)
class PlantedUnit:
    """One energy unit.

    kind: ``drift`` (a Gabor drifting in ``direction_deg`` at ``temporal_freq`` cycles/frame),
    ``static`` (the same 2D Gabor at every time step: a purely spatial kernel), or ``flicker``
    (a counter-phase standing grating: equal energy for both drift directions, no direction).
    ``direction_deg`` follows the README's angle convention (0 = right, 90 = up); for ``static`` and ``flicker``
    it is the direction of the grating's normal.
    """

    kind: str = "drift"
    direction_deg: float = 0.0
    spatial_freq: float = 0.125
    """cycles/px"""
    temporal_freq: float = 0.125
    """cycles/frame; the drift speed is temporal_freq / spatial_freq px/frame."""

    @property
    def speed_px_per_frame(self) -> float:
        return self.temporal_freq / self.spatial_freq if self.kind == "drift" else 0.0


def gabor_pair(unit: PlantedUnit, frames: int, size: int, sigma_px: float | None = None,
               sigma_frames: float | None = None) -> np.ndarray:
    """The quadrature pair of a unit, float32 [2, frames, size, size] (even, odd), unit L2 norm each."""
    sigma_px = sigma_px if sigma_px is not None else size / 5.0
    sigma_frames = sigma_frames if sigma_frames is not None else frames / 3.0
    centre = (size - 1) / 2.0
    t = np.arange(frames, dtype=np.float64) - (frames - 1) / 2.0
    y, x = np.mgrid[0:size, 0:size].astype(np.float64) - centre
    theta = np.radians(unit.direction_deg)
    along = x * np.cos(theta) - y * np.sin(theta)  # position along the direction (y grows downward)
    envelope = np.exp(-(x**2 + y**2) / (2 * sigma_px**2))[None] * np.exp(-t**2 / (2 * sigma_frames**2))[:, None, None]
    spatial_phase = 2 * np.pi * unit.spatial_freq * along[None]
    if unit.kind == "drift":
        # Cross-correlation template of cos(2π(f·u − ω·t)): a pattern moving toward +u.
        phase = spatial_phase - 2 * np.pi * unit.temporal_freq * t[:, None, None]
        pair = [np.cos(phase), np.sin(phase)]
    elif unit.kind == "static":
        pair = [np.cos(spatial_phase).repeat(frames, 0), np.sin(spatial_phase).repeat(frames, 0)]
    elif unit.kind == "flicker":
        temporal = 2 * np.pi * unit.temporal_freq * t[:, None, None]
        pair = [np.cos(spatial_phase) * np.cos(temporal), np.sin(spatial_phase) * np.cos(temporal)]
    else:
        raise ValueError(f"unknown planted unit kind {unit.kind!r}: drift, static or flicker")
    pair = np.stack([envelope * p for p in pair])
    pair -= pair.mean(axis=(1, 2, 3), keepdims=True)  # no response to uniform brightness
    pair /= np.linalg.norm(pair.reshape(2, -1), axis=1).reshape(2, 1, 1, 1)
    return pair.astype(np.float32)


class _Square(nn.Module):
    def forward(self, x):
        return x * x


class PlantedEnergyNet(nn.Module):
    """gabor (Conv3d 3→2K, luminance Gabor pairs) → square → energy (Conv3d 2K→K, sums each pair)."""

    def __init__(self, units: list[PlantedUnit], frames: int = 7, size: int = 15):
        super().__init__()
        self.units = list(units)
        pairs = np.concatenate([gabor_pair(unit, frames, size) for unit in self.units])
        self.gabor = nn.Conv3d(3, 2 * len(self.units), (frames, size, size), bias=False)
        self.square = _Square()
        self.energy = nn.Conv3d(2 * len(self.units), len(self.units), 1, groups=len(self.units), bias=False)
        with torch.no_grad():
            luminance = torch.from_numpy(pairs)[:, None] / 3.0  # same filter on R, G and B
            self.gabor.weight.copy_(luminance.expand(-1, 3, -1, -1, -1))
            self.energy.weight.fill_(1.0)

    def forward(self, x):
        return self.energy(self.square(self.gabor(x)))


def planted_model(units: list[PlantedUnit], frames: int = 16, size: int = 48, kernel_frames: int = 7,
                  kernel_size: int = 15) -> LoadedModel:
    """A loaded planted model taking RGB video in [0, 1] at ``frames``×``size``×``size``."""
    module = PlantedEnergyNet(units, kernel_frames, kernel_size)
    name = "planted"
    return LoadedModel(name=name, module=module, preprocessing=Preprocessing(frames=frames, size=size))


def eight_direction_units(spatial_freq: float = 0.125, temporal_freq: float = 0.125) -> list[PlantedUnit]:
    """Drift units at 0, 45, …, 315 degrees."""
    return [PlantedUnit("drift", float(d), spatial_freq, temporal_freq) for d in range(0, 360, 45)]


class FaultyNet(nn.Module):
    """Kernels with known *properties* rather than preferences, to check that a pipeline records them as
    results: ``conv`` (Conv3d 3→3, 3×7×7, then ReLU as layer ``relu``) holds
    kernel 0: a drifting Gabor (a healthy kernel, prefers 0°);
    kernel 1: all-zero weights and bias (dead: its output never depends on the clip);
    kernel 2: positive weights and a bias of −1000 (silent: negative on every clip in [0, 1])."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv3d(3, 3, (3, 7, 7))
        self.relu = nn.ReLU()
        healthy = gabor_pair(PlantedUnit("drift", 0.0, 0.25, 0.125), 3, 7)[0]
        with torch.no_grad():
            self.conv.weight.zero_()
            self.conv.bias.zero_()
            self.conv.weight[0] = torch.from_numpy(healthy)[None].expand(3, -1, -1, -1) / 3.0
            self.conv.weight[2].fill_(0.01)
            self.conv.bias[2] = -1000.0

    def forward(self, x):
        return self.relu(self.conv(x))


def faulty_model(frames: int = 16, size: int = 48) -> LoadedModel:
    return LoadedModel(name="faulty", module=FaultyNet(), preprocessing=Preprocessing(frames=frames, size=size))


DEPTH_LAYERS = ("conv1", "relu1", "conv2")
"""The layers of :class:`PlantedDepthNet`, shallow to deep."""


class PlantedDepthNet(nn.Module):
    """Drifting-Gabor kernels planted at three layer types (issue 24 item 5), unit k of ``units``:

    - ``conv1`` (Conv3d 3→4K, linear): channel 4k is the unit's even drifting Gabor (on luminance), 4k+1 its
      negative, 4k+2 and 4k+3 the odd Gabor and its negative;
    - ``relu1``: the ReLU of ``conv1`` (channel 4k: the half-wave rectified even Gabor);
    - ``conv2`` (Conv3d 4K→K, 1×3×3, groups K; two layers deep): channel k sums unit k's four rectified
      channels over 3×3 positions, |even| + |odd|, a phase-invariant drift detector.
    Every one prefers the unit's drift (direction, spatial and temporal frequency); see :func:`depth_kernel`."""

    def __init__(self, units: list[PlantedUnit], frames: int = 7, size: int = 15):
        super().__init__()
        self.units = list(units)
        count = len(self.units)
        pairs = np.stack([gabor_pair(unit, frames, size) for unit in self.units])  # [K, 2, T, S, S]
        signed = np.stack([pairs[:, 0], -pairs[:, 0], pairs[:, 1], -pairs[:, 1]], axis=1).reshape(4 * count, frames, size, size)
        self.conv1 = nn.Conv3d(3, 4 * count, (frames, size, size), bias=False)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv3d(4 * count, count, (1, 3, 3), groups=count, bias=False)
        with torch.no_grad():
            self.conv1.weight.copy_((torch.from_numpy(signed)[:, None] / 3.0).expand(-1, 3, -1, -1, -1))
            self.conv2.weight.fill_(1.0 / 9.0)

    def forward(self, x):
        return self.conv2(self.relu1(self.conv1(x)))


def depth_kernel(layer: str, unit: int) -> int:
    """The kernel of ``layer`` of :class:`PlantedDepthNet` that carries unit ``unit`` (its even Gabor below conv2)."""
    if layer not in DEPTH_LAYERS:
        raise ValueError(f"unknown layer {layer!r}: {', '.join(DEPTH_LAYERS)}")
    return int(unit) if layer == "conv2" else 4 * int(unit)


def planted_depth_model(units: list[PlantedUnit], frames: int = 16, size: int = 48, kernel_frames: int = 7,
                        kernel_size: int = 15) -> LoadedModel:
    """A loaded :class:`PlantedDepthNet` taking RGB video in [0, 1] at ``frames``×``size``×``size``."""
    module = PlantedDepthNet(units, kernel_frames, kernel_size)
    return LoadedModel(name="planted_depth", module=module, preprocessing=Preprocessing(frames=frames, size=size))
