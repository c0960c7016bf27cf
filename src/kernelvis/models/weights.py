"""Finding, downloading and applying model weights.

Resolution order for a zoo model (the README's Conventions): an explicit ``--weights`` file, then the torch hub
cache ``$TORCH_HOME/hub/checkpoints/<file>`` (where torchvision and pytorchvideo put their
downloads, so weights fetched by either are reused), then a download into that cache when the
network allows. ``KERNELVIS_NO_DOWNLOAD=1`` forbids downloads; a failed download counts as offline.
Offline with nothing cached is a :class:`MissingWeightsError` whose one line says which file to put
where.

Checkpoint formats: a plain state dict, pytorchvideo's ``{"model_state": ...}`` or
``{"state_dict": ...}``; a ``module.`` prefix (DataParallel) is stripped.
"""

from __future__ import annotations

import os
import pickle
import re
import socket
import sys
import types
from collections.abc import Mapping
from pathlib import Path

import torch
import torch.nn as nn

from kernelvis.errors import BadInputError, MissingWeightsError

NO_DOWNLOAD_ENV = "KERNELVIS_NO_DOWNLOAD"
STATE_DICT_KEYS = ("model_state", "state_dict")
DOWNLOAD_TIMEOUT_S = 60.0
_TORCH_HASH = re.compile(r"-([a-f0-9]{8,})\.")  # torchvision names end in a sha256 prefix


def checkpoint_dir() -> Path:
    """``$TORCH_HOME/hub/checkpoints`` (default ``~/.cache/torch/hub/checkpoints``)."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def cached_weights(file_name: str) -> Path | None:
    path = checkpoint_dir() / file_name
    return path if path.is_file() else None


def downloads_allowed(allow_download: bool | None = None) -> bool:
    if allow_download is not None:
        return allow_download
    return os.environ.get(NO_DOWNLOAD_ENV, "").strip().lower() not in ("1", "true", "yes")


def sha256_prefix(file_name: str) -> str | None:
    match = _TORCH_HASH.search(file_name)
    return match.group(1) if match else None


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def resolve_weights_file(model_name: str, file_name: str, url: str | None, allow_download: bool | None = None,
                         hint: str = "", check_hash: bool = False) -> Path:
    """The local path of a zoo model's weights: cached, or downloaded now, else MissingWeightsError."""
    cached = cached_weights(file_name)
    if cached is not None:
        return cached
    target = checkpoint_dir() / file_name
    reason = "no download URL is known"
    if url and not downloads_allowed(allow_download):
        reason = f"downloads are disabled ({NO_DOWNLOAD_ENV}=1)"
    elif url:
        previous_timeout = socket.getdefaulttimeout()
        # urllib waits forever by default; a firewall that drops packets must count as offline too.
        socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            # Writes to a temporary file and renames: an interrupted download leaves no cache entry.
            torch.hub.download_url_to_file(url, str(target), hash_prefix=sha256_prefix(file_name) if check_hash else None,
                                           progress=sys.stderr.isatty())
            return target
        except Exception as error:  # any network failure means "offline"
            reason = f"download failed ({type(error).__name__}: {_one_line(error)[:120]})"
        finally:
            socket.setdefaulttimeout(previous_timeout)
    source = f" (from {url})" if url else ""
    extra = f"; {hint}" if hint else ""
    raise MissingWeightsError(f"no weights for model {model_name!r}: put {file_name}{source} in {target.parent}, "
                              f"or pass --weights PATH{extra}; {reason}")


class _StandIn(dict):
    """What an unimportable pickled class becomes: accepts any constructor arguments and state
    (a dict subclass, so pickled dict subclasses such as Lightning's AttributeDict load too)."""

    def __init__(self, *args, **kwargs):
        super().__init__()


class _StandInUnpickler(pickle.Unpickler):
    def find_class(self, module_name, name):
        try:
            return super().find_class(module_name, name)
        except (ModuleNotFoundError, AttributeError):
            return type(name, (_StandIn,), {"__module__": module_name})


_STAND_IN_PICKLE = types.ModuleType("kernelvis_stand_in_pickle")
_STAND_IN_PICKLE.Unpickler = _StandInUnpickler
_STAND_IN_PICKLE.load = lambda file, **kwargs: _StandInUnpickler(file, **kwargs).load()
_STAND_IN_PICKLE.__dict__.update(dumps=pickle.dumps, dump=pickle.dump, loads=pickle.loads)


def read_checkpoint(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Load a checkpoint file on the CPU and return its state dict."""
    path = Path(path)
    if not path.is_file():
        raise BadInputError(f"weights file not found: {path}")
    try:
        try:
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError:
            # Some published checkpoints pickle extra objects (configs, numpy scalars). The file is
            # one the user chose or a zoo download from its official URL, so a full unpickle is allowed.
            try:
                checkpoint = torch.load(path, map_location="cpu", weights_only=False)
            except (ModuleNotFoundError, AttributeError):
                # Training-framework objects (e.g. a PyTorch Lightning checkpoint's callback classes
                # and hparams) whose package is not installed: stand-ins keep the tensors readable.
                checkpoint = torch.load(path, map_location="cpu", weights_only=False, pickle_module=_STAND_IN_PICKLE)
    except Exception as error:
        raise BadInputError(f"cannot read weights {path}: {type(error).__name__}: {_one_line(error)[:200]}") from None
    return state_dict_of(checkpoint, str(path))


def state_dict_of(checkpoint, origin: str = "checkpoint") -> dict[str, torch.Tensor]:
    """The state dict inside a checkpoint object (plain, ``model_state`` or ``state_dict``)."""
    if isinstance(checkpoint, nn.Module):
        checkpoint = checkpoint.state_dict()
    if isinstance(checkpoint, Mapping):
        for key in STATE_DICT_KEYS:
            if isinstance(checkpoint.get(key), Mapping):
                checkpoint = checkpoint[key]
                break
    if not isinstance(checkpoint, Mapping) or not any(isinstance(v, torch.Tensor) for v in checkpoint.values()):
        raise BadInputError(f"{origin} holds no state dict (expected tensors, or a dict with 'model_state' or 'state_dict')")
    state = {str(k): v for k, v in checkpoint.items() if isinstance(v, torch.Tensor)}
    if state and all(k.startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
    return state


def apply_state_dict(module: nn.Module, state: Mapping[str, torch.Tensor], model_name: str, origin: str) -> None:
    """Load ``state`` into ``module``; any mismatch is one BadInputError line (counts and examples)."""
    expected = module.state_dict()
    # Old checkpoints predate BatchNorm's counter; it does not affect eval-mode outputs.
    missing = [k for k in expected if k not in state and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state if k not in expected]
    wrong_shape = [k for k in state if k in expected and tuple(state[k].shape) != tuple(expected[k].shape)]
    problems = []
    for label, keys in (("missing", missing), ("unexpected", unexpected), ("wrong-shape", wrong_shape)):
        if keys:
            problems.append(f"{len(keys)} {label} keys (e.g. {', '.join(keys[:3])})")
    if problems:
        raise BadInputError(f"weights {origin} do not fit model {model_name!r}: {'; '.join(problems)}")
    module.load_state_dict(state, strict=False)
