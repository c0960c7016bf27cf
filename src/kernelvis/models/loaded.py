"""The loaded-model record that every stage receives."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch.nn as nn

from kernelvis.models.preprocessing import Preprocessing


@dataclass
class LoadedModel:
    name: str
    """Zoo name, or the file SPEC as given (used in result paths and titles)."""
    module: nn.Module
    """In eval mode, parameters frozen (requires_grad False)."""
    preprocessing: Preprocessing = field(default_factory=Preprocessing)
    weights: str | None = None
    """Where the weights came from (a path), or None for random/built-in weights."""

    def __post_init__(self):
        self.module.eval()
        for parameter in self.module.parameters():
            parameter.requires_grad_(False)
