"""The numbers the atlas shows: a short label, a unit, and one line saying what each means.

Every field is optional in ``summary.json`` (stages are switched on and off, and new ones appear):
a missing or non-finite value is shown as "—" and sorts last.
"""

from __future__ import annotations

import math
from html import escape

MISSING = "—"

# (key, label, unit, meaning), grouped as on the kernel page.
GROUPS: list[tuple[str, list[tuple[str, str, str, str]]]] = [
    ("Status and audit", [
        ("status", "status", "", "ok; silent = output nowhere positive on the optimal input, the tuning sweep and "
                                 "any natural clip; dead = output does not depend on the clip; diverged = every "
                                 "restart became NaN/inf."),
        ("audit_pass", "audit", "", "The optimal input beats the best tuning stimulus and the best natural clip, "
                                    "measured the same way (otherwise it is not what the kernel prefers)."),
        ("objective", "objective", "", "What the optimal input maximizes: channel = mean of the kernel's map (the "
                                       "paper's); rectified = mean of its positive part (on layers linear in the pixels)."),
        ("activation", "activation", "", "The kernel's response to its optimal input."),
        ("optimal_vs_best_grating", "optimal / best grating", "×",
         "Optimal input's response divided by the best grating, plaid or dot field of the tuning sweep "
         "(at least 1: the optimum is real)."),
        ("optimal_vs_best_natural", "optimal / best natural", "×",
         "Optimal input's response divided by the best natural clip's."),
    ]),
    ("Motion of the optimal input", [
        ("direction_deg", "direction", "°", "Where the visualized content moves on average (the direction of "
                                            "its mean velocity): degrees counter-clockwise from screen-right, "
                                            "up = 90°."),
        ("speed_px_per_frame", "speed", "px/frame", "How fast the visualized content moves."),
        ("direction_strength", "coherence", "", "Length of the mean velocity over the mean speed: 1 = everything "
                                                "moves one way; 0 = no common direction."),
        ("motion_index", "motion index", "", "Share of the clip's change over time that the motion explains "
                                             "(0 = static pattern, 1 = pure motion)."),
        ("recon_psnr_db", "reconstruction", "dB", "How closely texture + motion reproduce the optimal input "
                                                  "(higher is closer)."),
        ("anchor_frame", "texture from frame", "", "The frame whose content the static texture is (frame 0 "
                                                   "unless stage 2 was asked to anchor it elsewhere)."),
    ]),
    ("Reliance: what the kernel needs", [
        ("motion_reliance", "motion reliance", "", "Share of the response lost when the texture stands still."),
        ("texture_reliance", "texture reliance", "", "Share of the response lost when the motion carries "
                                                     "smooth noise instead of the texture."),
        ("direction_reversal_drop", "reversal drop", "", "Share of the response lost when the motion runs "
                                                         "backwards."),
        ("motion_share", "motion share", "", "Share of the optimal input's change over time that the moving "
                                             "texture explains."),
        ("appearance_share", "appearance share", "", "Share of the change that only an appearance change (gain, "
                                                     "offset, a switched-in image) explains: flicker, cuts."),
        ("residual_share", "residual share", "", "Share of the change that neither explains."),
    ]),
    ("Direction tuning (drifting gratings)", [
        ("preferred_direction_deg", "preferred direction", "°", "Grating direction with the strongest "
                                                                 "response (vector average)."),
        ("dsi", "DSI", "", "Direction selectivity: 1 = one direction only, 0 = opposite directions alike."),
        ("vector_strength", "vector strength", "", "How peaked the tuning curve is (1 = one direction)."),
        ("preferred_speed_px_per_frame", "preferred speed", "px/frame", "Grating speed with the strongest "
                                                                         "response."),
        ("preferred_spatial_freq", "preferred spatial freq.", "cycles/px", "Grating spatial frequency with the "
                                                                            "strongest response."),
        ("preferred_temporal_freq", "preferred temporal freq.", "cycles/frame", "Grating temporal frequency "
                                                                                "with the strongest response."),
    ]),
    ("Natural clips (DeconvNet, top-9)", [
        ("natural_activation", "natural activation", "", "Best response to a clip of the data set."),
        ("natural_to_optimal_ratio", "natural / optimal", "×", "Best natural clip's response divided by the "
                                                               "optimal input's."),
    ]),
]

KNOWN = {key for _, fields in GROUPS for key, *_ in fields}

# Columns offered for sorting on layer pages: (key, label).
SORT_KEYS = [("kernel", "kernel"), ("direction_deg", "direction"), ("speed_px_per_frame", "speed"),
             ("dsi", "DSI"), ("motion_reliance", "motion reliance"), ("texture_reliance", "texture reliance"),
             ("activation", "activation"), ("direction_strength", "coherence")]


def is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def format_value(value, unit: str = "") -> str:
    """A value for people: 3 significant digits, booleans as pass/fail, missing as "—"."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return MISSING
    if isinstance(value, bool):
        return "pass" if value else "fail"
    if is_number(value):
        if unit == "°":
            return f"{value:.0f}°"
        text = f"{value:.3g}"
        return f"{text} {unit}" if unit and unit != "×" else (f"{text}×" if unit == "×" else text)
    if isinstance(value, (dict, list)):
        return MISSING
    text = str(value)
    return escape(text) if text else MISSING  # pages insert this into HTML as it is


def card_data(summary: dict) -> dict:
    """The per-kernel values the layer page sorts and filters on (JSON-safe; missing = null)."""
    data = {key: (summary.get(key) if is_number(summary.get(key)) else None)
            for key, _ in SORT_KEYS if key != "kernel"}
    audit = summary.get("audit_pass")
    data["audit_pass"] = audit if isinstance(audit, bool) else None
    status = summary.get("status")
    data["status"] = status if isinstance(status, str) else None
    return data


# One-line meanings of the columns of faithfulness.csv, suppression.json and other records shown as tables.
MEANINGS: dict[str, str] = {key: meaning for _, fields in GROUPS for key, _, _, meaning in fields}
MEANINGS.update({
    "angular_error_deg": "Angle between the tuned direction and the visualized motion (0° = they agree).",
    "direction_selective": "1 if the kernel is direction selective enough (DSI above threshold) to compare.",
    "agrees": "1 if the visualized motion points within the tolerance of the tuned direction.",
    "best_grating_activation": "Response to the best drifting grating.",
    "best_clip_activation": "Response to the best clip of the data set.",
    "activation_vs_best_grating": "Optimal input's response divided by the best grating's.",
    "activation_vs_best_clip": "Optimal input's response divided by the best natural clip's.",
    "preservation_ssim": "Similarity of the kernel's response map before and after suppression (1 = unchanged).",
    "preservation_rmse": "Root-mean-square change of the suppressed clip.",
    "preservation_rmse_relative": "Change of the clip relative to its own variation.",
    "rest_remaining_fraction": "Share of the other kernels' activation kept after suppression.",
    "rest_ssim_to_zero": "How far the other kernels' maps are from zero after suppression.",
    "target_activation_before": "This kernel's response to the clip before suppression.",
    "target_activation_after": "This kernel's response to the clip after suppression.",
    "rest_activation_before": "Other kernels' mean response before suppression.",
    "rest_activation_after": "Other kernels' mean response after suppression.",
    "combined_score": "The suppression objective at its best step (lower = better).",
    "best_loss": "Lowest loss reached during suppression.",
    "best_step": "Step at which the lowest loss was reached.",
    "steps_run": "Optimization steps run.",
})
