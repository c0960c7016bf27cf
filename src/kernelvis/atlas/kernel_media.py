"""Everything one kernel's pages show, written into the kernel's atlas folder.

Returns a manifest {role: file name or value} so the page builder only links what exists: every
source is optional (a stage switched off, a baseline not run) and a missing one is simply not shown.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np

from kernelvis.atlas.collect import Kernel, read_texture_tuning, read_tuning_curve
from kernelvis.atlas.media import (LARGE_PX, THUMB_PX, copy_png_resized, poster_index, write_animation,
                                   write_picture)
from kernelvis.io import normalize_to_unit_range

ARROWS_PER_SIDE = 6
CARD_ARROWS_PER_SIDE = 4
"""Cards show 96-px pictures: 4×4 arrows read better there and keep a page of hundreds of cards light."""
COPIED_FIGURES = {"dataset_examples": "dataset_examples.png", "deconv": "deconv.png",
                  "comparison": "comparison.png"}
FIGURE_MAX_PX = 1400


def mean_velocity(velocity: np.ndarray) -> np.ndarray:
    """Time-averaged velocity [H, W, 2] over frames 1..T-1 (frame 0 carries no motion by definition)."""
    return velocity[1:].mean(axis=0) if len(velocity) > 1 else velocity[0]


def moving_frames(velocity: np.ndarray) -> np.ndarray:
    """Frames 1..T-1 of a velocity clip: frame 0 carries no motion by definition and would flash black
    at every loop of the motion animation."""
    return velocity[1:] if len(velocity) > 1 else velocity


def arrow_field(velocity: np.ndarray, arrows_per_side: int = ARROWS_PER_SIDE) -> dict:
    """Block-averaged mean velocity as arrows in the image's own pixel coordinates, for an SVG overlay:
    {"width", "height", "arrows": [[x, y, dx, dy], ...]} with the longest arrow 0.9 block long."""
    mean = mean_velocity(np.asarray(velocity, dtype=np.float64))
    height, width = mean.shape[:2]
    step = max(1, min(height, width) // arrows_per_side)
    rows, columns = height // step, width // step
    blocks = mean[:rows * step, :columns * step].reshape(rows, step, columns, step, 2).mean(axis=(1, 3))
    longest = float(np.hypot(blocks[..., 0], blocks[..., 1]).max()) if blocks.size else 0.0
    arrows = []
    if longest > 1e-9:
        length = 0.9 * step / longest
        for row in range(rows):
            for column in range(columns):
                dx, dy = blocks[row, column] * length
                arrows.append([round((column + 0.5) * step, 2), round((row + 0.5) * step, 2),
                               round(float(dx), 2), round(float(dy), 2)])
    return {"width": width, "height": height, "step": step, "arrows": arrows}


def _frames_strip(candidates: np.ndarray) -> list[np.ndarray]:
    """The frame with the most content of each restart's clip (as the posters, :func:`poster_index`), each
    normalized on its own for display."""
    return [normalize_to_unit_range(candidate[poster_index(normalize_to_unit_range(candidate))])
            for candidate in candidates]


class _Finite:
    """An npz opened with every float array's NaN/inf replaced by 0: a diverged or dead kernel still gets
    pictures (black where the numbers were not finite) instead of stopping the whole atlas."""

    def __init__(self, path: Path):
        self._archive = np.load(path, allow_pickle=False)
        self.files = self._archive.files

    def __getitem__(self, key: str) -> np.ndarray:
        array = self._archive[key]
        return np.nan_to_num(array, nan=0.0, posinf=0.0, neginf=0.0) if array.dtype.kind == "f" else array

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._archive.close()


def build_kernel_media(kernel: Kernel, out_dir: Path) -> dict:
    """Write the kernel's pictures and animations into ``out_dir``; return the manifest. A kernel whose files
    cannot be drawn keeps what was made before the problem and carries a one-line ``error`` the page shows."""
    manifest: dict = {}
    try:
        _build(kernel, out_dir, manifest)
    except Exception as error:  # one odd kernel must not stop the atlas of hundreds; the page says what failed
        manifest["error"] = f"{type(error).__name__}: {error}"
        print(f"atlas: warning: {kernel.directory}: {manifest['error']}", file=sys.stderr)
    return manifest


def _build(kernel: Kernel, out_dir: Path, manifest: dict) -> None:
    from kernelvis.render.motion import velocity_to_rgb

    out_dir.mkdir(parents=True, exist_ok=True)
    source = kernel.directory
    if kernel.has("summary.json"):  # the raw record, for people who want every field
        shutil.copyfile(source / "summary.json", out_dir / "summary.json")
        manifest["summary_json"] = "summary.json"
    if kernel.has("optimal.npz"):
        with _Finite(source / "optimal.npz") as optimal:
            video = normalize_to_unit_range(optimal["video"])
            candidates = optimal["candidates"] if "candidates" in optimal.files else None
            candidate_activations = (optimal["candidate_activations"].tolist()
                                     if "candidate_activations" in optimal.files else None)
            history = optimal["history"].astype(float).tolist() if "history" in optimal.files else None
        manifest["thumb_optimal"] = write_animation(out_dir / "thumb_optimal", video, THUMB_PX)
        manifest["optimal"] = write_animation(out_dir / "optimal", video, LARGE_PX)
        if history:
            manifest["history"] = history
        if candidates is not None and len(candidates):
            manifest["restarts"] = [
                {"png": write_picture(out_dir / f"restart_{index}.png", frame, THUMB_PX),
                 "activation": (candidate_activations[index] if candidate_activations is not None
                                and index < len(candidate_activations) else None)}
                for index, frame in enumerate(_frames_strip(candidates))]
    if kernel.has("decomposition.npz"):
        with _Finite(source / "decomposition.npz") as decomposition:
            static, velocity = decomposition["static"], decomposition["velocity"]
            recon = decomposition["recon"] if "recon" in decomposition.files else None
        manifest["static"] = write_picture(out_dir / "static.png", np.clip(static, 0, 1), LARGE_PX, enlarge=False)
        manifest["thumb_static"] = write_picture(out_dir / "thumb_static.png", np.clip(static, 0, 1), THUMB_PX)
        manifest["arrows"] = arrow_field(velocity)
        manifest["thumb_arrows"] = arrow_field(velocity, CARD_ARROWS_PER_SIDE)
        manifest["motion"] = write_animation(out_dir / "motion", velocity_to_rgb(moving_frames(velocity)), LARGE_PX)
        manifest["thumb_motion"] = write_picture(out_dir / "thumb_motion.png",
                                                 velocity_to_rgb(mean_velocity(velocity)), THUMB_PX)
        if recon is not None:
            manifest["recon"] = write_animation(out_dir / "recon", np.clip(recon, 0, 1), LARGE_PX)
    if kernel.has("refined.npz"):
        with _Finite(source / "refined.npz") as refined:
            static = refined["static"] if "static" in refined.files else None
            velocity = refined["velocity"] if "velocity" in refined.files else None
        if static is not None:
            manifest["refined_static"] = write_picture(out_dir / "refined_static.png", np.clip(static, 0, 1),
                                                       LARGE_PX, enlarge=False)
        if velocity is not None:
            manifest["refined_arrows"] = arrow_field(velocity)
            manifest["refined_motion"] = write_animation(out_dir / "refined_motion",
                                                         velocity_to_rgb(moving_frames(velocity)), LARGE_PX)
    if kernel.has("suppression/suppressed.npz"):
        with _Finite(source / "suppression/suppressed.npz") as suppressed:
            if "original" in suppressed.files and "video" in suppressed.files:
                pair = np.concatenate([np.clip(suppressed["original"], 0, 1),
                                       np.ones_like(suppressed["original"][:, :, :2]),
                                       np.clip(suppressed["video"], 0, 1)], axis=2)
                manifest["suppression"] = write_animation(out_dir / "suppression", pair, 2 * LARGE_PX)
    if kernel.has("suppression/suppression.json"):
        manifest["suppression_metrics"] = json.loads((source / "suppression/suppression.json").read_text())
    curve = read_tuning_curve(source)
    if curve:
        manifest["tuning_curve"] = {"directions_deg": curve[0], "responses": curve[1]}
    if kernel.has("tuning.json"):
        manifest["tuning"] = json.loads((source / "tuning.json").read_text())
    texture_tuning = read_texture_tuning(source)  # the curves at the visualized speed, for the polar plot
    if texture_tuning:
        manifest["texture_tuning"] = texture_tuning
    for role, name in COPIED_FIGURES.items():
        if kernel.has(name):
            manifest[role] = copy_png_resized(source / name, out_dir / name, FIGURE_MAX_PX)

