"""What a stage reads from the stages before it, in one form whether it comes from memory (an earlier stage of
this process) or from the kernel directory (an earlier job): the same conversion is applied to both, so a
kernel's result does not depend on how its stages were grouped into processes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kernelvis.errors import BadInputError

OPTIMAL_FILE = "optimal.npz"
DECOMPOSITION_FILE = "decomposition.npz"
TUNING_FILE = "tuning.json"


@dataclass(frozen=True)
class Stage1:
    """Stage 1's result as every later stage reads it."""

    video: np.ndarray
    """float32 [T, H, W, 3] in [0, 1]."""
    activation: float
    objective: str
    """The objective stage 1 maximized (``auto`` resolved): what every later stage measures."""
    preprocessing: str
    status: str
    path: Path
    """The optimal.npz it is (or will be, when it came from memory) stored in."""
    metadata: dict
    """model, layer, kernel and activation as stored in optimal.npz (merged into later stages' records)."""


def _stored(array) -> np.ndarray:
    """float32 and C-contiguous, as an array read back from an .npz is: a strided view (e.g. a transposed
    tensor's) would send torch down another reduction order, and the in-memory hand-over would differ from the
    file hand-over in the last bits."""
    return np.ascontiguousarray(np.asarray(array, dtype=np.float32))


def unit_video(video) -> np.ndarray:
    """float32 in [0, 1], C-contiguous, as :func:`kernelvis.io.read_video` returns a stored clip."""
    return np.clip(_stored(video), 0.0, 1.0)


def stage1_from_result(result, preprocessing: str, path, model_name: str, layer: str, kernel: int) -> Stage1:
    """The :class:`Stage1` of an in-memory :class:`~kernelvis.optimize.api.OptimalInput` (as if read back)."""
    activation = float(np.float32(result.activation))
    metadata = {"model": str(model_name), "layer": str(layer), "kernel": int(kernel), "activation": activation}
    return Stage1(unit_video(result.video), activation, str(result.objective), str(preprocessing),
                  str(result.status), Path(path), metadata)


def load_stage1(path) -> Stage1:
    """Stage 1's result from an ``optimal.npz``; a missing or unreadable file names the command to run."""
    from kernelvis.io import read_video

    path = Path(path)
    if not path.is_file():
        raise BadInputError(f"{path} not found: run `kernelvis optimize` for this kernel first")
    video = read_video(path)
    try:
        with np.load(path) as archive:
            text = {key: str(archive[key]) if key in archive.files else default
                    for key, default in (("objective", "channel"), ("preprocessing", "native"), ("status", "ok"))}
            activation = float(archive["activation"])
            metadata = {key: archive[key].item() for key in ("model", "layer", "kernel", "activation")
                        if key in archive.files}
    except (OSError, ValueError, KeyError) as error:
        raise BadInputError(f"cannot read {path}: {error}") from None
    return Stage1(video, activation, text["objective"], text["preprocessing"], text["status"], path, metadata)


def check_stage1_settings(stage1: Stage1, objective: str | None = None, preprocessing: str | None = None) -> None:
    """An explicit objective or preprocessing that disagrees with stage 1's is refused: every later stage must
    measure the kernel the way stage 1 optimized it."""
    for name, given in (("objective", objective), ("preprocessing", preprocessing)):
        recorded = getattr(stage1, name)
        if given not in (None, "auto") and given != recorded:
            raise BadInputError(f"--{name} {given} disagrees with {stage1.path}, which was made with {name} "
                                f"{recorded!r}; drop --{name} to use stage 1's, or re-run stage 1")


@dataclass(frozen=True)
class Stage2:
    """Stage 2's result as the refinement reads it: the texture canvas and the displacements."""

    static_canvas: np.ndarray
    """float32 [H + 2 margin, W + 2 margin, 3] in [0, 1]."""
    displacement: np.ndarray
    """float32 [T, H, W, 2]."""
    margin_px: int
    static: np.ndarray
    velocity: np.ndarray


def stage2_from_arrays(arrays: dict, path, video_shape) -> Stage2:
    """A :class:`Stage2` from decomposition arrays (an in-memory decomposition or a decomposition.npz), checked
    against the optimal video's shape."""
    displacement = _stored(arrays["displacement"])
    if arrays.get("static_canvas") is not None:
        canvas, margin_px = _stored(arrays["static_canvas"]), int(arrays["margin_px"])
    else:  # a decomposition without a canvas: the frame-sized texture, no margin
        canvas, margin_px = _stored(arrays["static"]), 0
    if displacement.shape[:3] != tuple(video_shape[:3]) or displacement.shape[-1] != 2:
        raise BadInputError(f"{path}: displacement {list(displacement.shape)} does not match the optimal video "
                            f"{list(video_shape)}")
    expected_canvas = tuple(size + 2 * margin_px for size in video_shape[1:3]) + (3,)
    if canvas.shape != expected_canvas:
        raise BadInputError(f"{path}: static canvas {list(canvas.shape)} is not {list(expected_canvas)}")
    if not (np.isfinite(displacement).all() and np.isfinite(canvas).all()):
        raise BadInputError(f"{path}: contains NaN or inf")
    return Stage2(np.clip(canvas, 0.0, 1.0), displacement, margin_px, _stored(arrays["static"]),
                  _stored(arrays["velocity"]))


def stage2_from_decomposition(decomposition, path, video_shape) -> Stage2:
    """The :class:`Stage2` of an in-memory :class:`~kernelvis.decompose.fit.Decomposition` (as if read back)."""
    return stage2_from_arrays({name: getattr(decomposition, name) for name in
                               ("displacement", "static_canvas", "margin_px", "static", "velocity")}, path, video_shape)


def load_stage2(path, video_shape) -> Stage2:
    """Stage 2's result from a ``decomposition.npz``."""
    path = Path(path)
    if not path.is_file():
        raise BadInputError(f"{path} not found: run `kernelvis decompose` for this kernel first")
    try:
        with np.load(path) as archive:
            arrays = {key: archive[key] for key in archive.files}
        return stage2_from_arrays(arrays, path, video_shape)
    except (KeyError, ValueError, OSError) as error:
        raise BadInputError(f"cannot read {path}: {error}") from None


def load_tuning_record(path, stage1: Stage1) -> dict:
    """A kernel's ``tuning.json``, refused when it was measured with another objective or preprocessing than
    stage 1's."""
    import json

    path = Path(path)
    if not path.is_file():
        raise BadInputError(f"{path} not found: run `kernelvis tuning` for this kernel first")
    record = json.loads(path.read_text())
    for key in ("objective", "preprocessing"):
        expected = getattr(stage1, key)
        if record.get(key, expected) != expected:
            raise BadInputError(f"{path} was measured with {key} {record.get(key)!r} but stage 1 used {expected!r}: "
                                f"re-run `kernelvis tuning` for this kernel")
    return record


def stage1_of(kernel_set, kernel: int, kernel_dir) -> Stage1:
    """Stage 1 of ``kernel``: left in memory by :func:`kernelvis.stages.optimize.optimize_stage` (or preloaded by
    a command from an explicit path), else read from ``kernel_dir/optimal.npz``."""
    return kernel_set.recall("optimize", kernel, lambda: load_stage1(Path(kernel_dir) / OPTIMAL_FILE))


def stage2_of(kernel_set, kernel: int, kernel_dir) -> Stage2:
    """Stage 2 of ``kernel``, from memory or ``kernel_dir/decomposition.npz``."""
    video_shape = stage1_of(kernel_set, kernel, kernel_dir).video.shape
    return kernel_set.recall("decompose", kernel, lambda: load_stage2(Path(kernel_dir) / DECOMPOSITION_FILE,
                                                                      video_shape))


def tuning_of(kernel_set, kernel: int, kernel_dir) -> dict:
    """The tuning record of ``kernel``, from memory or ``kernel_dir/tuning.json`` (checked against stage 1)."""
    stage1 = stage1_of(kernel_set, kernel, kernel_dir)
    return kernel_set.recall("tuning", kernel, lambda: load_tuning_record(Path(kernel_dir) / TUNING_FILE, stage1))
