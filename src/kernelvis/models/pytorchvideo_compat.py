"""The one place that makes pytorchvideo 0.1.5 importable next to torchvision >= 0.17.

pytorchvideo 0.1.5 (the last PyPI release) imports ``torchvision.transforms.functional_tensor``,
which torchvision renamed to ``_functional_tensor`` in 0.15 and removed in 0.17, so
``import pytorchvideo.transforms`` (and anything that pulls it in, e.g. ``pytorchvideo.data``)
fails with ``ModuleNotFoundError`` (docs/zoo.md). We alias the old name to the new module
before importing pytorchvideo. Model builders come only from the installed
``pytorchvideo.models.hub`` (never ``torch.hub.load`` of the remote repo, whose hubconf does not
match the installed package). Every other module that needs pytorchvideo imports it through
:func:`import_pytorchvideo`.
"""

from __future__ import annotations

import importlib
import sys
import warnings
from types import ModuleType
from typing import Callable

import torch.nn as nn

_OLD_NAME = "torchvision.transforms.functional_tensor"


def install_functional_tensor_shim() -> None:
    """Make ``torchvision.transforms.functional_tensor`` importable (idempotent)."""
    if _OLD_NAME in sys.modules:
        return
    try:
        importlib.import_module(_OLD_NAME)  # an old torchvision still has it
        return
    except ModuleNotFoundError:
        pass
    import torchvision.transforms as transforms
    from torchvision.transforms import _functional_tensor

    sys.modules[_OLD_NAME] = _functional_tensor
    transforms.functional_tensor = _functional_tensor


def import_pytorchvideo(module_name: str = "pytorchvideo") -> ModuleType:
    """Import ``pytorchvideo`` or one of its submodules with the shim in place."""
    if module_name != "pytorchvideo" and not module_name.startswith("pytorchvideo."):
        raise ValueError(f"not a pytorchvideo module: {module_name!r}")
    install_functional_tensor_shim()
    with warnings.catch_warnings():
        # pytorchvideo's mobile-CPU blocks call torch.jit.script at import; the deprecation notice
        # is about pytorchvideo's code, not the user's, and would print on every command.
        warnings.filterwarnings("ignore", category=FutureWarning, message=".*torch.jit.script.*")
        return importlib.import_module(module_name)


def hub_builder(name: str) -> Callable[[], nn.Module]:
    """A zero-argument builder for ``pytorchvideo.models.hub.<name>`` with random weights.

    The import happens when the builder is called: importing pytorchvideo takes seconds and most
    commands need only one model.
    """

    def build() -> nn.Module:
        hub = import_pytorchvideo("pytorchvideo.models.hub")
        return getattr(hub, name)(pretrained=False)

    build.__name__ = f"pytorchvideo_{name}"
    build.__qualname__ = build.__name__
    return build
