"""Is a kernel's output an affine function of the pixels? Is it constant (a dead kernel)?

Why it matters: where the map from the clip to a layer is affine (a first convolution, a (2+1)D pair
with nothing between its halves, a convolution after a BatchNorm of the input), the mean of a kernel's
map over all positions is (sum of its weights) × (mean input) plus border terms. Maximizing it teaches
nothing about the kernel: the optimum is a uniform clip of the right colour. There the default
objective is the mean of the map's positive part (``rectified``), which does depend on the kernel's
spatiotemporal pattern; see docs/methods.md ("Well-posed objectives").

Both properties are measured numerically, not read off the architecture, so they hold for any model:
superposition on random clips (an affine map sends the midpoint of two clips to the midpoint of their
outputs; a bias keeps it affine) and sameness of the output across very different clips.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from kernelvis.models.layers import run_to_layer

AFFINE_TOLERANCE = 1e-4
"""Relative superposition error under which a kernel counts as affine (float32 round-off is ~1e-6;
one ReLU in the path gives errors of order 1e-1)."""
CONSTANT_TOLERANCE = 1e-6
"""Relative spread of the output across probe clips under which a kernel counts as dead."""
PROBES = 3
"""Random clips per probe; with their midpoints and a uniform grey clip."""


@dataclass(frozen=True)
class KernelProbe:
    affine: bool
    """The kernel's output is an affine function of the clip (within AFFINE_TOLERANCE)."""
    dead: bool
    """The kernel's output does not depend on the clip at all."""
    superposition_error: float
    """max |f((x+y)/2) − (f(x)+f(y))/2| / max |f(x) − f(y)| over probe pairs (0 for a dead kernel)."""
    output_spread: float
    """max |f(x) − f(y)| over probe clips, in the layer's units."""
    output_scale: float
    """max |f(x)| over probe clips, in the layer's units."""

    def as_dict(self) -> dict:
        return {"affine": self.affine, "dead": self.dead, "superposition_error": self.superposition_error,
                "output_spread": self.output_spread, "output_scale": self.output_scale}


@torch.no_grad()
def probe_kernels(module: torch.nn.Module, layer: str, kernels: list[int], preprocessing, clip_shape: tuple[int, int, int],
                  seed: int = 0, device: str | torch.device = "cpu") -> list[KernelProbe]:
    """Probe ``kernels`` of ``layer`` on ``PROBES`` uniform-noise clips of ``clip_shape`` (T, H, W) in [0, 1],
    their pairwise midpoints and a mid-grey clip: one forward pass, stopped at the layer."""
    generator = torch.Generator().manual_seed(int(seed) ^ 0x11EA4)
    frames, height, width = clip_shape
    clips = torch.rand((PROBES, 3, frames, height, width), generator=generator)
    pairs = [(i, j) for i in range(PROBES) for j in range(i + 1, PROBES)]
    midpoints = torch.stack([(clips[i] + clips[j]) / 2 for i, j in pairs])
    grey = torch.full((1, 3, frames, height, width), 0.5)
    batch = torch.cat([clips, midpoints, grey]).to(device)
    was_training = module.training
    module.eval()
    try:
        output = run_to_layer(module, layer, preprocessing(batch)).double().cpu()
    finally:
        module.train(was_training)
    probes = []
    for kernel in kernels:
        maps = output[:, kernel].flatten(1)
        noise_maps, mid_maps = maps[:PROBES], maps[PROBES:PROBES + len(pairs)]
        spread = max(float((maps[a] - maps[b]).abs().max()) for a in range(len(maps)) for b in range(a + 1, len(maps)))
        scale = float(maps.abs().max())
        dead = spread <= CONSTANT_TOLERANCE * max(scale, 1.0)
        if dead:
            error = 0.0
        else:
            errors = [float((mid_maps[n] - (noise_maps[i] + noise_maps[j]) / 2).abs().max())
                      / max(float((noise_maps[i] - noise_maps[j]).abs().max()), 1e-30) for n, (i, j) in enumerate(pairs)]
            error = max(errors)
        probes.append(KernelProbe(affine=error <= AFFINE_TOLERANCE, dead=dead, superposition_error=error,
                                  output_spread=spread, output_scale=scale))
    return probes


def resolve_objective(requested: str, probe: KernelProbe) -> str:
    """``auto`` -> ``rectified`` on an affine kernel, ``channel`` (the paper's) elsewhere; any other name as is."""
    if requested != "auto":
        return requested
    return "rectified" if probe.affine and not probe.dead else "channel"
