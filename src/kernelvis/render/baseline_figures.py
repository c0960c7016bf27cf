"""Figures of the classic methods: top-9 dataset examples with DeconvNet projections, first-layer
3D kernels, per-layer inversions, dissection counts, and the per-kernel comparison of plain
activation maximization, ours (texture + motion), DeconvNet top-9 and the natural/optimal ratio.

Every function takes plain arrays (no dependence on the baselines' classes) and returns a
matplotlib Figure; save it with :func:`kernelvis.render.savefig.save_figure`.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from kernelvis.io import normalize_to_unit_range
from kernelvis.render.layer_labels import layer_ticks
from kernelvis.render.panels import frame_indices, mean_velocity
from kernelvis.render.savefig import plt


def signed_to_display(signal: np.ndarray) -> np.ndarray:
    """A signed array [..., 3] (a DeconvNet projection) in [0, 1]: grey is zero, one symmetric
    scale for the whole array so strength stays comparable across its frames and channels."""
    signal = np.asarray(signal, dtype=np.float32)
    peak = float(np.abs(signal).max())
    if peak < 1e-12:
        return np.full_like(signal, 0.5)
    return 0.5 + 0.5 * signal / peak


def frame_strip(tube: np.ndarray, frames: int = 3, gap_px: int = 1, fill: float = 1.0) -> np.ndarray:
    """Up to ``frames`` evenly spaced frames of a tube [t, h, w, 3] side by side: [h, w·k + gaps, 3]."""
    shown = frame_indices(len(tube), frames)
    gap = np.full((tube.shape[1], gap_px, 3), fill, dtype=np.float32)
    parts = []
    for index in shown:
        parts += [tube[index], gap]
    return np.concatenate(parts[:-1], axis=1)


def tile(images: Sequence[np.ndarray], columns: int = 3, gap_px: int = 2, fill: float = 1.0) -> np.ndarray:
    """Equal-size images [h, w, 3] in a grid ``columns`` wide, ``fill``-coloured gaps."""
    height, width = images[0].shape[:2]
    rows = -(-len(images) // columns)
    canvas = np.full((rows * (height + gap_px) - gap_px, columns * (width + gap_px) - gap_px, 3), fill, dtype=np.float32)
    for index, image in enumerate(images):
        row, column = divmod(index, columns)
        canvas[row * (height + gap_px):row * (height + gap_px) + height,
               column * (width + gap_px):column * (width + gap_px) + width] = image
    return canvas


def tube_grid_video(tubes: np.ndarray, columns: int = 3, gap_px: int = 2, upscale: int = 2) -> np.ndarray:
    """Tubes [k, t, h, w, 3] as one animated grid [t, H, W, 3] (for a GIF beside the PNG)."""
    tubes = np.asarray(tubes).repeat(upscale, axis=2).repeat(upscale, axis=3)
    return np.stack([tile(list(tubes[:, t]), columns, gap_px) for t in range(tubes.shape[1])])


def _image_axes(axes, image, title: str = "", fontsize: float = 8):
    axes.imshow(np.clip(image, 0, 1), interpolation="nearest")
    axes.set_xticks([])
    axes.set_yticks([])
    if title:
        axes.set_title(title, fontsize=fontsize)


def _example_caption(index: int, activation: float, label) -> str:
    return f"clip {index}" + (f" ({label})" if label is not None else "") + f"\nmax {activation:.3g}"


def dataset_examples_figure(crops: np.ndarray, projection_crops: np.ndarray, indices: np.ndarray,
                            max_activations: np.ndarray, labels: Sequence | None = None, title: str = "",
                            frames_shown: int = 3):
    """Zeiler & Fergus's layout for video: the receptive-field tubes of the top clips (left, 3×3)
    and the DeconvNet projections of their maxima (right, 3×3), each tube as a strip of frames."""
    count = len(crops)
    columns = min(3, count)
    rows = -(-count // columns)
    strip_width = frame_strip(crops[0], frames_shown).shape[1] / crops.shape[2]
    figure = plt.figure(figsize=(2 * columns * strip_width * 0.9 + 0.6, rows * 1.25 + 0.8))
    grid = figure.add_gridspec(rows, 2 * columns + 1, width_ratios=[1] * columns + [0.15] + [1] * columns)
    for index in range(count):
        row, column = divmod(index, columns)
        label = None if labels is None else labels[index]
        caption = _example_caption(int(indices[index]), float(max_activations[index]), label)
        _image_axes(figure.add_subplot(grid[row, column]), frame_strip(crops[index], frames_shown), caption, 6)
        projection = signed_to_display(projection_crops[index])
        _image_axes(figure.add_subplot(grid[row, columns + 1 + column]), frame_strip(projection, frames_shown),
                    "projection" if row == 0 else "", 6)
    figure.suptitle(title + "\nleft: receptive-field tubes of the top clips (frames →); right: DeconvNet projections",
                    fontsize=8)
    return figure


def deconv_figure(clips: np.ndarray, projections: np.ndarray, boxes: np.ndarray, indices: np.ndarray,
                  title: str = "", frames_shown: int = 5):
    """Per top clip (a row): the clip's frame at the maximum with the receptive-field tube's box,
    then the full-frame DeconvNet projection across the tube's frames (one scale per row)."""
    from matplotlib.patches import Rectangle

    count = len(clips)
    figure, axes = plt.subplots(count, frames_shown + 1, figsize=(1.3 * (frames_shown + 1), 1.3 * count + 0.5),
                                squeeze=False)
    for row in range(count):
        t0, t1, h0, h1, w0, w1 = (int(v) for v in boxes[row])
        middle = (t0 + t1 - 1) // 2
        _image_axes(axes[row, 0], clips[row, middle], f"clip {int(indices[row])}, t={middle}", 6)
        axes[row, 0].add_patch(Rectangle((w0 - 0.5, h0 - 0.5), w1 - w0, h1 - h0, fill=False, edgecolor="yellow", lw=1))
        display = signed_to_display(projections[row])
        shown = [t0 + i for i in frame_indices(t1 - t0, frames_shown)]
        for column in range(frames_shown):
            if column < len(shown):
                _image_axes(axes[row, column + 1], display[shown[column]], f"t={shown[column]}" if row == 0 else "", 6)
            else:
                axes[row, column + 1].axis("off")
    figure.suptitle(title + "\nDeconvNet projection of each clip's maximum (grey = 0)", fontsize=8)
    return figure


def first_layer_filters_figure(slices: np.ndarray, layer: str, title: str = "", columns: int = 8):
    """Each kernel [kT, kh, kw, 3] (already on its display scale) as a strip of its temporal slices."""
    strips = [frame_strip(kernel, frames=len(kernel), gap_px=1, fill=1.0) for kernel in slices]
    upscale = max(1, 24 // slices.shape[2])
    strips = [strip.repeat(upscale, 0).repeat(upscale, 1) for strip in strips]
    grid = tile(strips, columns=min(columns, len(strips)), gap_px=4)
    figure, axes = plt.subplots(figsize=(min(14, 1 + grid.shape[1] / 60), 1 + grid.shape[0] / 60))
    _image_axes(axes, grid)
    axes.set_title(title or f"{layer}: {len(slices)} kernels, {slices.shape[1]} temporal slices each "
                   "(t →, grey = 0, one scale per kernel)", fontsize=8)
    return figure


def inversion_figure(original: np.ndarray, layers: Sequence[str], reconstructions: np.ndarray,
                     psnr_db: Sequence[float], title: str = "", frames_shown: int = 5):
    """Rows: the original clip, then its reconstruction from each layer's features."""
    shown = frame_indices(len(original), frames_shown)
    rows = [("original", original)] + [(f"{layer}\n{psnr:.1f} dB", video)
                                       for layer, video, psnr in zip(layers, reconstructions, psnr_db)]
    figure, axes = plt.subplots(len(rows), len(shown), figsize=(1.4 * len(shown) + 0.6, 1.4 * len(rows) + 0.4), squeeze=False)
    for row, (label, video) in enumerate(rows):
        for column, t in enumerate(shown):
            _image_axes(axes[row, column], video[t], f"t={t}" if row == 0 else "", 7)
            if column == 0:
                axes[row, column].set_ylabel(label, fontsize=7)
    figure.suptitle(title or "network inversion: the clip recovered from each layer's features", fontsize=9)
    return figure


def dissection_counts_figure(counts: Sequence[dict], categories: Sequence[str], title: str = ""):
    """Per layer: detector kernels and unique detected concepts, stacked by concept category."""
    layers = [c["layer"] for c in counts]
    x = np.arange(len(layers))
    figure, axes = plt.subplots(1, 2, figsize=(max(6, 1.2 * len(layers) + 3), 3.2))
    colours = plt.get_cmap("tab10")
    for panel, (key, ylabel) in enumerate([("detectors_per_category", "detector kernels"),
                                           ("unique_concepts_per_category", "unique concepts")]):
        bottom = np.zeros(len(layers))
        for index, category in enumerate(categories):
            values = np.array([c[key].get(category, 0) for c in counts], dtype=float)
            axes[panel].bar(x, values, bottom=bottom, color=colours(index), label=category)
            bottom += values
        if panel == 0:
            for position, c in zip(x, counts):
                axes[panel].text(position, bottom[position] + 0.1, f"/{c['kernels']}", ha="center", fontsize=7)
        layer_ticks(axes[panel], layers)
        axes[panel].set_ylabel(ylabel)
    axes[1].legend(fontsize=7, title="category", title_fontsize=7)
    figure.suptitle(title or "network dissection (IoU > threshold with a synthetic concept)", fontsize=9)
    figure.tight_layout()
    return figure


def comparison_figure(optimal_video: np.ndarray, static: np.ndarray, velocity: np.ndarray, crops: np.ndarray,
                      projection_crops: np.ndarray, optimal_activation: float, natural_activation: float,
                      title: str = "", frames_shown: int = 4, motion_scale_px_per_frame: float | None = None):
    """One kernel, four views: plain activation maximization (stage 1 frames), ours (static texture
    and mean motion, hue = direction, brightness = speed), DeconvNet top-9 (tube middle frames and
    projections) and the natural-versus-optimal activation ratio."""
    from kernelvis.render.arrows import draw_motion_arrows
    from kernelvis.render.motion import color_wheel, velocity_to_rgb

    shown = frame_indices(len(optimal_video), frames_shown)
    figure = plt.figure(figsize=(2.0 * max(len(shown), 4) + 0.5, 7.4))
    grid = figure.add_gridspec(3, max(len(shown), 4), height_ratios=[1, 1.3, 1.3])
    am = normalize_to_unit_range(optimal_video)
    for column, t in enumerate(shown):
        axes = figure.add_subplot(grid[0, column])
        _image_axes(axes, am[t], f"t={t}", 7)
        if column == 0:
            axes.set_ylabel("plain AM\n(stage 1)", fontsize=8)
    static_axes = figure.add_subplot(grid[1, 0])
    _image_axes(static_axes, static, "ours: texture", 8)
    draw_motion_arrows(static_axes, mean_velocity(velocity), scale_px_per_frame=motion_scale_px_per_frame)
    _image_axes(figure.add_subplot(grid[1, 1]), velocity_to_rgb(mean_velocity(velocity), motion_scale_px_per_frame),
                "ours: motion", 8)
    _image_axes(figure.add_subplot(grid[1, 2]), color_wheel(64), "direction", 8)
    ratio = natural_activation / optimal_activation if abs(optimal_activation) > 1e-12 else float("nan")
    text_axes = figure.add_subplot(grid[1, 3])
    text_axes.axis("off")
    text_axes.text(0, 0.9, f"optimal   {optimal_activation:.3g}\nnatural   {natural_activation:.3g}\n"
                           f"natural / optimal\n          {ratio:.3f}", fontsize=8, va="top", family="monospace")
    middle = [tube[len(tube) // 2] for tube in crops]
    projections = [signed_to_display(p)[len(p) // 2] for p in projection_crops]
    half = max(len(shown), 4) // 2
    _image_axes(figure.add_subplot(grid[2, :half]), tile(middle, 3), "DeconvNet top-9: tubes (middle frame)", 8)
    _image_axes(figure.add_subplot(grid[2, half:]), tile(projections, 3), "DeconvNet top-9: projections", 8)
    figure.suptitle(title, fontsize=10)
    return figure
