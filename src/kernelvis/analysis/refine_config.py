"""The texture/motion optimization's settings, in a module without torch, so that building the command
line stays instant."""

from __future__ import annotations

from dataclasses import dataclass


PHASES = ("texture", "motion")


@dataclass(frozen=True)
class RefineConfig:
    steps: int = 60
    """Optimizer steps of each texture or motion optimization (0: only evaluate the start)."""
    rounds: int = 1
    """How many times the texture-then-motion pair runs (alternation)."""
    phases: tuple[str, ...] = PHASES
    """Which optimizations a round runs, in order (``texture``, ``motion`` or both)."""
    texture_lr: float = 0.02
    """Adam step on texture values in [0, 1]."""
    motion_lr_px: float = 0.05
    """Step of the motion optimization (momentum SGD on the RMS-normalized gradient), px per frame."""
    texture_tv_weight: float = 0.05
    """Weight of TV(I) relative to the start activation."""
    motion_smoothness_weight: float = 0.05
    """Weight of the spatial smoothness of D relative to the start activation."""
    motion_speed_weight: float = 0.5
    """Weight of the mean squared speed (px/frame)², relative to the start activation: a slow-motion
    prior. Motion along a texture's stripes does not change what the kernel sees (the aperture
    problem); stage 2 may report such a component and the optimization could add one freely. The
    prior removes what the kernel does not pay for, leaving the normal motion the kernel prefers."""
    motion_from_rest: bool = True
    """Also start the motion optimization from rest (D = 0), batched with the start from stage 2's motion.
    Stage 2 may report motion the kernel does not care about (along a grating's stripes); from rest the
    kernel's own motion is found. The better regularized objective wins, never at a lower activation."""
    motion_grid: int = 4
    """Motion changes live on a ``motion_grid``×``motion_grid`` grid of control points, bilinearly
    interpolated to the frame (1: one translation per frame; 0: one per pixel). A coarse grid keeps
    the change a smooth motion: with one vector per pixel the kernel is better served by local
    distortions of the texture than by motion."""
    objective: str = "channel"
    preprocessing: str = "native"
    """``native`` or ``paper``: as stage 1 was run (see :func:`kernelvis.optimize.api.model_preprocessing`)."""
    device: str = "cpu"
