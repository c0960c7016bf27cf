"""Which kernels of a layer a run visualizes, and how they are grouped into jobs. Torch-free: the Snakefile
reads it while it builds the DAG.

A layer's kernels are given as ``all`` (every output channel), a range ``"0-15"`` (both ends included), a
comma list ``"0,3,7"``, a single index, or a YAML list ``[0, 3, 7]``. A layer's channel count, needed for ``all``
and to check the others, is measured by ``kernelvis layers --model SPEC --layer L --json`` in a subprocess (the
Snakefile imports no torch) and cached per model spec and layer.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

RANGE = re.compile(r"^\s*(\d+)\s*-\s*(\d+)\s*$")


class KernelSpecError(ValueError):
    """A kernel selection that cannot be read or names kernels the layer does not have."""


def parse_kernels(spec, channels: int | None = None) -> list[int]:
    """The sorted, distinct kernel indices of ``spec`` (see the module docstring). ``channels``: the layer's
    output channels, required for ``all`` and used to check every index."""
    if isinstance(spec, bool):
        raise KernelSpecError(f"not a kernel selection: {spec!r}")
    if isinstance(spec, int):
        kernels = [spec]
    elif isinstance(spec, (list, tuple)):
        kernels = [index for item in spec for index in parse_kernels(item)]
    elif isinstance(spec, str):
        text = spec.strip()
        if text == "all":
            if channels is None:
                raise KernelSpecError("'all' needs the layer's channel count")
            kernels = list(range(channels))
        elif "," in text:
            kernels = [index for part in text.split(",") if part.strip() for index in parse_kernels(part)]
        elif RANGE.match(text):
            first, last = (int(value) for value in RANGE.match(text).groups())
            if last < first:
                raise KernelSpecError(f"empty kernel range {text!r} (write first-last, first <= last)")
            kernels = list(range(first, last + 1))
        elif text.isdigit():
            kernels = [int(text)]
        else:
            raise KernelSpecError(f"cannot read kernels {spec!r}: write all, a range like 0-15, a list like "
                                  f"0,3,7 or [0, 3, 7]")
    else:
        raise KernelSpecError(f"cannot read kernels {spec!r}")
    kernels = sorted(set(kernels))
    if any(index < 0 for index in kernels):
        raise KernelSpecError(f"negative kernel index in {spec!r}")
    if channels is not None and kernels and kernels[-1] >= channels:
        raise KernelSpecError(f"kernel {kernels[-1]} out of range: the layer has {channels} kernels (0..{channels - 1})")
    if not kernels:
        raise KernelSpecError(f"no kernels in {spec!r}")
    return kernels


def needs_channel_count(spec) -> bool:
    return isinstance(spec, str) and spec.strip() == "all"


def chunks(kernels: Sequence[int], kernels_per_job: int) -> list[list[int]]:
    """``kernels`` in order, in consecutive groups of at most ``kernels_per_job``: one job per group and stage."""
    if kernels_per_job < 1:
        raise KernelSpecError(f"kernels_per_job must be at least 1 (got {kernels_per_job})")
    return [list(kernels[start:start + kernels_per_job]) for start in range(0, len(kernels), kernels_per_job)]


def chunk_label(kernels: Sequence[int]) -> str:
    """A chunk's name in logs and rule names: ``0003`` for one kernel, ``0000-0023`` for consecutive ones, else
    the first and last with the count (``0000-0030n8``)."""
    first, last = kernels[0], kernels[-1]
    if first == last:
        return f"{first:04d}"
    consecutive = last - first + 1 == len(kernels)
    return f"{first:04d}-{last:04d}" + ("" if consecutive else f"n{len(kernels)}")


def format_kernels(kernels: Sequence[int]) -> str:
    """The shortest spec that :func:`parse_kernels` reads back as ``kernels`` (a range or a comma list)."""
    if len(kernels) > 1 and kernels[-1] - kernels[0] + 1 == len(kernels):
        return f"{kernels[0]}-{kernels[-1]}"
    return ",".join(str(kernel) for kernel in kernels)


def sample_evenly(kernels: Sequence[int], count: int | None) -> list[int]:
    """``count`` kernels spread evenly over ``kernels`` (first and last included); None: all of them."""
    if count is None or count >= len(kernels):
        return list(kernels)
    if count <= 0:
        return []
    if count == 1:
        return [kernels[0]]
    return [kernels[round(i * (len(kernels) - 1) / (count - 1))] for i in range(count)]


@dataclass(frozen=True)
class Chunk:
    """One job's kernels: a consecutive group of one layer's selected kernels."""

    model: str
    layer: str
    kernels: tuple[int, ...]

    @property
    def label(self) -> str:
        return chunk_label(self.kernels)

    @property
    def spec(self) -> str:
        return format_kernels(self.kernels)

    @property
    def layer_dir(self) -> str:
        return f"results/{self.model}/{self.layer}"

    def kernel_dirs(self) -> list[str]:
        return [f"{self.layer_dir}/kernel_{kernel:04d}" for kernel in self.kernels]

    def files(self, name: str) -> list[str]:
        return [f"{directory}/{name}" for directory in self.kernel_dirs()]

    def rule_name(self, stage: str) -> str:
        """A rule name unique to this stage and chunk (letters, digits and underscores)."""
        return re.sub(r"\W", "_", f"{stage}__{self.model}__{self.layer}__{self.label}")


def layer_channels(model_spec: str, layer: str, cache_dir, python: str | None = None) -> int:
    """The output channels of ``layer`` of ``model_spec``, from ``cache_dir`` or measured once by
    ``kernelvis layers --json`` in a subprocess (random weights: the count does not depend on them). A bad layer
    name raises :class:`KernelSpecError` with the command's message (it lists the valid layers)."""
    key = model_spec
    if ":" in model_spec and Path(model_spec.split(":")[0]).is_file():  # a model file: its content is the model
        key += hashlib.sha256(Path(model_spec.split(":")[0]).read_bytes()).hexdigest()
    cache = Path(cache_dir) / f"{hashlib.sha256(f'{key}|{layer}'.encode()).hexdigest()[:20]}.json"
    if cache.is_file():
        return int(json.loads(cache.read_text())["channels"])
    command = [python or sys.executable, "-m", "kernelvis.cli", "layers", "--model", model_spec, "--layer", layer,
               "--json"]
    result = subprocess.run(command, capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS="1"))
    if result.returncode != 0:
        lines = (result.stderr or result.stdout).strip().splitlines()
        reason = lines[-1].removeprefix("kernelvis: error: ") if lines else f"exit status {result.returncode}"
        raise KernelSpecError(f"cannot list the kernels of {model_spec} layer {layer!r}: {reason}")
    record = json.loads(result.stdout)
    channels = int(record["output_shape"][0])
    cache.parent.mkdir(parents=True, exist_ok=True)
    temporary = cache.with_suffix(f".{os.getpid()}.tmp")
    temporary.write_text(json.dumps({"model": model_spec, "layer": layer, "channels": channels}))
    os.replace(temporary, cache)
    return channels
