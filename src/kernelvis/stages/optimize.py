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


def optimize_stage(kernel_set: KernelSet, config) -> list:
    """The optimal input of every kernel of ``kernel_set`` (``config``: an
    :class:`~kernelvis.optimize.api.OptimizeConfig`), optimized in one batch. A dead or diverged kernel is a
    recorded status of that kernel, never a failed run. Returns the :class:`~kernelvis.optimize.api.OptimalInput`
    of each kernel, in order, and leaves each kernel's :class:`~kernelvis.stages.inputs.Stage1` in memory."""
    from kernelvis.optimize.api import optimize_kernels
    from kernelvis.optimize.save import optimal_scalars, write_optimal

    model, layer = kernel_set.model, kernel_set.layer
    results = optimize_kernels(model, layer, list(kernel_set.kernels), config)
    for (kernel, kernel_dir), result in zip(kernel_set.items(), results):
        provenance = optimize_provenance(model, layer, kernel, config)
        with kernel_stage_output(kernel_dir, "optimize",
                                 optimal_scalars(result, model.name, layer, kernel, provenance)) as staging:
            write_optimal(result, staging, model.name, layer, kernel, provenance)
        kernel_set.remember("optimize", kernel,
                            stage1_from_result(result, config.preprocessing, kernel_dir / OPTIMAL_FILE,
                                               model.name, layer, kernel))
    return results
