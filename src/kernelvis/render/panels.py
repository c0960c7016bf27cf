"""Per-kernel panel (PNG) and side-by-side animation (GIF).

Panel: the static texture with mean-motion arrows (left), then rows of frames: the optimal input
(stage 1), the HSV motion (hue = direction on the colour wheel, brightness = speed) and the
reconstruction A_t(W(I, D_t)); the colour wheel, the kernel's numbers and the appearance change's
per-frame gain/offset curves on the right.
"""

from __future__ import annotations

import numpy as np

from kernelvis.io import normalize_to_unit_range
from kernelvis.render.savefig import plt


def frame_indices(frames: int, count: int) -> list[int]:
    """``count`` evenly spaced frame indices from 0 to frames-1."""
    return sorted({int(round(i)) for i in np.linspace(0, frames - 1, min(count, frames))})


def mean_velocity(velocity: np.ndarray) -> np.ndarray:
    """Time-averaged velocity [H, W, 2] over frames 1..T-1 (frame 0 carries no motion by definition)."""
    return velocity[1:].mean(axis=0) if len(velocity) > 1 else velocity[0]


def kernel_panel(optimal_video: np.ndarray, static: np.ndarray, velocity: np.ndarray, recon: np.ndarray,
                 title: str = "", facts: dict | None = None, motion_scale_px_per_frame: float | None = None,
                 frames_shown: int = 6, appearance: dict | None = None, tuning: dict | None = None):
    """A matplotlib Figure of one kernel (see module docstring). ``appearance`` (optional: ``gain``,
    ``offset`` [T, g, g, 3], ``residual_coef`` [T] of stage 2's appearance component) adds its
    per-frame curves at the bottom right, beside the motion. ``tuning`` (optional: ``grating`` = (directions,
    responses) of the best grating, ``texture`` = a texture_tuning.json record) adds the polar tuning curves,
    gratings beside the kernel's own texture moved, at the top right."""
    from kernelvis.render.arrows import draw_motion_arrows
    from kernelvis.render.motion import color_wheel, velocity_to_rgb

    shown = frame_indices(len(optimal_video), frames_shown)
    motion_rgb = velocity_to_rgb(velocity, motion_scale_px_per_frame)
    optimal_display = normalize_to_unit_range(optimal_video)
    rows = [("optimal input", optimal_display), ("motion", motion_rgb), ("reconstruction", np.clip(recon, 0, 1))]
    columns = len(shown) + 3  # texture | frames | wheel and appearance curves | the kernel's numbers
    figure = plt.figure(figsize=(1.5 * columns + 2.0, 1.6 * len(rows) + 0.6))
    grid = figure.add_gridspec(len(rows), columns, width_ratios=[2.2] + [1] * len(shown) + [1.2, 1.5])
    static_axes = figure.add_subplot(grid[:, 0])
    static_axes.imshow(np.clip(static, 0, 1))
    draw_motion_arrows(static_axes, mean_velocity(velocity))
    static_axes.set_title("static texture + motion", fontsize=8)
    static_axes.axis("off")
    for row, (label, clip) in enumerate(rows):
        for column, t in enumerate(shown):
            axes = figure.add_subplot(grid[row, column + 1])
            axes.imshow(clip[t], interpolation="nearest")
            axes.set_xticks([])
            axes.set_yticks([])
            if column == 0:
                axes.set_ylabel(label, fontsize=8)
            if row == 0:
                axes.set_title(f"t={t}", fontsize=7)
    wheel_axes = figure.add_subplot(grid[1, -2])
    wheel_axes.imshow(color_wheel(64))
    wheel_axes.set_title("direction", fontsize=7)
    wheel_axes.axis("off")
    text_axes = figure.add_subplot(grid[:, -1])
    text_axes.axis("off")
    text_axes.text(0, 1, _facts_text(facts or {}), fontsize=6.5, va="top", family="monospace")
    if appearance is not None and appearance.get("gain") is not None:
        draw_appearance_curves(figure.add_subplot(grid[2, -2]), appearance)
    if tuning:
        draw_tuning_curves(figure.add_subplot(grid[0, -2], projection="polar"), tuning,
                           (facts or {}).get("direction_deg"))
    verdict, colour = audit_badge(facts or {})
    figure.suptitle(f"{title}   {verdict}" if verdict else title, fontsize=10, color=colour)
    return figure


def draw_tuning_curves(axes, tuning: dict, visualized_direction_deg: float | None = None) -> None:
    """The grating curve (black; its response above its own minimum) and the texture-conditioned curves
    (scaled to the grating curve's peak: the shapes compare) on polar ``axes``, with the visualized direction
    as an orange spoke."""
    from kernelvis.render.tuning_plot import DISAGREEMENT_COLOR, _closed, draw_texture_curves, texture_curve_entries

    peak = None
    if tuning.get("grating") is not None:
        directions, responses = (np.asarray(values, float) for values in tuning["grating"])
        curve = responses - responses.min()
        peak = float(curve.max()) if curve.max() > 0 else None
        axes.plot(*_closed(directions, curve), "-", color="black", lw=1.0, label="gratings")
    draw_texture_curves(axes, texture_curve_entries(tuning.get("texture")), peak)
    if visualized_direction_deg is not None:
        axes.plot([np.radians(visualized_direction_deg)] * 2, [0, peak or 1.0], color=DISAGREEMENT_COLOR, lw=1.5)
    axes.set_xticks(np.radians([0, 90, 180, 270]))
    axes.set_xticklabels([])  # 0° is screen-right, counter-clockwise, as the colour wheel below
    axes.set_yticks([])
    axes.set_title("tuning: gratings (black),\nown texture (colour), shown (orange)", fontsize=6)


def draw_appearance_curves(axes, appearance: dict) -> None:
    """Stage 2's appearance change over time: mean gain (solid) and offset (dashed) per colour channel,
    and the rank-1 change's coefficient (grey); flat lines at 1 and 0 mean no appearance change."""
    gain = np.asarray(appearance["gain"]).mean(axis=(1, 2))
    offset = np.asarray(appearance["offset"]).mean(axis=(1, 2))
    frames = np.arange(len(gain))
    for channel, colour in enumerate(("tab:red", "tab:green", "tab:blue")):
        axes.plot(frames, gain[:, channel], color=colour, lw=1)
        axes.plot(frames, offset[:, channel], color=colour, lw=0.8, ls="--")
    if appearance.get("residual_coef") is not None:
        axes.plot(frames, appearance["residual_coef"], color="0.4", lw=0.8, ls=":")
    axes.axhline(1.0, color="0.8", lw=0.5)
    axes.axhline(0.0, color="0.8", lw=0.5)
    axes.set_title("appearance: gain, offset", fontsize=6.5)
    axes.tick_params(labelsize=5)
    axes.set_xlabel("t", fontsize=6)


def audit_badge(facts: dict, short: bool = False) -> tuple[str, str]:
    """(text, colour) a figure shows for a kernel's status and optimality audit: empty for a kernel that is
    ``ok`` and passes, red for a failed audit or a dead/diverged kernel, orange for a silent one."""
    status = facts.get("status") or "ok"
    parts, colour = [], "black"
    if status != "ok":
        parts.append(status if short else status.upper())
        colour = "darkorange" if status == "silent" else "red"
    if facts.get("audit_pass") is False:
        parts.append("audit fail" if short else "FAILS OPTIMALITY AUDIT")
        colour = "red"
    return ("[" + ", ".join(parts) + "]" if parts else ""), colour


def _facts_text(facts: dict) -> str:
    labels = [("activation", "act"), ("recon_psnr_db", "PSNR dB"), ("direction_deg", "dir °"),
              ("direction_strength", "coherence"), ("speed_px_per_frame", "px/frame"),
              ("motion_share", "motion"), ("appearance_share", "appearance"), ("residual_share", "unexplained"),
              ("motion_reliance", "motion rel"),
              ("texture_reliance", "texture rel"), ("dsi", "DSI"), ("preferred_direction_deg", "tuned °"),
              ("texture_dsi", "texture DSI"), ("texture_preferred_direction_deg", "texture °")]
    lines = [f"{short:>11} {facts[key]:.3g}" for key, short in labels
             if isinstance(facts.get(key), (int, float)) and not isinstance(facts.get(key), bool)]
    if isinstance(facts.get("texture_agrees"), bool):  # the visualized motion vs where the kernel moves its texture
        fraction = facts.get("texture_visualized_fraction")  # how much of the texture's best the shown motion gets
        share = f" {100 * fraction:.0f}%" if isinstance(fraction, (int, float)) and not isinstance(fraction, bool) else ""
        lines.append(f"{'motion fits':>11} {'yes' if facts['texture_agrees'] else 'NO'}{share}")
    elif facts.get("texture_excited") is False:  # every motion of the texture leaves the kernel at or below 0
        lines.append(f"{'motion fits':>11} n/a, inhibits")
    elif facts.get("texture_measurable") is False:  # moving the texture barely changes the response: no verdict
        lines.append(f"{'motion fits':>11} n/a")
    if facts.get("objective"):
        lines.append(f"{'objective':>11} {facts['objective']}")
    audit = [(key, short) for key, short in (("optimal_vs_best_grating", "vs stimulus"),
                                              ("optimal_vs_best_natural", "vs natural"))
             if isinstance(facts.get(key), (int, float))]
    lines += [f"{short:>11} {facts[key]:.2f}x" for key, short in audit]
    if isinstance(facts.get("audit_pass"), bool):
        lines.append(f"{'audit':>11} {'pass' if facts['audit_pass'] else 'FAIL'}")
    elif facts.get("status") in ("dead", "diverged"):
        lines.append(f"{'audit':>11} n/a")
    return "\n".join(lines)


def side_by_side_frames(optimal_video: np.ndarray, velocity: np.ndarray, recon: np.ndarray,
                        motion_scale_px_per_frame: float | None = None, upscale: int = 3,
                        gap_px: int = 2) -> np.ndarray:
    """[T, H*u, 3*W*u + gaps, 3] frames: optimal input | HSV motion | reconstruction (as the paper's GIFs)."""
    from kernelvis.render.motion import velocity_to_rgb

    parts = [normalize_to_unit_range(optimal_video), velocity_to_rgb(velocity, motion_scale_px_per_frame),
             np.clip(recon, 0, 1)]
    parts = [part.repeat(upscale, axis=1).repeat(upscale, axis=2) for part in parts]
    gap = np.ones(parts[0].shape[:2] + (gap_px, 3), dtype=np.float32)
    return np.concatenate([parts[0], gap, parts[1], gap, parts[2]], axis=2)


def _tuning_curves(kernel_dir) -> dict | None:
    """The tuning curves a kernel directory holds (tuning.csv, texture_tuning.json), for the panel; None if
    neither."""
    import json

    from kernelvis.atlas.collect import read_tuning_curve

    texture_path = kernel_dir / "texture_tuning.json"
    curves = {"grating": read_tuning_curve(kernel_dir),
              "texture": json.loads(texture_path.read_text()) if texture_path.is_file() else None}
    return curves if any(value is not None for value in curves.values()) else None


def write_kernel_panel(kernel_dir, summary: dict, motion_scale_px_per_frame: float | None = None) -> None:
    """``panel.png`` and ``panel.gif`` of a kernel directory holding optimal.npz and decomposition.npz."""
    from pathlib import Path

    from kernelvis.io import write_gif
    from kernelvis.render.savefig import save_figure

    kernel_dir = Path(kernel_dir)
    with np.load(kernel_dir / "optimal.npz") as optimal:
        video = optimal["video"]
    with np.load(kernel_dir / "decomposition.npz") as decomposition:
        static, velocity, recon = decomposition["static"], decomposition["velocity"], decomposition["recon"]
        appearance = {key: decomposition[key] for key in ("gain", "offset", "residual_coef")
                      if key in decomposition.files}
    title = f"{summary.get('model', '')}  {summary.get('layer', '')}  kernel {summary.get('kernel', '')}"
    save_figure(kernel_panel(video, static, velocity, recon, title=title, facts=summary,
                             motion_scale_px_per_frame=motion_scale_px_per_frame, appearance=appearance or None,
                             tuning=_tuning_curves(kernel_dir)),
                kernel_dir / "panel.png")
    write_gif(kernel_dir / "panel.gif", side_by_side_frames(video, velocity, recon, motion_scale_px_per_frame))
