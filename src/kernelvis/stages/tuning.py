"""Direction tuning of a set of kernels: one shared sweep (gratings, plaids, random dots) per objective and
preprocessing, measured the way each kernel's stage 1 was; per kernel ``tuning.csv``, ``tuning.json``,
``tuning_polar.png`` and ``stage_tuning.json``."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from kernelvis.stages import KernelSet
from kernelvis.stages.inputs import OPTIMAL_FILE, stage1_of
from kernelvis.stages.records import kernel_stage_output

SUMMARY_KEYS = ("preferred_direction_deg", "dsi", "best_stimulus_activation", "best_stimulus")


def tuning_settings(kernel_set: KernelSet, config, preprocessing: str | None = None) -> list[tuple[str, str, str]]:
    """(objective, preprocessing, optimal.npz or "") each kernel is measured with: its stage 1's where the kernel
    has one (in memory or in its directory), else ``config.objective`` and ``preprocessing`` (default native)."""
    settings = []
    for kernel, kernel_dir in kernel_set.items():
        if ("optimize", kernel) in kernel_set.memory or (Path(kernel_dir) / OPTIMAL_FILE).is_file():
            stage1 = stage1_of(kernel_set, kernel, kernel_dir)
            settings.append((stage1.objective, stage1.preprocessing, str(stage1.path)))
        else:
            settings.append((config.objective, preprocessing or "native", ""))
    return settings


def tuning_stage(kernel_set: KernelSet, config, preprocessing: str | None = None) -> list[dict]:
    """The tuning sweep of every kernel of ``kernel_set`` (``config``: a
    :class:`~kernelvis.analysis.tuning.TuningConfig`; objective and preprocessing per kernel from
    :func:`tuning_settings`). Kernels that share an objective and preprocessing share one sweep. Returns each
    kernel's tuning.json record and leaves it in memory for the audit."""
    from kernelvis.analysis.tuning import save_tuning, tune_kernels
    from kernelvis.optimize.api import model_preprocessing
    from kernelvis.provenance import make_provenance
    from kernelvis.render.tuning_plot import write_polar_tuning

    model, layer = kernel_set.model, kernel_set.layer
    settings = tuning_settings(kernel_set, config, preprocessing)
    records: list[dict | None] = [None] * len(kernel_set.kernels)
    for objective, preprocessing_name in dict.fromkeys((o, p) for o, p, _ in settings):
        positions = [i for i, (o, p, _) in enumerate(settings) if (o, p) == (objective, preprocessing_name)]
        group_config = replace(config, objective=objective)
        tunings = tune_kernels(model, layer, [kernel_set.kernels[i] for i in positions], group_config,
                               preprocessing=model_preprocessing(model, preprocessing_name), device=kernel_set.device)
        for position, tuning in zip(positions, tunings):
            kernel, kernel_dir = kernel_set.kernels[position], kernel_set.dirs[position]
            provenance = make_provenance("tuning", model, group_config, layer=layer, kernel=kernel,
                                         preprocessing=preprocessing_name, objective=objective,
                                         optimal=settings[position][2] or None)
            stage_record = {}
            with kernel_stage_output(kernel_dir, "tuning", stage_record) as staging:
                record = save_tuning(tuning, staging, model.name, layer, group_config, preprocessing_name, provenance)
                write_polar_tuning(staging / "tuning_polar.png", tuning, title=f"{model.name} {layer} kernel {kernel}")
                stage_record.update({"model": model.name, "layer": layer, "kernel": kernel,
                                     "tuning_objective": objective, **{key: record[key] for key in SUMMARY_KEYS}})
            kernel_set.remember("tuning", kernel, record)
            records[position] = record
    return records
