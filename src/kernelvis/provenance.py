"""How an artifact was made: model, weights (file and sha256), preprocessing, objective, config, seed, versions.

Every stage stores this record as JSON in its ``.npz`` (key ``provenance``) and its stage JSON, and a
later stage reads what it must match (preprocessing, objective) from its input artifact instead of
from its own defaults (:func:`read_provenance`).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import platform
from pathlib import Path


@functools.lru_cache(maxsize=32)
def _file_sha256(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_sha256(path: str | os.PathLike) -> str:
    """sha256 of a file (cached per path, size and modification time)."""
    stat = Path(path).stat()
    return _file_sha256(str(path), stat.st_size, stat.st_mtime_ns)


def versions() -> dict:
    import numpy
    import torch

    import kernelvis

    return {"kernelvis": kernelvis.__version__, "torch": torch.__version__, "numpy": numpy.__version__,
            "python": platform.python_version()}


def model_record(model) -> dict:
    """The model part of a provenance record (a :class:`~kernelvis.models.loaded.LoadedModel`)."""
    weights = getattr(model, "weights", None)
    record = {"model": model.name, "weights_file": str(weights) if weights else None, "weights_sha256": None}
    if weights and Path(weights).is_file():
        record["weights_sha256"] = file_sha256(weights)
    return record


def _plain(value):
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: _plain(getattr(value, field.name)) for field in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def make_provenance(stage: str, model=None, config=None, **facts) -> dict:
    """One record: ``stage``, the model record, ``config`` (a dataclass or dict, made plain), extra ``facts``
    (preprocessing, objective, seed, input files, ...) and the library versions."""
    record = {"stage": stage}
    if model is not None:
        record.update(model_record(model))
    if config is not None:
        record["config"] = _plain(config)
    record.update({key: _plain(value) for key, value in facts.items()})
    record["versions"] = versions()
    return record


def provenance_json(record: dict) -> str:
    return json.dumps(record, sort_keys=True, default=str)


def read_provenance(npz_path: str | os.PathLike) -> dict:
    """The provenance record stored in an ``.npz`` (empty if it has none, e.g. an older artifact)."""
    import numpy as np

    with np.load(npz_path) as archive:
        if "provenance" not in archive.files:
            return {}
        return json.loads(str(archive["provenance"]))
