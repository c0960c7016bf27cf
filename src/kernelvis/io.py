"""Atomic file output and video/image reading and writing.

Every file the library writes goes through :func:`atomic_path`: it is written under a temporary
name in the same directory and renamed into place only once complete, so a killed run never leaves
a file that Snakemake (or a person) would take as finished. :func:`staged_directory` does the same
for a command that writes several files into one output directory.

Videos in memory are float32 ``[T, H, W, 3]`` in [0, 1] (display space, RGB).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

import numpy as np

from kernelvis.errors import BadInputError


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it to ``path`` on success, delete it on error."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".partial{path.suffix}", dir=path.parent)
    os.close(handle)
    temporary = Path(temporary)
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()


@contextlib.contextmanager
def staged_directory(out_dir: str | os.PathLike) -> Iterator[Path]:
    """Yield an empty staging directory; on success move its files into ``out_dir``.

    On error nothing reaches ``out_dir``: a failed command leaves no partial output.
    """
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.staging.", dir=out_dir.parent))
    try:
        yield staging
        out_dir.mkdir(parents=True, exist_ok=True)
        for item in sorted(staging.iterdir()):
            os.replace(item, out_dir / item.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def save_npz(path: str | os.PathLike, **arrays) -> None:
    with atomic_path(path) as temporary:
        with open(temporary, "wb") as handle:
            np.savez_compressed(handle, **arrays)


def save_json(path: str | os.PathLike, obj) -> None:
    with atomic_path(path) as temporary:
        temporary.write_text(json.dumps(_jsonable(obj), indent=2, sort_keys=True, allow_nan=False) + "\n")


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(key): _jsonable(value) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(value) for value in obj]
    if isinstance(obj, np.generic):
        return _jsonable(obj.item())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None  # NaN and inf are not JSON: a value that could not be measured is null
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    return obj


def to_uint8(image01: np.ndarray) -> np.ndarray:
    """Clip to [0, 1] and quantize; never wraps around (the paper code's uint8 overflow)."""
    return np.round(np.clip(np.asarray(image01, dtype=np.float64), 0.0, 1.0) * 255.0).astype(np.uint8)


def normalize_to_unit_range(array: np.ndarray) -> np.ndarray:
    """Min–max normalize a whole clip (or image) to [0, 1]; a constant array maps to 0.5. Returns a copy."""
    array = np.asarray(array, dtype=np.float32)
    low, high = float(array.min()), float(array.max())
    if high - low < 1e-12:
        return np.full_like(array, 0.5)
    return (array - low) / (high - low)


def write_png(path: str | os.PathLike, image01: np.ndarray) -> None:
    import imageio.v3 as iio

    with atomic_path(path) as temporary:
        iio.imwrite(temporary, to_uint8(image01), extension=".png")


def write_gif(path: str | os.PathLike, frames01: np.ndarray, fps: float = 8.0) -> None:
    """Write ``[T, H, W, 3]`` frames in [0, 1] as a looping GIF."""
    from PIL import Image

    frames = [Image.fromarray(frame) for frame in to_uint8(frames01)]
    with atomic_path(path) as temporary:
        frames[0].save(temporary, format="GIF", save_all=True, append_images=frames[1:],
                       duration=int(round(1000.0 / fps)), loop=0, optimize=False, disposal=1)


def write_mp4(path: str | os.PathLike, frames01: np.ndarray, fps: float = 8.0) -> None:
    """Write ``[T, H, W, 3]`` frames in [0, 1] as H.264 MP4 through PyAV (even sizes are padded)."""
    import av

    frames = to_uint8(frames01)
    height, width = frames.shape[1:3]
    pad_h, pad_w = height % 2, width % 2
    if pad_h or pad_w:
        frames = np.pad(frames, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")
    with atomic_path(path) as temporary:
        with av.open(str(temporary), mode="w", format="mp4") as container:
            stream = container.add_stream("libx264", rate=int(round(fps)))
            stream.width, stream.height = frames.shape[2], frames.shape[1]
            stream.pix_fmt = "yuv444p"
            stream.options = {"crf": "0", "preset": "veryfast"}
            for frame in frames:
                for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)


def read_video(path: str | os.PathLike, npz_key: str = "video") -> np.ndarray:
    """Read a video as float32 ``[T, H, W, 3]`` in [0, 1] from ``.npz`` (key ``video``), ``.gif`` or a
    container PyAV decodes (``.mp4``, ``.avi``, ``.mov``, ...). Raises :class:`BadInputError` if unreadable."""
    path = Path(path)
    if not path.is_file():
        raise BadInputError(f"video not found: {path}")
    try:
        if path.suffix.lower() == ".npz":
            with np.load(path) as archive:
                if npz_key not in archive:
                    raise BadInputError(f"{path} has no array '{npz_key}' (it has: {', '.join(archive.files)})")
                video = np.asarray(archive[npz_key])
        elif path.suffix.lower() == ".gif":
            video = _read_gif(path)
        else:
            video = _read_with_pyav(path)
    except BadInputError:
        raise
    except Exception as error:  # decoders raise many types; a person needs the file name
        raise BadInputError(f"cannot read video {path}: {type(error).__name__}: {error}") from None
    return _as_unit_video(video, path)


def _read_gif(path: Path) -> np.ndarray:
    from PIL import Image, ImageSequence

    with Image.open(path) as image:
        return np.stack([np.asarray(frame.convert("RGB")) for frame in ImageSequence.Iterator(image)])


def _read_with_pyav(path: Path) -> np.ndarray:
    import av

    with av.open(str(path)) as container:
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    if not frames:
        raise BadInputError(f"{path} contains no video frames")
    return np.stack(frames)


def _as_unit_video(video: np.ndarray, path: Path) -> np.ndarray:
    if video.ndim == 3:  # grey [T, H, W]
        video = np.repeat(video[..., None], 3, axis=-1)
    if video.ndim != 4 or video.shape[-1] != 3:
        raise BadInputError(f"{path}: expected a video shaped [T, H, W, 3], got {list(video.shape)}")
    if video.dtype == np.uint8:
        video = video.astype(np.float32) / 255.0
    video = video.astype(np.float32)
    if not np.isfinite(video).all():
        raise BadInputError(f"{path}: video contains NaN or inf")
    if video.min() < -1e-6 or video.max() > 1.0 + 1e-6:
        raise BadInputError(f"{path}: float video values must lie in [0, 1] (got {video.min():.3g}..{video.max():.3g})")
    return np.clip(video, 0.0, 1.0)


def update_json(path: str | os.PathLike, updates: dict) -> dict:
    """Merge ``updates`` into the JSON object at ``path`` (created if missing), atomically.

    Used for ``summary.json``, which accumulates each stage's scalars for one kernel.
    """
    path = Path(path)
    current = json.loads(path.read_text()) if path.is_file() else {}
    current.update(_jsonable(updates))
    save_json(path, current)
    return current
