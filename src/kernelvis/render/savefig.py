"""Saving matplotlib figures atomically (PNG, and PDF beside it when asked)."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: figures are files, never windows
import matplotlib.pyplot as plt  # noqa: E402

from kernelvis.io import atomic_path  # noqa: E402


def save_figure(figure, path: str | os.PathLike, also_pdf: bool = False, dpi: int = 120) -> list[Path]:
    """Write ``figure`` to ``path`` (format from the suffix) and optionally ``path`` with ``.pdf``; close it."""
    path = Path(path)
    targets = [path] + ([path.with_suffix(".pdf")] if also_pdf and path.suffix != ".pdf" else [])
    try:
        for target in targets:
            with atomic_path(target) as temporary:
                figure.savefig(temporary, format=target.suffix.lstrip("."), dpi=dpi, bbox_inches="tight")
    finally:
        plt.close(figure)
    return targets
