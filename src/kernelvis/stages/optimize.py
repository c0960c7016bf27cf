"""Stage 1 over a set of kernels: one batched optimization (kernels × restarts), then per kernel
``optimal.npz``, ``optimal.gif`` and ``stage_optimize.json``."""

from __future__ import annotations

from kernelvis.stages import KernelSet
from kernelvis.stages.inputs import OPTIMAL_FILE, stage1_from_result
from kernelvis.stages.records import kernel_stage_output


def optimize_provenance(model, layer: str, kernel: int, config) -> dict:
    """How a stage-1 result was made (stored in optimal.npz; later stages read preprocessing and objective)."""
    from kernelvis.provenance import make_provenance

    return make_provenance("optimize", model, config, layer=layer, kernel=int(kernel),
                           preprocessing=config.preprocessing, objective_requested=config.objective,
                           seed=config.seed, native_preprocessing=model.preprocessing)


def optimize_stage(kernel_set: KernelSet, config, reference_clips=None) -> list:
    """The optimal input of every kernel of ``kernel_set`` (``config``: an
    :class:`~kernelvis.optimize.api.OptimizeConfig`), optimized in one batch. A dead or diverged kernel is a
    recorded status of that kernel, never a failed run. Returns the :class:`~kernelvis.optimize.api.OptimalInput`
    of each kernel, in order, and leaves each kernel's :class:`~kernelvis.stages.inputs.Stage1` in memory.

    Then the audit's references are looked for (the best stimulus of the default tuning sweep and, with
    ``reference_clips``, a clip-set path, the best natural clip; one sweep and one pass for the whole set): a
    kernel whose every restart ended below its best reference is restarted from that reference and keeps the
    better by the true objective (recorded as ``reference_restart`` in the provenance)."""
    from kernelvis.analysis.audit import audit_reference_clips
    from kernelvis.optimize.api import model_preprocessing, optimize_kernels, reference_restart
    from kernelvis.optimize.save import optimal_scalars, write_optimal

    model, layer = kernel_set.model, kernel_set.layer
    results = optimize_kernels(model, layer, list(kernel_set.kernels), config)
    clips = None
    if reference_clips:
        from kernelvis.baselines.dataset_examples import load_clips

        clips, _ = load_clips(reference_clips)
    references = audit_reference_clips(model, layer, results, model_preprocessing(model, config.preprocessing),
                                       clips, device=config.device)
    results = reference_restart(model, layer, results, references, config)
    for (kernel, kernel_dir), result in zip(kernel_set.items(), results):
        provenance = optimize_provenance(model, layer, kernel, config)
        record = {**optimal_scalars(result, model.name, layer, kernel, provenance),
                  "reference_restart": getattr(result, "reference_restart", None)}
        with kernel_stage_output(kernel_dir, "optimize", record) as staging:
            write_optimal(result, staging, model.name, layer, kernel, provenance)
        kernel_set.remember("optimize", kernel,
                            stage1_from_result(result, config.preprocessing, kernel_dir / OPTIMAL_FILE,
                                               model.name, layer, kernel))
    return results
