"""The one owner of the angle convention (the README's Conventions).

Velocities are ``(vx, vy)`` in px/frame with x to the right and y *down* (image rows).
Angles are degrees counter-clockwise from screen-right with screen-up = 90°, in [0, 360):
``direction_deg = atan2(-vy, vx)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def direction_deg_of(vx, vy):
    """Angle(s) in degrees [0, 360) of velocity components (x right, y down)."""
    return np.mod(np.degrees(np.arctan2(-np.asarray(vy, dtype=np.float64), np.asarray(vx, dtype=np.float64))), 360.0)


def unit_velocity(direction_deg: float) -> tuple[float, float]:
    """The (vx, vy) unit vector of a direction, y down."""
    radians = np.radians(direction_deg)
    return float(np.cos(radians)), float(-np.sin(radians))


def angular_difference_deg(a_deg, b_deg):
    """Smallest absolute difference between two angles, in [0, 180]."""
    difference = np.mod(np.asarray(a_deg, dtype=np.float64) - np.asarray(b_deg, dtype=np.float64), 360.0)
    return np.minimum(difference, 360.0 - difference)


@dataclass(frozen=True)
class DirectionSummary:
    direction_deg: float
    """Direction of the (weighted) mean velocity: the mean resultant, whose length over the mean speed is
    ``direction_strength``."""
    direction_strength: float
    """|mean velocity| / mean |velocity|: 1 = one coherent direction, 0 = none (or no motion)."""
    speed_px_per_frame: float
    """Mean |velocity| (weighted by ``weights`` when given)."""


def summarize_direction(velocity: np.ndarray, weights: np.ndarray | None = None, eps: float = 1e-12) -> DirectionSummary:
    """Summarize a velocity field ``[..., 2]`` (vx, vy) px/frame into one direction.

    ``weights`` (broadcastable to ``velocity[..., 0]``) restricts or weights the pixels that count,
    e.g. an interior mask or where the texture has contrast. ``direction_deg`` is the angle of the mean
    velocity ``Σ w v`` (the way the content travels on average) and ``direction_strength`` that mean's length
    over the mean speed: one vector, its angle and its length. (Until 2026-12 the angle was that of ``Σ w |v| v``,
    which let fast pixels count more: in an incoherent field those are the noisy ones, and the angle then
    followed the fastest noise rather than the net motion (demo conv1 kernel 0: 290° against a net 326°,
    measured on whole layers in docs/results.md). Slow pixels add short vectors to the mean, so they swing it
    little either way.)
    """
    velocity = np.asarray(velocity, dtype=np.float64)
    vx, vy = velocity[..., 0], velocity[..., 1]
    w = np.ones_like(vx) if weights is None else np.broadcast_to(np.asarray(weights, dtype=np.float64), vx.shape)
    total_weight = w.sum()
    if total_weight <= eps:
        return DirectionSummary(0.0, 0.0, 0.0)
    speed = np.hypot(vx, vy)
    mean_speed = float((w * speed).sum() / total_weight)
    mean_vx = (w * vx).sum() / total_weight
    mean_vy = (w * vy).sum() / total_weight
    strength = float(np.hypot(mean_vx, mean_vy) / mean_speed) if mean_speed > eps else 0.0
    direction = float(direction_deg_of(mean_vx, mean_vy)) if mean_speed > eps else 0.0
    return DirectionSummary(direction, min(strength, 1.0), mean_speed)
