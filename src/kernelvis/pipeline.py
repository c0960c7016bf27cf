"""Every per-kernel stage of a set of kernels in one process: what ``kernelvis visualize`` runs.

The stages are the functions of :mod:`kernelvis.stages` (one per name of :data:`~kernelvis.stages.STAGES`),
the same the workflow's rules run through their commands, and the merge is the ``kernel_summary`` rule's
(:func:`kernelvis.stages.summary.merge_kernel_summary`), so a kernel visualized here and by the workflow with
the same settings has the same files, arrays and summary.json.

To add a stage ``NAME``: write ``NAME_stage(kernel_set, ...)`` in ``kernelvis/stages/NAME.py`` writing its files
and ``stage_NAME.json`` per kernel, insert ``"NAME"`` into :data:`~kernelvis.stages.STAGES` after the stages whose
results it reads, call it from :func:`run_kernels` below, give it a command (argument parsing plus one call) and a
rule writing ``results/{model}/{layer}/kernel_{kernel}/stage_NAME.json`` (``tests/test_pipeline.py`` checks the
rules against :data:`~kernelvis.stages.STAGES`).
"""

from __future__ import annotations

from dataclasses import dataclass

from kernelvis.stages import STAGES, KernelSet, stage_record_name

__all__ = ["STAGES", "PipelineSettings", "run_kernels"]


@dataclass(frozen=True)
class PipelineSettings:
    """The settings of every stage; each config is the one its command builds from the same options."""

    optimize: object
    """:class:`~kernelvis.optimize.api.OptimizeConfig`; its preprocessing is every later stage's."""
    decompose: object
    """:class:`~kernelvis.decompose.config.DecomposeConfig`."""
    refine: object
    """:class:`~kernelvis.analysis.refine_config.RefineConfig`; objective and preprocessing come from stage 1."""
    tuning: object
    """:class:`~kernelvis.analysis.tuning.TuningConfig`; the objective comes from stage 1."""
    texture_tuning: object = None
    """:class:`~kernelvis.analysis.texture_tuning.TextureTuningConfig` (None: its defaults)."""
    clips: str | None = None
    """Clip set for the DeconvNet top clips and the audit's best natural clip; None: neither."""
    neutral_textures: int = 4
    refine_seed: int = 0
    deconvnet_seed: int = 0
    motion_scale: float | None = None
    skip: frozenset = frozenset()
    """Stages not to run (``refine``, ``tuning``, ``texture_tuning``, ``deconvnet``; optimize, decompose and
    audit always run)."""


def stages_to_run(settings: PipelineSettings) -> tuple[str, ...]:
    """The stages of :data:`STAGES` that run, in order: all but the skipped ones; DeconvNet needs a clip set."""
    return tuple(name for name in STAGES
                 if name in ("optimize", "decompose", "audit")
                 or (name not in settings.skip and (name != "deconvnet" or settings.clips)))


def run_kernels(kernel_set: KernelSet, settings: PipelineSettings) -> list[dict]:
    """Run every stage of :func:`stages_to_run` over ``kernel_set``, then merge each kernel's stage records into
    its summary.json and draw its panel. Returns the summaries, in kernel order."""
    from kernelvis.stages.audit import audit_stage
    from kernelvis.stages.decompose import decompose_stage
    from kernelvis.stages.deconvnet import deconvnet_stage
    from kernelvis.stages.optimize import optimize_stage
    from kernelvis.stages.refine import refine_stage
    from kernelvis.stages.summary import merge_kernel_summary
    from kernelvis.stages.texture_tuning import texture_tuning_stage
    from kernelvis.stages.tuning import tuning_stage

    names = stages_to_run(settings)
    run = {
        "optimize": lambda: optimize_stage(kernel_set, settings.optimize, settings.clips),
        "decompose": lambda: decompose_stage(kernel_set, settings.decompose, settings.motion_scale),
        "refine": lambda: refine_stage(kernel_set, settings.refine, settings.neutral_textures, settings.refine_seed),
        "tuning": lambda: tuning_stage(kernel_set, settings.tuning),
        "texture_tuning": lambda: texture_tuning_stage(kernel_set, settings.texture_tuning,
                                                       use_refined="refine" in names),
        "deconvnet": lambda: deconvnet_stage(kernel_set, settings.clips, seed=settings.deconvnet_seed),
        "audit": lambda: audit_stage(kernel_set, settings.clips, use_tuning="tuning" in names),
    }
    for name in names:
        run[name]()
    return [merge_kernel_summary(kernel_dir, [kernel_dir / stage_record_name(name) for name in names],
                                 kernel_set.model.name, kernel_set.layer, settings.motion_scale)
            for kernel_dir in kernel_set.dirs]
