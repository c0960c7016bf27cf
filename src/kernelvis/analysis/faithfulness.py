"""Faithfulness: does the visualized motion of a kernel agree with how the kernel is tuned?

For every kernel directory ``results/{model}/{layer}/kernel_{k:04d}/`` holding ``summary.json``
(stage 2's ``direction_deg``, ``direction_strength``; stage 1's ``activation``) and ``tuning.json``
(``preferred_direction_deg``, ``dsi``, ``best_grating_activation``), one row puts the two side by side
with their angular difference. A kernel is *direction selective* when its DSI exceeds
``DSI_THRESHOLD``; its visualization *agrees* when the visualized direction lies within
``MAX_ERROR_DEG`` of the preferred one. Per layer, agreement = agreeing / selective kernels.

The same is measured against the texture-conditioned tuning (``texture_tuning.json``, merged into
summary.json as ``texture_preferred_direction_deg``/``texture_dsi``): where does the kernel want *its own
texture* to move? The verdict is the texture tuning's own (``texture_agrees``: the peak within 30° of the
visualized direction, or the visualized direction on the curve's plateau; see
:mod:`kernelvis.analysis.texture_tuning`), recorded beside the peak alone (``texture_peak_agrees``); a kernel
counts as texture-selective when its texture DSI exceeds ``DSI_THRESHOLD`` and the curve has a verdict
(measurable modulation, a texture that some motion excites, a visualized direction); those with a texture DSI
above the threshold that no motion excites are counted apart (``texture_inhibited``: no verdict, out of the
denominator, shown). The same for the refined texture against the refined
motion (``refined_texture_*``). A kernel whose grating optimum and texture optimum differ by more than ``MAX_ERROR_DEG``
(both selective) is listed: that is a finding about the network (the aperture problem, texture-dependent
direction preference), not an error of the decomposition.

The optimal input's activation is also set against the best grating's and the best natural clip's
(same channel-mean objective): a ratio above 1 says the optimization found something the kernel
likes more than any probe stimulus, as it should.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Sequence

import numpy as np

from kernelvis.analysis.tuning import channel_responses, write_csv
from kernelvis.analysis.verdict import (DSI_THRESHOLD, MAX_ERROR_DEG, TEXTURE_LABEL_PREFIXES,  # noqa: F401
                                        texture_inhibited, texture_verdict_of)
from kernelvis.errors import BadInputError
from kernelvis.geometry import angular_difference_deg
from kernelvis.models.loaded import LoadedModel

KERNEL_DIR = re.compile(r"^kernel_(\d+)$")
TUNING_SUMMARY_KEYS = ("preferred_direction_deg", "dsi")
"""What ``kernelvis tuning`` merges into summary.json."""

COLUMNS = ("model", "layer", "kernel", "preferred_direction_deg", "dsi", "preferred_speed_px_per_frame",
           "direction_deg", "direction_strength", "speed_px_per_frame", "angular_error_deg", "direction_selective",
           "agrees", "texture_preferred_direction_deg", "texture_dsi", "texture_angular_error_deg",
           "texture_direction_selective", "texture_agrees", "texture_peak_agrees", "texture_visualized_fraction",
           "texture_drive", "texture_inhibited", "refined_texture_direction_selective", "refined_texture_agrees", "grating_vs_texture_deg",
           "grating_texture_disagree",
           "activation", "best_grating_activation", "activation_vs_best_grating", "best_clip_activation",
           "activation_vs_best_clip")
LAYER_COLUMNS = ("model", "layer", "kernels", "selective", "agreeing", "agreement", "median_error_deg",
                 "texture_selective", "texture_agreeing", "texture_agreement", "texture_peak_agreeing",
                 "texture_median_drive", "texture_inhibited", "refined_texture_selective", "refined_texture_agreeing",
                 "refined_texture_agreement", "grating_texture_disagreeing")


def _natural_key(text: str):
    """layer2 before layer10."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text()) if path.is_file() else {}
    except json.JSONDecodeError as error:
        raise BadInputError(f"{path} is not valid JSON: {error}") from None


def _number(record: dict, key: str) -> float:
    value = record.get(key)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else math.nan


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if math.isfinite(numerator) and math.isfinite(denominator) and denominator > 0 else math.nan


def kernel_directories(results_dir: str | Path, model_name: str) -> list[tuple[str, int, Path]]:
    """(layer, kernel, directory) of every kernel directory of a model, layers in natural order."""
    model_dir = Path(results_dir) / model_name
    if not model_dir.is_dir():
        raise BadInputError(f"no results for model {model_name!r}: {model_dir} is not a directory")
    found = []
    for layer_dir in sorted((p for p in model_dir.iterdir() if p.is_dir()), key=lambda p: _natural_key(p.name)):
        for kernel_dir in sorted(layer_dir.iterdir()):
            match = KERNEL_DIR.match(kernel_dir.name)
            if match and kernel_dir.is_dir():
                found.append((layer_dir.name, int(match.group(1)), kernel_dir))
    return found


def kernel_directories_of(summary_paths: Sequence[str | Path]) -> list[tuple[str, int, Path]]:
    """(layer, kernel, directory) from explicit ``.../{layer}/kernel_NNNN/summary.json`` paths (as a workflow
    passes them), in the order given."""
    found = []
    for path in map(Path, summary_paths):
        match = KERNEL_DIR.match(path.parent.name)
        if not match:
            raise BadInputError(f"{path} is not inside a kernel_NNNN directory")
        found.append((path.parent.parent.name, int(match.group(1)), path.parent))
    return found


def faithfulness_row(model_name: str, layer: str, kernel: int, summary: dict, tuning: dict,
                     best_clip_activation: float = math.nan) -> dict:
    """One kernel's row (see :data:`COLUMNS`); missing inputs give NaN, never an error."""
    preferred, decomposed = _number(tuning, "preferred_direction_deg"), _number(summary, "direction_deg")
    dsi = _number(tuning, "dsi")
    both = math.isfinite(preferred) and math.isfinite(decomposed)
    error = float(angular_difference_deg(preferred, decomposed)) if both else math.nan
    selective = math.isfinite(dsi) and dsi > DSI_THRESHOLD and math.isfinite(error)
    texture_peak, texture_dsi = _number(summary, "texture_preferred_direction_deg"), _number(summary, "texture_dsi")
    texture_error = (float(angular_difference_deg(texture_peak, decomposed))
                     if math.isfinite(texture_peak) and math.isfinite(decomposed) else math.nan)
    texture_selective, texture_agrees, texture_peak_agrees = texture_verdict_of(
        summary, TEXTURE_LABEL_PREFIXES["stage2"], "direction_deg")
    refined_selective, refined_agrees, _ = texture_verdict_of(summary, TEXTURE_LABEL_PREFIXES["refined"],
                                                              "refined_direction_deg")
    grating_vs_texture = (float(angular_difference_deg(preferred, texture_peak))
                          if math.isfinite(preferred) and math.isfinite(texture_peak) else math.nan)
    activation, grating = _number(summary, "activation"), _number(tuning, "best_grating_activation")
    if not math.isfinite(best_clip_activation):  # the audit's (stage 1's objective), else an older record's
        best_clip_activation = _number(summary, "best_natural_activation")
    if not math.isfinite(best_clip_activation):
        best_clip_activation = _number(summary, "best_clip_activation")
    return {
        "model": model_name, "layer": layer, "kernel": int(kernel),
        "preferred_direction_deg": preferred, "dsi": dsi,
        "preferred_speed_px_per_frame": _number(tuning, "preferred_speed_px_per_frame"),
        "direction_deg": decomposed, "direction_strength": _number(summary, "direction_strength"),
        "speed_px_per_frame": _number(summary, "speed_px_per_frame"),
        "angular_error_deg": error, "direction_selective": int(selective),
        "agrees": int(selective and error <= MAX_ERROR_DEG),
        "texture_preferred_direction_deg": texture_peak, "texture_dsi": texture_dsi,
        "texture_angular_error_deg": texture_error, "texture_direction_selective": int(texture_selective),
        "texture_agrees": int(texture_agrees),
        "texture_peak_agrees": int(bool(texture_selective and texture_peak_agrees)),
        "texture_visualized_fraction": _number(summary, "texture_visualized_fraction"),
        "texture_drive": _number(summary, "texture_drive"),
        "texture_inhibited": int(texture_inhibited(summary, TEXTURE_LABEL_PREFIXES["stage2"])),
        "refined_texture_direction_selective": int(refined_selective), "refined_texture_agrees": int(refined_agrees),
        "grating_vs_texture_deg": grating_vs_texture,
        "grating_texture_disagree": int(selective and texture_selective and grating_vs_texture > MAX_ERROR_DEG),
        "activation": activation, "best_grating_activation": grating,
        "activation_vs_best_grating": _ratio(activation, grating),
        "best_clip_activation": best_clip_activation,
        "activation_vs_best_clip": _ratio(activation, best_clip_activation),
    }


def layer_agreement(rows: Sequence[dict]) -> list[dict]:
    """Per layer (in row order): kernels, selective (DSI > threshold), agreeing, their share, median error."""
    table = []
    for layer in dict.fromkeys(row["layer"] for row in rows):
        members = [row for row in rows if row["layer"] == layer]
        selective = [row for row in members if row["direction_selective"]]
        agreeing = sum(row["agrees"] for row in selective)
        errors = [row["angular_error_deg"] for row in selective]
        texture_selective = [row for row in members if row.get("texture_direction_selective")]
        texture_agreeing = sum(row["texture_agrees"] for row in texture_selective)
        drives = [row["texture_drive"] for row in texture_selective if math.isfinite(row.get("texture_drive", math.nan))]
        refined_selective = [row for row in members if row.get("refined_texture_direction_selective")]
        refined_agreeing = sum(row["refined_texture_agrees"] for row in refined_selective)
        table.append({"model": members[0]["model"], "layer": layer, "kernels": len(members),
                      "selective": len(selective), "agreeing": agreeing,
                      "agreement": agreeing / len(selective) if selective else math.nan,
                      "median_error_deg": float(np.median(errors)) if errors else math.nan,
                      "texture_selective": len(texture_selective), "texture_agreeing": texture_agreeing,
                      "texture_agreement": texture_agreeing / len(texture_selective) if texture_selective else math.nan,
                      "texture_peak_agreeing": sum(row["texture_peak_agrees"] for row in texture_selective),
                      "texture_median_drive": float(np.median(drives)) if drives else math.nan,
                      "texture_inhibited": sum(row.get("texture_inhibited", 0) for row in members),
                      "refined_texture_selective": len(refined_selective), "refined_texture_agreeing": refined_agreeing,
                      "refined_texture_agreement": (refined_agreeing / len(refined_selective) if refined_selective
                                                    else math.nan),
                      "grating_texture_disagreeing": " ".join(str(row["kernel"]) for row in members
                                                              if row.get("grating_texture_disagree"))})
    return table


def fit_clips(clips: np.ndarray, frames: int, size: int | tuple[int, int]) -> np.ndarray:
    """Clips (uint8, or float in [0, 1]) at the model's native shape, float32 in [0, 1]: the first
    ``frames`` frames (looped if too few), the central crop of the target's aspect ratio resized to
    ``size`` (a square side, or (H, W) for a non-square model such as TransNetV2's 27×48; bilinear).
    What a model would see of them at evaluation."""
    import torch
    import torch.nn.functional as F

    target_h, target_w = (int(size), int(size)) if np.isscalar(size) else (int(size[0]), int(size[1]))
    clips = clips.astype(np.float32) / 255.0 if clips.dtype == np.uint8 else clips.astype(np.float32)
    repeats = -(-frames // clips.shape[1])
    clips = np.concatenate([clips] * repeats, axis=1)[:, :frames]
    height, width = clips.shape[2:4]
    # Crop, never stretch: the largest central window with the target's aspect ratio.
    crop_h, crop_w = min(height, round(width * target_h / target_w)), min(width, round(height * target_w / target_h))
    top, left = (height - crop_h) // 2, (width - crop_w) // 2
    clips = clips[:, :, top:top + crop_h, left:left + crop_w]
    if (crop_h, crop_w) == (target_h, target_w):
        return np.ascontiguousarray(clips)
    n, t = clips.shape[:2]
    flat = torch.from_numpy(np.ascontiguousarray(clips)).reshape(n * t, crop_h, crop_w, 3).permute(0, 3, 1, 2)
    resized = F.interpolate(flat, size=(target_h, target_w), mode="bilinear", align_corners=False,
                            antialias=crop_h > target_h or crop_w > target_w)
    return resized.permute(0, 2, 3, 1).reshape(n, t, target_h, target_w, 3).clamp(0, 1).numpy()


def best_clip_activations(model: LoadedModel, layer: str, kernels: Sequence[int], clips: np.ndarray,
                          objective: str = "channel", batch_size: int = 16) -> np.ndarray:
    """Each kernel's largest response over the clips (float64 [len(kernels)]), one pass per chunk of clips."""
    clips = fit_clips(clips, model.preprocessing.frames, model.preprocessing.frame_shape)
    return channel_responses(model, layer, kernels, clips, objective, batch_size=batch_size).max(axis=0)


def build_faithfulness(results_dir: str | Path, model_name: str, model: LoadedModel | None = None,
                       clips: np.ndarray | None = None,
                       found: list[tuple[str, int, Path]] | None = None) -> tuple[list[dict], list[dict]]:
    """(per-kernel rows, per-layer agreement) for a model's result tree (or the kernel directories
    ``found``); with ``model`` and ``clips`` the best natural-clip activation is measured, else read
    from summary.json when present."""
    found = found if found is not None else kernel_directories(results_dir, model_name)
    if not found:
        raise BadInputError(f"no kernel_NNNN directories under {Path(results_dir) / model_name}")
    clip_best: dict[tuple[str, int], float] = {}
    if model is not None and clips is not None:
        for layer in dict.fromkeys(layer for layer, _, _ in found):
            kernels = [kernel for name, kernel, _ in found if name == layer]
            for kernel, value in zip(kernels, best_clip_activations(model, layer, kernels, clips)):
                clip_best[(layer, kernel)] = float(value)
    rows = []
    for layer, kernel, directory in found:
        summary = _read_json(directory / "summary.json")
        # tuning.json is the full record; summary.json carries its headline keys when only it was kept.
        tuning = {**{key: summary[key] for key in TUNING_SUMMARY_KEYS if key in summary},
                  **_read_json(directory / "tuning.json")}
        rows.append(faithfulness_row(model_name, layer, kernel, summary, tuning, clip_best.get((layer, kernel), math.nan)))
    return rows, layer_agreement(rows)


def save_faithfulness(rows: list[dict], agreement: list[dict], out_csv: str | Path) -> list[Path]:
    """``faithfulness.csv`` at ``out_csv`` and ``faithfulness_layers.csv`` beside it."""
    out_csv = Path(out_csv)
    layers_csv = out_csv.with_name(out_csv.stem + "_layers.csv")
    write_csv(out_csv, rows, COLUMNS)
    write_csv(layers_csv, agreement, LAYER_COLUMNS)
    return [out_csv, layers_csv]


def format_agreement_table(agreement: Sequence[dict]) -> str:
    """A markdown table of per-layer agreement (what the README and benchmarks print): gratings, the kernel's own
    stage-2 texture (the verdict, and the peak alone), the refined texture, and the kernels whose grating and
    texture optima differ."""
    lines = [f"| layer | kernels | gratings: DSI > {DSI_THRESHOLD:g} | within {MAX_ERROR_DEG:g}° | agreement | median "
             f"error | own texture: DSI > {DSI_THRESHOLD:g} | agreeing (peak alone) | agreement | median drive | "
             f"inhibited (no verdict) | refined texture: agreeing / selective | gratings and texture disagree (kernels) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]

    def share(value) -> str:
        return f"{100 * value:.0f} %" if math.isfinite(value) else "–"

    for entry in agreement:
        median = f"{entry['median_error_deg']:.0f}°" if math.isfinite(entry["median_error_deg"]) else "–"
        drive = entry.get("texture_median_drive", math.nan)
        lines.append(f"| {entry['layer']} | {entry['kernels']} | {entry['selective']} | {entry['agreeing']} | "
                     f"{share(entry['agreement'])} | {median} | {entry.get('texture_selective', 0)} | "
                     f"{entry.get('texture_agreeing', 0)} ({entry.get('texture_peak_agreeing', 0)}) | "
                     f"{share(entry.get('texture_agreement', math.nan))} | "
                     f"{f'{drive:.2f}' if math.isfinite(drive) else '–'} | {entry.get('texture_inhibited', 0)} | "
                     f"{entry.get('refined_texture_agreeing', 0)} / {entry.get('refined_texture_selective', 0)} | "
                     f"{entry.get('grating_texture_disagreeing') or '–'} |")
    return "\n".join(lines)
