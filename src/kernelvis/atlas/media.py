"""Pictures and animations for the atlas, derived from a kernel's arrays.

Every animation is written as MP4 (H.264, yuv420p: the profile every current browser decodes) for
``<video>``, and as a looping GIF the page falls back to when the video cannot play. Small clips are enlarged by an integer factor with nearest-neighbour sampling (the
pixels are the data; smoothing would invent detail) and large ones shrunk, so a page never ships a
224-px clip where 96 px are shown.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from kernelvis.io import atomic_path, to_uint8

THUMB_PX = 96
"""Longest side of card pictures and card animations."""
LARGE_PX = 240
"""Longest side (at most) of kernel-page pictures and animations."""
FPS = 8.0


def resize_nearest(frames: np.ndarray, target_px: int) -> np.ndarray:
    """Resize ``[..., H, W, C]`` so its longest side is close to ``target_px``: integer repetition when
    enlarging, strided block averaging when shrinking (both keep pixels square and crisp)."""
    height, width = frames.shape[-3:-1]
    longest = max(height, width)
    if longest <= target_px:
        factor = max(1, target_px // longest)
        return frames.repeat(factor, axis=-3).repeat(factor, axis=-2)
    step = int(np.ceil(longest / target_px))
    rows, columns = height // step, width // step
    cropped = frames[..., :rows * step, :columns * step, :]
    shape = cropped.shape[:-3] + (rows, step, columns, step, cropped.shape[-1])
    return cropped.reshape(shape).mean(axis=(-4, -2))


def _even(frames_uint8: np.ndarray) -> np.ndarray:
    """H.264 and VP9 in yuv420p need even sizes: pad by repeating the last row/column."""
    pad_h, pad_w = frames_uint8.shape[1] % 2, frames_uint8.shape[2] % 2
    if pad_h or pad_w:
        frames_uint8 = np.pad(frames_uint8, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")
    return frames_uint8


def _encode(path: Path, frames01: np.ndarray, container_format: str, codec: str, options: dict) -> None:
    import av

    frames = _even(to_uint8(frames01))
    with atomic_path(path) as temporary:
        with av.open(str(temporary), mode="w", format=container_format) as container:
            stream = container.add_stream(codec, rate=int(round(FPS)))
            stream.width, stream.height = frames.shape[2], frames.shape[1]
            stream.pix_fmt = "yuv420p"
            stream.options = options
            for frame in frames:
                for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)


def write_gif_native(path: str | os.PathLike, frames01: np.ndarray, max_px: int) -> str:
    """A looping GIF at the clip's own resolution (shrunk to ``max_px`` if larger): pages enlarge it with
    pixelated CSS, so the fallback stays small. One fast-octree palette per frame (PIL's default
    median cut is ~5x slower and no better on these clips)."""
    from PIL import Image

    frames = to_uint8(resize_nearest(np.asarray(frames01, dtype=np.float32), max_px)
                      if max(np.shape(frames01)[1:3]) > max_px else frames01)
    images = [Image.fromarray(frame).quantize(colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
              for frame in frames]
    path = Path(path)
    with atomic_path(path) as temporary:
        images[0].save(temporary, format="GIF", save_all=True, append_images=images[1:],
                       duration=int(round(1000.0 / FPS)), loop=0, optimize=False, disposal=1)
    return path.name


def poster_index(frames01: np.ndarray) -> int:
    """The frame a still of the clip shows: the one with the most content, i.e. the largest spread of its pixel
    values (standard deviation over pixels and channels), ties going to the frame nearest the middle. A flickering
    clip whose middle frame is black (or one flat colour) gets a frame that shows its pattern. Where every frame is
    flat (a uniform field), the brightest, so a clip that fades from black is not shown black."""
    frames = np.asarray(frames01, dtype=np.float32)
    count = len(frames)
    if count <= 1:
        return 0
    flat = frames.reshape(count, -1)
    spread = flat.std(axis=1)
    score = spread if spread.max() > 1.0 / 255 else flat.mean(axis=1)
    middle = count // 2
    best = score.max()
    candidates = np.flatnonzero(score >= best - 1e-6 * max(1.0, abs(float(best))))
    return int(candidates[np.argmin(np.abs(candidates - middle))])


def write_animation(stem: str | os.PathLike, frames01: np.ndarray, target_px: int) -> dict:
    """``stem.mp4`` (enlarged to about ``target_px``: H.264 halves colour resolution, which would smear a
    48-px clip), ``stem.gif`` (fallback, native resolution) and the poster ``stem.png`` (the frame with the most
    content, :func:`poster_index`; native resolution) of ``[T, H, W, 3]`` frames in [0, 1].
    Returns {"mp4", "gif", "png"} → file name."""
    stem = Path(stem)
    frames = np.clip(np.asarray(frames01, dtype=np.float32), 0.0, 1.0)
    names = {kind: stem.with_name(f"{stem.name}.{kind}") for kind in ("mp4", "gif", "png")}
    _encode(names["mp4"], resize_nearest(frames, target_px), "mp4", "libx264",
            {"crf": "16", "preset": "veryfast", "movflags": "+faststart"})
    write_gif_native(names["gif"], frames, target_px)
    write_picture(names["png"], frames[poster_index(frames)], target_px, enlarge=False)
    return {kind: path.name for kind, path in names.items()}


def write_picture(path: str | os.PathLike, image01: np.ndarray, target_px: int, enlarge: bool = True) -> str:
    """A PNG of ``[H, W, 3]`` in [0, 1] resized to about ``target_px`` (only shrunk if not ``enlarge``)."""
    from PIL import Image

    image01 = np.asarray(image01, dtype=np.float32)
    if enlarge or max(image01.shape[:2]) > target_px:
        image01 = resize_nearest(image01, target_px)
    image = to_uint8(image01)
    path = Path(path)
    with atomic_path(path) as temporary:
        Image.fromarray(image).save(temporary, format="PNG", optimize=True)
    return path.name


def copy_png_resized(source: str | os.PathLike, destination: str | os.PathLike, max_px: int) -> str:
    """Copy a PNG made elsewhere by the pipeline, shrunk (never enlarged) to ``max_px`` on its longest side."""
    from PIL import Image

    destination = Path(destination)
    with Image.open(source) as image:
        image = image.convert("RGB")
        scale = max_px / max(image.size)
        if scale < 1.0:
            image = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))),
                                 Image.Resampling.LANCZOS)
        with atomic_path(destination) as temporary:
            image.save(temporary, format="PNG", optimize=True)
    return destination.name
