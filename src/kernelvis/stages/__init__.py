"""The per-kernel stages, each orchestrated once: a function over a set of kernels of one layer.

Every stage function takes a :class:`KernelSet` (the model, the layer, the kernels and one directory per
kernel) and the stage's config, reads what it needs from earlier stages (from the set's memory when an
earlier stage ran in this process, else from the kernel directories, through the same loader either way),
calls the library once for the whole set where the library batches, and writes, per kernel and atomically,
its files plus ``stage_<name>.json`` (its scalars and provenance). ``summary.json`` is only ever written by
:func:`kernelvis.stages.summary.merge_kernel_summary`, from the stage records.

The commands (``kernelvis optimize``, ``decompose``, ``refine``, ``tuning``, ``deconvnet``, ``audit``) are
argument parsing plus one call of a stage function, the workflow's rules run those commands, and
``kernelvis visualize`` runs the same functions in order (:func:`kernelvis.pipeline.run_kernels`) and the same
merge as the ``kernel_summary`` rule. This package imports nothing heavy at import time (no torch), so the
Snakefile can read :data:`STAGES`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

STAGES = ("optimize", "decompose", "refine", "tuning", "texture_tuning", "deconvnet", "audit")
"""The per-kernel stages, in run and merge order (later stages win where keys repeat)."""


def stage_record_name(stage: str) -> str:
    """The file each stage writes its scalars and provenance to, in every kernel directory."""
    return f"stage_{stage}.json"


@dataclass
class KernelSet:
    """Kernels of one layer of one model, each with its own kernel directory."""

    model: Any
    """The :class:`~kernelvis.models.loaded.LoadedModel`."""
    layer: str
    kernels: tuple[int, ...]
    dirs: tuple[Path, ...]
    """One kernel directory per kernel: where every stage reads and writes that kernel's files."""
    device: str = "cpu"
    memory: dict = field(default_factory=dict)
    """(stage, kernel) -> what a stage left for later ones in this process (same form as its loader returns)."""

    def __post_init__(self):
        self.kernels = tuple(int(kernel) for kernel in self.kernels)
        self.dirs = tuple(Path(directory) for directory in self.dirs)
        if len(self.kernels) != len(self.dirs):
            raise ValueError(f"{len(self.kernels)} kernels but {len(self.dirs)} kernel directories")

    @classmethod
    def in_layer_dir(cls, model, layer: str, kernels: Sequence[int], layer_dir, device: str = "cpu") -> "KernelSet":
        """Kernel directories ``layer_dir/kernel_{k:04d}``, the layout of ``results/{model}/{layer}/``."""
        return cls(model, layer, tuple(kernels), tuple(Path(layer_dir) / f"kernel_{int(k):04d}" for k in kernels),
                   device)

    def items(self):
        """(kernel, kernel directory) pairs in order."""
        return zip(self.kernels, self.dirs)

    def remember(self, stage: str, kernel: int, value) -> None:
        self.memory[(stage, int(kernel))] = value

    def recall(self, stage: str, kernel: int, load):
        """What ``stage`` left for ``kernel`` in this process, else ``load()`` (from the kernel directory)."""
        key = (stage, int(kernel))
        if key not in self.memory:
            self.memory[key] = load()
        return self.memory[key]
