"""Decode a fixed-length clip from a video file: T frames at a frame stride, short side resized,
centre-cropped to a square. PyAV does the decoding (torchvision's reader is gone)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from kernelvis.errors import BadInputError

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".gif")


def resize_short_side_and_centre_crop(frame: np.ndarray, size: int) -> np.ndarray:
    """uint8 [H, W, 3] -> uint8 [size, size, 3]: scale so the short side is ``size`` (antialiased),
    then cut the central square."""
    from PIL import Image

    height, width = frame.shape[:2]
    scale = size / min(height, width)
    new_width, new_height = max(size, round(width * scale)), max(size, round(height * scale))
    resized = np.asarray(Image.fromarray(frame).resize((new_width, new_height), Image.BICUBIC, reducing_gap=None))
    top, left = (new_height - size) // 2, (new_width - size) // 2
    return np.ascontiguousarray(resized[top:top + size, left:left + size, :3])


def _decoded_frames(path: Path):
    """Yield uint8 [H, W, 3] RGB frames in order."""
    if path.suffix.lower() == ".gif":
        from PIL import Image, ImageSequence

        with Image.open(path) as image:
            for frame in ImageSequence.Iterator(image):
                yield np.asarray(frame.convert("RGB"))
        return
    import av

    with av.open(str(path)) as container:
        if not container.streams.video:
            raise BadInputError(f"{path} has no video stream")
        for frame in container.decode(video=0):
            yield frame.to_ndarray(format="rgb24")


def clip_frame_indices(available_frames: int, frames: int, stride: int,
                       window: tuple[int, int] | None = None) -> tuple[np.ndarray, bool]:
    """Indices of ``frames`` frames ``stride`` apart, centred in the video; (indices, complete).

    ``window`` = (k, K) takes the k-th of K start times spread evenly from the first frame to the
    last possible start instead (several clips from one video). A video shorter than the span
    repeats its last frame (``complete`` = False), so a short clip is still usable but the manifest
    can say so.
    """
    span = (frames - 1) * stride + 1
    slack = max(0, available_frames - span)
    if window is None or window[1] <= 1:
        start = slack // 2
    else:
        index, count = window
        start = int(round(index * slack / (count - 1)))
    indices = start + stride * np.arange(frames)
    return np.minimum(indices, available_frames - 1), span <= available_frames


@lru_cache(maxsize=2)
def _small_frames(path: Path, size: int, modified_ns: int) -> tuple[np.ndarray, ...]:
    """Every frame of a video, resized and cropped; cached so several windows of one video decode
    it once (``modified_ns`` keys the cache to the file's version)."""
    try:
        # Frame counts in container headers are unreliable: decode once, keeping small copies only.
        return tuple(resize_short_side_and_centre_crop(frame, size) for frame in _decoded_frames(path))
    except BadInputError:
        raise
    except Exception as error:  # decoders raise many types; a person needs the file name
        raise BadInputError(f"cannot decode {path}: {type(error).__name__}: {error}") from None


def decode_clip(path: str | Path, frames: int, stride: int, size: int,
                window: tuple[int, int] | None = None) -> tuple[np.ndarray, bool]:
    """(uint8 [frames, size, size, 3], complete) from the centre of a video file (or from the
    ``window`` = (k, K)-th of K evenly spread start times, see :func:`clip_frame_indices`).

    Raises :class:`BadInputError` when the file cannot be decoded or holds no frames.
    """
    path = Path(path)
    if frames < 1 or stride < 1 or size < 1:
        raise BadInputError(f"frames, stride and size must be >= 1 (got {frames}, {stride}, {size})")
    if not path.is_file():
        raise BadInputError(f"cannot decode {path}: no such file")
    small = _small_frames(path.resolve(), int(size), path.stat().st_mtime_ns)
    if not small:
        raise BadInputError(f"{path} contains no video frames")
    indices, complete = clip_frame_indices(len(small), frames, stride, window)
    return np.stack([small[index] for index in indices]), complete
