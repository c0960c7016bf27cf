"""Writing one kernel's stage output: its files and ``stage_<name>.json`` move into the kernel directory
together, or not at all."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator

from kernelvis.stages import stage_record_name


@contextlib.contextmanager
def kernel_stage_output(kernel_dir, stage: str, record: dict) -> Iterator[Path]:
    """Yield a staging directory for the stage's files; on success ``record`` (filled in by the caller inside
    the block) is written as ``stage_<stage>.json`` and everything moves into ``kernel_dir`` at once."""
    from kernelvis.io import save_json, staged_directory

    with staged_directory(Path(kernel_dir)) as staging:
        yield staging
        save_json(staging / stage_record_name(stage), record)
