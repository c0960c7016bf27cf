"""Stage 2's settings, in a module without torch, so that building the command line stays instant."""

from __future__ import annotations

from dataclasses import dataclass

ANCHORS = ("first", "contrast", "best")
"""``DecomposeConfig.anchor``'s values (:mod:`kernelvis.decompose.anchor`, here so the command line needs no torch)."""


@dataclass(frozen=True)
class DecomposeConfig:
    steps: int = 100
    """joint refinement steps of I and D (after the pairwise-flow initialization)"""
    lr: float = 0.01
    """Adam learning rate of the joint refinement (px for D, intensity for I)"""
    flow_levels: int = 4
    """pyramid levels of the pairwise flow (coarsest at least 8 px)"""
    flow_steps: int = 30
    """Adam steps of the pairwise flow at the finest level (each coarser level: twice the next finer)"""
    flow_lr: float = 0.1
    """Adam learning rate of the pairwise flow, px of the level being fitted"""
    flow_tv_weight: float = 0.2
    """TV weight of the pairwise flow (its data term is on contrast-standardized clips)"""
    flow_color: bool = False
    """pairwise flow on RGB instead of luminance (about 2x slower; for purely chromatic motion)"""
    flow_global_init: bool = True
    """seed the flow pyramid with each frame pair's global shift by phase correlation (fast motions
    on fine textures); False: start from zero flow, as before issue 16"""
    flow_frame_standardize: bool = True
    """standardize each frame (not each clip) for the flow, so a brightness change is no motion"""
    recon_weight: float = 1.0
    tv_displacement_weight: float = 1e-4
    """TV of each D_t (spatial only), mean |neighbour difference| in px"""
    tv_static_weight: float = 1e-4
    """TV of the static canvas, mean |neighbour difference| in intensity"""
    rigid_start: bool = True
    """also fit from one constant velocity for the whole clip (``flow.global_velocity``) and keep, per clip,
    whichever fit, that or the one from the chained pairwise flow, reconstructs the clip better (a thin-line
    pattern gives the pairwise flow half its speed and a jitter the fit reads as back-and-forth motion);
    about doubles stage 2's time. False: the pairwise flow's start alone, as before"""
    static_weight: float = 0.1
    """mean squared difference between I (cropped to the frame) and the anchor frame"""
    anchor: str = "first"
    """the frame I is anchored to (``D_a = 0``): ``first`` = frame 0 always, as the paper; ``contrast`` = frame 0
    unless its contrast is under 3/4 of the clip's highest, then the first frame that reaches that (an optimal input
    that fades in has a faint first frame); ``best`` = fitted from both where they differ, the better final
    reconstruction kept. Frame 0 is the default because, measured on whole demo layers, the contrast rule's later
    anchor reconstructed worse (:mod:`kernelvis.decompose.anchor`)"""
    margin_px: int | None = None
    """canvas margin around the frame; None: the largest initial |D| plus 2 px"""
    appearance: bool = True
    """fit the appearance component A (gain/offset maps + rank-1 change); False: texture + motion only,
    as before issue 16"""
    appearance_grid: int = 1
    """control points per side of the gain/offset maps (1: one global gain and offset per channel)"""
    residual_rank1: bool = True
    """include the rank-1 change c_t R in A"""
    appearance_steps: int = 40
    """joint refinement steps once the rank-1 change is in the model (motion start, after ``steps``),
    and of the appearance start"""
    gain_offset_weight: float = 1e-3
    """prior: mean squared (g_t - 1) and b_t at the control points"""
    residual_weight: float = 1e-2
    """prior: mean squared rank-1 term c_t R"""
    start_tolerance: float = 0.05
    """relative MSE margin within which the two starts count as equally good (see ``_fit_two_starts``)"""
    seed: int = 0
    """seeds torch for the fit (the fit itself draws no random numbers; kept so a seed is always set)"""
    device: str = "cpu"

    def __post_init__(self):
        if self.anchor not in ANCHORS:
            raise ValueError(f"unknown anchor {self.anchor!r}; choose from {', '.join(sorted(ANCHORS))}")

    @classmethod
    def before_issue16(cls, **overrides) -> "DecomposeConfig":
        """Stage 2 as it was before the appearance component: texture + motion only, flow from zero on
        clip-standardized frames (for before/after benchmarks)."""
        values = dict(appearance=False, flow_global_init=False, flow_frame_standardize=False)
        values.update(overrides)
        return cls(**values)

    @classmethod
    def paper_weights(cls, **overrides) -> "DecomposeConfig":
        """The paper's loss weights (all 1). On videos in [0, 1] the TV of I then dominates the
        reconstruction and blurs the texture; offered for comparison, not as a default."""
        values = dict(recon_weight=1.0, tv_displacement_weight=1.0, tv_static_weight=1.0, static_weight=1.0)
        values.update(overrides)
        return cls(**values)
