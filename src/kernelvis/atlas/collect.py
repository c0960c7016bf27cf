"""Find what the pipeline produced: models → layers → kernels, each kernel with its summary,
provenance and the files present in its directory. Nothing here is required except a kernel's
``summary.json``: stages are optional and the atlas shows whatever exists.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from kernelvis.analysis.verdict import TEXTURE_LABEL_PREFIXES
from kernelvis.errors import BadInputError

KERNEL_DIR = re.compile(r"^kernel_(\d+)$")
NPZ_WITH_PROVENANCE = ("optimal.npz", "decomposition.npz", "refined.npz", "dataset_examples.npz",
                       "suppression/suppressed.npz")


@dataclass
class Kernel:
    model: str
    layer: str
    kernel: int
    directory: Path
    summary: dict
    provenance: dict = field(default_factory=dict)
    """Per source file: the provenance record it carries (a dict), if any."""

    @property
    def slug(self) -> str:
        return f"kernel_{self.kernel:04d}"

    def has(self, name: str) -> bool:
        return (self.directory / name).is_file()


@dataclass
class Model:
    name: str
    layers: dict[str, list[Kernel]]
    """Layer name → kernels, in depth order (as in summary.csv / the config), kernels by index."""
    directory: Path


def _read_json(path: Path) -> dict:
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise BadInputError(f"cannot read {path}: {error}") from None
    if not isinstance(value, dict):
        raise BadInputError(f"{path} does not hold a JSON object")
    return value


def _provenance_of(value) -> dict | None:
    """A provenance record given as a dict or as a JSON string; anything else is ignored."""
    if isinstance(value, np.ndarray):
        value = value.item() if value.ndim == 0 else None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {"text": value}
    return value if isinstance(value, dict) else None


def read_provenance(kernel_dir: Path, summary: dict) -> dict:
    """Provenance found in summary.json and in the npz files of a kernel directory, by source file."""
    found = {}
    record = _provenance_of(summary.get("provenance"))
    if record:
        found["summary.json"] = record
    for name in NPZ_WITH_PROVENANCE:
        path = kernel_dir / name
        if not path.is_file():
            continue
        try:
            with np.load(path, allow_pickle=False) as archive:
                if "provenance" in archive.files:
                    record = _provenance_of(archive["provenance"])
                    if record:
                        found[name] = record
        except (OSError, ValueError):  # an unreadable npz is reported by the page as a missing file
            continue
    return found


def _layer_order(model_dir: Path) -> list[str]:
    """Layer names in the order of summary.csv (the configured depth order), if it has a layer column."""
    table = model_dir / "summary.csv"
    if not table.is_file():
        return []
    with open(table, newline="") as handle:
        layers = [row.get("layer") for row in csv.DictReader(handle)]
    return list(dict.fromkeys(layer for layer in layers if layer))


def _kernel_from(summary_path: Path) -> Kernel:
    kernel_dir = summary_path.parent
    match = KERNEL_DIR.match(kernel_dir.name)
    if not match:
        raise BadInputError(f"{summary_path}: expected it inside a kernel_NNNN directory")
    summary = _read_json(summary_path)
    return Kernel(model=kernel_dir.parent.parent.name, layer=kernel_dir.parent.name, kernel=int(match.group(1)),
                  directory=kernel_dir, summary=summary, provenance=read_provenance(kernel_dir, summary))


def collect(results: str | Path, summaries: list[str | Path] | None = None) -> list[Model]:
    """Models found under ``results`` (those with per-kernel ``summary.json`` files), or exactly the kernels of
    ``summaries`` (the configured ones, as the workflow passes them) when given."""
    results = Path(results)
    if summaries:
        paths = [Path(path) for path in summaries]
    else:
        if not results.is_dir():
            raise BadInputError(f"results directory not found: {results}")
        paths = sorted(results.glob("*/*/kernel_*/summary.json"))
    if not paths:
        raise BadInputError(f"no kernel summaries (*/*/kernel_*/summary.json) under {results}: run the workflow first")
    for path in paths:
        if not path.is_file():
            raise BadInputError(f"kernel summary not found: {path}")
    by_model: dict[str, dict[str, list[Kernel]]] = {}
    model_dirs: dict[str, Path] = {}
    for path in paths:
        kernel = _kernel_from(path)
        by_model.setdefault(kernel.model, {}).setdefault(kernel.layer, []).append(kernel)
        model_dirs[kernel.model] = kernel.directory.parent.parent
    models = []
    for name, layers in by_model.items():
        order = _layer_order(model_dirs[name])
        ranked = sorted(layers, key=lambda layer: (order.index(layer) if layer in order else len(order),
                                                   list(layers).index(layer)))
        models.append(Model(name=name, directory=model_dirs[name],
                            layers={layer: sorted(layers[layer], key=lambda k: k.kernel) for layer in ranked}))
    return models


def read_tuning_curve(kernel_dir: Path) -> tuple[list[float], list[float]] | None:
    """(directions_deg, responses) of the grating condition with the strongest response, from tuning.csv."""
    path = kernel_dir / "tuning.csv"
    if not path.is_file():
        return None
    curves: dict[tuple[str, str], dict[float, float]] = {}
    with open(path, newline="") as handle:
        for row in csv.DictReader(handle):
            if row.get("stimulus", "grating") != "grating":
                continue
            try:
                direction, response = float(row["direction_deg"]), float(row["response"])
            except (KeyError, TypeError, ValueError):
                continue
            curves.setdefault((row.get("spatial_freq", ""), row.get("temporal_freq", "")), {})[direction] = response
    if not curves:
        return None
    best = max(curves.values(), key=lambda curve: max(curve.values()))
    directions = sorted(best)
    return directions, [best[d] for d in directions]


def _reference_row(curve: dict) -> list | None:
    """The ``relative`` row at speed factor 1.0 (the visualized speed); a single row when no factors are listed."""
    rows, factors = curve.get("relative"), curve.get("speed_factors")
    if not isinstance(rows, list) or not rows:
        return None
    if factors is None:
        index = 0 if len(rows) == 1 else None
    elif isinstance(factors, list) and len(factors) == len(rows):
        index = next((i for i, f in enumerate(factors) if isinstance(f, (int, float)) and not isinstance(f, bool)
                      and abs(f - 1.0) < 1e-6), None)
    else:
        index = None
    row = rows[index] if index is not None else None
    return row if isinstance(row, list) else None


def _finite_or_none(value):
    return float(value) if (isinstance(value, (int, float)) and not isinstance(value, bool)
                            and np.isfinite(value)) else None


def read_texture_tuning(kernel_dir: Path) -> dict | None:
    """What the kernel page shows of ``texture_tuning.json``: {"curves": [per texture, stage 2's then the refined:
    {"label", "directions_deg", "relative" (at the visualized speed; None where not finite), "preferred_direction_deg",
    "dsi"}], "settings": the probe's settings (a dict, or absent)}. None when the file is absent or unreadable; a
    texture whose curve is missing or malformed is left out."""
    path = kernel_dir / "texture_tuning.json"
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict):
        return None
    curves = record.get("curves") if isinstance(record.get("curves"), dict) else {}
    found = []
    for label, prefix in TEXTURE_LABEL_PREFIXES.items():
        curve = curves.get(label)
        if not isinstance(curve, dict) or not isinstance(curve.get("directions_deg"), list):
            continue
        row = _reference_row(curve)
        if row is None or len(row) != len(curve["directions_deg"]):
            continue
        found.append({"label": label, "directions_deg": [_finite_or_none(d) for d in curve["directions_deg"]],
                      "relative": [_finite_or_none(v) for v in row],
                      "preferred_direction_deg": _finite_or_none(record.get(f"{prefix}preferred_direction_deg")),
                      "dsi": _finite_or_none(record.get(f"{prefix}dsi"))})
    result = {"curves": found}
    if isinstance(record.get("settings"), dict):
        result["settings"] = record["settings"]
    return result
