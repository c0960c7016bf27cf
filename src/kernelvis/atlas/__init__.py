"""The atlas: a static, browsable site of every visualized kernel, built from ``results/``.

``build_atlas(results, out)`` writes ``out/index.html`` (models and their depth strips), a page per
layer (``out/<model>/<layer>/index.html``: every kernel as a sortable, filterable card) and a page per
kernel (``out/<model>/<layer>/kernel_NNNN/index.html``: everything the pipeline knows about it), with
the pictures and animations they show beside them. See ``docs/atlas.md``.
"""

from kernelvis.atlas.build import build_atlas

__all__ = ["build_atlas"]
