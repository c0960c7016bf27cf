"""Sample a labelled clip set from Kinetics (or any folder of videos) reproducibly.

Sources (docs/data.md):

* annotation CSV (``label,youtube_id,time_start,time_end,split``): clips at
  ``<root>/<split>/<youtube_id>_<start:06d>_<end:06d>.mp4`` (cvdfoundation layout; the class-folder
  place ``<root>/<split>/<label>/<same name>`` is tried too);
* class folders: ``<root>/<split>/<label>/<clip>.<ext>`` (or ``<root>/<label>/...`` without split);
* a plain video folder: every video file below ``<root>``, labelled by its parent folder.

For every class, candidates are shuffled with a seed derived from (seed, class name), and tried in
that order until ``per_class`` clips decode. Missing and corrupt files are skipped, counted and listed
in the manifest; only an empty result is an error. Output: ``clips.npz`` (``clips`` uint8
[N, T, H, W, 3], ``labels`` int64 [N] into ``class_names``, ``clip_ids``) and a manifest CSV
(label, id, start, end, path, status, sha256) recording every file that was tried.
"""

from __future__ import annotations

import csv
import difflib
import hashlib
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kernelvis.data.video import VIDEO_SUFFIXES, decode_clip
from kernelvis.errors import BadInputError
from kernelvis.io import atomic_path, save_npz

MANIFEST_COLUMNS = ("label", "id", "start", "end", "path", "status", "sha256")
STATUSES = ("ok", "short", "missing", "corrupt")
"""``short``: decoded, but the video was shorter than frames × stride (last frame repeated)."""


@dataclass(frozen=True)
class ClipSource:
    label: str
    clip_id: str
    path: Path
    start: int | None = None
    """seconds into the YouTube video (annotation CSVs only)"""
    end: int | None = None
    window: tuple[int, int] | None = None
    """(k, K): the k-th of K evenly spread start times in the video (several clips per video); None: centred"""


def kinetics_file_name(youtube_id: str, start: int, end: int) -> str:
    return f"{youtube_id}_{start:06d}_{end:06d}.mp4"


def annotation_sources(root: str | Path, annotations_csv: str | Path, split: str) -> list[ClipSource]:
    """Clips listed in a Kinetics annotation CSV (rows of other splits are ignored)."""
    root, annotations_csv = Path(root), Path(annotations_csv)
    if not annotations_csv.is_file():
        raise BadInputError(f"annotation CSV not found: {annotations_csv}")
    with open(annotations_csv, newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"label", "youtube_id", "time_start", "time_end"} - set(reader.fieldnames or ())
        if missing:
            raise BadInputError(f"{annotations_csv} lacks the columns {sorted(missing)} "
                                "(expected label,youtube_id,time_start,time_end,split)")
        sources = []
        for row in reader:
            if row.get("split") and row["split"] != split:
                continue
            start, end = int(float(row["time_start"])), int(float(row["time_end"]))
            name = kinetics_file_name(row["youtube_id"], start, end)
            flat, in_class_folder = root / split / name, root / split / row["label"] / name
            path = in_class_folder if not flat.exists() and in_class_folder.exists() else flat
            sources.append(ClipSource(row["label"], Path(name).stem, path, start, end))
    return sources


def _video_files(folder: Path) -> list[Path]:
    return sorted(path for path in folder.rglob("*") if path.suffix.lower() in VIDEO_SUFFIXES and path.is_file())


def folder_sources(root: str | Path, split: str | None = None) -> list[ClipSource]:
    """Videos under ``<root>/<split>`` (or ``<root>`` when that does not exist), labelled by their
    parent folder (``<root>`` itself gives the label ``all``): class folders and plain folders alike."""
    root = Path(root)
    if not root.is_dir():
        raise BadInputError(f"video folder not found: {root}")
    base = root / split if split and (root / split).is_dir() else root
    return [ClipSource(path.parent.name if path.parent != base else "all", str(path.relative_to(base).with_suffix("")),
                       path) for path in _video_files(base)]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def choose_classes(sources: list[ClipSource], classes: list[str] | None) -> list[str]:
    """The requested classes (validated, in the order given) or all labels, sorted."""
    available = sorted({source.label for source in sources})
    if not available:
        raise BadInputError("no clips found in the source (check --root, --split and --annotations)")
    if not classes:
        return available
    for name in classes:
        if name not in available:
            by_lower = {label.lower(): label for label in available}
            close = [by_lower[m] for m in difflib.get_close_matches(name.lower(), list(by_lower), n=5, cutoff=0.6)]
            hint = f"; did you mean: {', '.join(close)}" if close else f" ({len(available)} classes available)"
            raise BadInputError(f"unknown class {name!r}{hint}")
    return list(dict.fromkeys(classes))


@dataclass
class ClipSet:
    clips: np.ndarray
    """uint8 [N, T, H, W, 3]"""
    labels: np.ndarray
    """int64 [N], index into class_names"""
    class_names: list[str]
    clip_ids: list[str]
    manifest: list[dict]
    """one row per file tried (MANIFEST_COLUMNS)"""

    @property
    def status_counts(self) -> dict[str, int]:
        return dict(Counter(row["status"] for row in self.manifest))


def sample_clips(sources: list[ClipSource], classes: list[str] | None, per_class: int, frames: int, stride: int,
                 size: int, seed: int = 0) -> ClipSet:
    """Decode up to ``per_class`` clips per class (see the module docstring). Reproducible by seed."""
    if per_class < 1:
        raise BadInputError(f"--per-class must be >= 1 (got {per_class})")
    class_names = choose_classes(sources, classes)
    clips, labels, clip_ids, manifest = [], [], [], []
    for label_index, label in enumerate(class_names):
        candidates = sorted((s for s in sources if s.label == label), key=lambda s: s.clip_id)
        # A per-class stream: adding a class to the list never changes another class's sample.
        rng = np.random.default_rng([seed, zlib.crc32(label.encode())])
        decoded = 0
        for position in rng.permutation(len(candidates)):
            if decoded == per_class:
                break
            source = candidates[position]
            row = {"label": label, "id": source.clip_id, "start": "" if source.start is None else source.start,
                   "end": "" if source.end is None else source.end, "path": str(source.path), "sha256": ""}
            if not source.path.is_file():
                manifest.append({**row, "status": "missing"})
                continue
            row["sha256"] = sha256_of(source.path)
            try:
                clip, complete = decode_clip(source.path, frames, stride, size, source.window)
            except BadInputError:
                manifest.append({**row, "status": "corrupt"})
                continue
            manifest.append({**row, "status": "ok" if complete else "short"})
            clips.append(clip)
            labels.append(label_index)
            clip_ids.append(source.clip_id)
            decoded += 1
    if not clips:
        counts = Counter(row["status"] for row in manifest)
        raise BadInputError(f"no clip could be decoded ({counts.get('missing', 0)} missing, "
                            f"{counts.get('corrupt', 0)} corrupt of {len(manifest)} tried)")
    return ClipSet(np.stack(clips), np.array(labels, dtype=np.int64), class_names, clip_ids, manifest)


def write_manifest(path: str | Path, manifest: list[dict]) -> None:
    with atomic_path(path) as temporary:
        with open(temporary, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=MANIFEST_COLUMNS)
            writer.writeheader()
            writer.writerows(manifest)


def save_clip_set(clip_set: ClipSet, clips_path: str | Path, manifest_path: str | Path | None = None) -> None:
    """``clips.npz`` (clips, labels, class_names, clip_ids) and, if asked, the manifest CSV."""
    save_npz(clips_path, clips=clip_set.clips, labels=clip_set.labels,
             class_names=np.array(clip_set.class_names, dtype=str), clip_ids=np.array(clip_set.clip_ids, dtype=str))
    if manifest_path is not None:
        write_manifest(manifest_path, clip_set.manifest)


def load_clip_set(path: str | Path) -> ClipSet:
    """Read a ``clips.npz`` written by :func:`save_clip_set` (manifest not included)."""
    path = Path(path)
    if not path.is_file():
        raise BadInputError(f"clip set not found: {path} (make it with `kernelvis synthetic-clips` or "
                            "`kernelvis sample-clips`)")
    with np.load(path, allow_pickle=False) as archive:
        if "clips" not in archive.files:
            raise BadInputError(f"{path} has no array 'clips' (it has: {', '.join(archive.files)})")
        clips = archive["clips"]
        labels = archive["labels"] if "labels" in archive.files else np.zeros(len(clips), np.int64)
        class_names = [str(name) for name in archive["class_names"]] if "class_names" in archive.files else ["all"]
        clip_ids = ([str(name) for name in archive["clip_ids"]] if "clip_ids" in archive.files
                    else [str(index) for index in range(len(clips))])
    return ClipSet(clips, labels, class_names, clip_ids, [])


def read_manifest(path: str | Path) -> list[dict]:
    """Rows of a manifest CSV written by :func:`write_manifest` (an absent file gives no rows)."""
    path = Path(path)
    if not path.is_file():
        return []
    with open(path, newline="") as handle:
        return [{column: row.get(column, "") for column in MANIFEST_COLUMNS} for row in csv.DictReader(handle)]


def merge_clip_sets(first: ClipSet, second: ClipSet) -> ClipSet:
    """``first``'s clips, then ``second``'s (so indices into ``first`` stay valid); classes of the
    same name are shared, manifests are concatenated."""
    if first.clips.shape[1:] != second.clips.shape[1:]:
        raise BadInputError(f"cannot merge clip sets of different clip shapes (T, H, W, 3): "
                            f"{tuple(first.clips.shape[1:])} and {tuple(second.clips.shape[1:])}; "
                            "sample both with the same --frames and --size")
    names = list(first.class_names) + [name for name in second.class_names if name not in first.class_names]
    relabel = np.array([names.index(name) for name in second.class_names], dtype=np.int64)
    labels = np.concatenate([first.labels.astype(np.int64), relabel[second.labels]])
    return ClipSet(np.concatenate([first.clips, second.clips]), labels, names,
                   list(first.clip_ids) + list(second.clip_ids), list(first.manifest) + list(second.manifest))
