"""The per-kernel pipeline: one function per stage, composed by ``kernelvis visualize`` and mirrored by the
workflow, where each stage is one rule writing ``results/{model}/{layer}/kernel_{kernel}/stage_<name>.json``.

:data:`STAGES` is the order the stages run in and the order their results are merged into ``summary.json``
(later stages win where keys repeat). The workflow reads the same list (``kernel_summary_inputs`` in
workflow/rules/common.smk, ``kernelvis figures kernel``), and ``tests/test_pipeline.py`` checks that the
per-kernel stage rules are exactly these. This module imports nothing heavy at import time (no torch), so the
Snakefile can read :data:`STAGES`.

Every stage function takes one :class:`KernelRun` (the model, the kernel, the configs, the output directory and
what earlier stages produced) and

- reads only what its docstring names (fields of the run, earlier stages' results on it),
- writes its files into ``run.out`` and merges its scalars into ``run.out / "summary.json"``,
- returns its result (also stored on the run when a later stage reads it).

To add a stage ``NAME``:

1. write ``def NAME(run: KernelRun)`` here and insert ``"NAME"`` into :data:`STAGES` where it belongs (after the
   stages whose results it reads);
2. add ``rule NAME`` to workflow/rules/ with output ``results/{model}/{layer}/kernel_{kernel}/stage_NAME.json``
   (``kernel_summary`` then merges it; an optional stage is switched by ``NAME: {enabled: ...}`` in the config,
   see ``kernel_stage_enabled`` in common.smk);
3. if ``kernelvis visualize`` should be able to skip it, add it to the run's ``skip`` set from an option.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STAGES = ("optimize", "decompose", "refine", "tuning", "deconvnet", "audit")
"""The per-kernel stages, in run and merge order."""


@dataclass
class KernelRun:
    """One kernel's pipeline: inputs (set by the caller) and the results stages hand to later ones."""

    model: Any
    """The :class:`~kernelvis.models.loaded.LoadedModel`."""
    layer: str
    kernel: int
    out: Path
    """The kernel directory every stage writes into (``kernelvis visualize``: a staging directory)."""
    optimize_config: Any
    """:class:`~kernelvis.optimize.api.OptimizeConfig`; its preprocessing is every later stage's."""
    decompose_config: Any
    """:class:`~kernelvis.decompose.config.DecomposeConfig`."""
    refine_config: Any
    """:class:`~kernelvis.analysis.refine_config.RefineConfig`; objective and preprocessing are replaced by stage
    1's."""
    clips: str | None = None
    """Clip set (.npz) for the audit's best natural clip and the DeconvNet top clips; None: neither."""
    neutral_textures: int = 4
    """Smooth-noise textures averaged for the motion-on-neutral-texture activation (refine)."""
    motion_scale: float | None = None
    """px/frame at full HSV brightness in the motion GIFs and the panel; None: robust per-kernel scale."""
    seed: int = 0
    device: str = "cpu"
    skip: frozenset[str] = frozenset()
    """Stages not to run (e.g. ``{"tuning"}``)."""
    optimal: Any = None
    """Set by :func:`optimize`: the :class:`~kernelvis.optimize.api.OptimalInput`."""
    decomposition: Any = None
    """Set by :func:`decompose`: the :class:`~kernelvis.decompose.fit.Decomposition`."""
    tuning: dict | None = None
    """Set by :func:`tuning`: the tuning.json record."""
    results: dict = field(default_factory=dict)
    """What each stage returned, by stage name."""

    @property
    def summary_path(self) -> Path:
        return Path(self.out) / "summary.json"

    @property
    def preprocessing(self) -> str:
        return self.optimize_config.preprocessing

    @property
    def objective(self) -> str:
        """The objective stage 1 maximized (after ``auto`` was resolved): what every later stage measures."""
        return self.optimal.objective


def optimize(run: KernelRun):
    """Stage 1, the optimal input. Reads the model, ``optimize_config``. Writes optimal.npz, optimal.gif; merges
    model, layer, kernel, activation, objective, status into summary.json. Returns (and sets ``run.optimal``)
    the :class:`~kernelvis.optimize.api.OptimalInput`."""
    from kernelvis.commands.optimize import optimize_provenance
    from kernelvis.optimize.api import optimize_kernels, save_optimal

    (run.optimal,) = optimize_kernels(run.model, run.layer, [run.kernel], run.optimize_config)
    save_optimal(run.optimal, run.out, run.model.name, run.layer, run.kernel, summary_path=run.summary_path,
                 provenance=optimize_provenance(run.model, run.layer, run.kernel, run.optimize_config))
    return run.optimal


def decompose(run: KernelRun):
    """Stage 2, texture + motion + appearance change of the optimal input. Reads ``run.optimal``,
    ``decompose_config``, ``motion_scale``. Writes decomposition.npz, static.png, motion.gif, recon.gif,
    arrows.png; merges the motion summary (direction, speed, shares, recon PSNR) into summary.json. Returns (and
    sets ``run.decomposition``) the :class:`~kernelvis.decompose.fit.Decomposition`."""
    from kernelvis.commands.decompose import write_decomposition
    from kernelvis.decompose.fit import decompose_video
    from kernelvis.decompose.stats import motion_summary

    run.decomposition = decompose_video(run.optimal.video, run.decompose_config)
    write_decomposition(run.decomposition, run.out, motion_summary(run.optimal.video, run.decomposition),
                        run.motion_scale, run.summary_path)
    return run.decomposition


def refine(run: KernelRun) -> dict:
    """Texture and motion optimized against the kernel, and its reliance on each. Reads the model,
    ``run.optimal``, ``run.decomposition``, ``refine_config`` (with stage 1's objective and preprocessing),
    ``neutral_textures``, ``seed``. Writes refined.npz, texture.png, motion_refined.gif (nothing with 0 refine
    steps); merges and returns the activations after each step, the reliance indices and the refined
    direction."""
    from dataclasses import replace

    from kernelvis.analysis.reliance import refine_with_reliance
    from kernelvis.commands.refine import write_refined
    from kernelvis.io import update_json

    config = replace(run.refine_config, objective=run.objective, preprocessing=run.preprocessing)
    if config.steps <= 0:
        return {}
    decomposition = run.decomposition
    _, arrays, scalars = refine_with_reliance(run.model, run.layer, run.kernel, run.optimal.video,
                                              decomposition.static_canvas, decomposition.displacement,
                                              decomposition.margin_px, config, run.neutral_textures, run.seed)
    write_refined(run.out, arrays, run.optimal.video)
    update_json(run.summary_path, scalars)
    return scalars


def tuning(run: KernelRun) -> dict:
    """Direction tuning sweep with stage 1's objective and preprocessing. Reads the model, ``run.optimal``,
    ``device``. Writes tuning.csv, tuning.json; merges preferred_direction_deg, dsi, best_stimulus into
    summary.json. Returns (and sets ``run.tuning``) the tuning.json record."""
    from kernelvis.analysis.tuning import TuningConfig, save_tuning, tune_kernels
    from kernelvis.io import update_json
    from kernelvis.optimize.api import model_preprocessing

    config = TuningConfig(objective=run.objective)
    (result,) = tune_kernels(run.model, run.layer, [run.kernel], config,
                             preprocessing=model_preprocessing(run.model, run.preprocessing), device=run.device)
    run.tuning = save_tuning(result, run.out, run.model.name, run.layer, config, run.preprocessing)
    update_json(run.summary_path, {key: run.tuning[key] for key in ("preferred_direction_deg", "dsi", "best_stimulus")})
    return run.tuning


def deconvnet(run: KernelRun) -> dict:
    """Zeiler & Fergus beside ours: top clips, their DeconvNet projections and the comparison figure. Reads the
    model, ``clips`` (skipped without), ``run.optimal``, ``run.decomposition``. Writes dataset_examples.npz/.png/
    .gif, deconv.png, comparison.png; merges and returns natural_activation, natural_max_activation,
    natural_activation_clip, natural_to_optimal_ratio."""
    from kernelvis.baselines.dataset_examples import load_clips
    from kernelvis.commands.deconvnet import write_dataset_examples
    from kernelvis.io import update_json

    if not run.clips:
        return {}
    clips, labels = load_clips(run.clips)
    stage_outputs = {"optimal_video": run.optimal.video, "optimal_activation": run.optimal.activation,
                     "decomposition_static": run.decomposition.static,
                     "decomposition_velocity": run.decomposition.velocity}
    summary, _ = write_dataset_examples(run.model, run.layer, run.kernel, clips, labels, run.out, stage_outputs,
                                        seed=run.seed)
    update_json(run.summary_path, summary)
    return summary


def audit(run: KernelRun) -> dict:
    """The optimality audit: the optimal input against the best tuning stimulus (if :func:`tuning` ran) and the
    best natural clip of ``clips`` (if given), all with stage 1's objective and preprocessing. Reads the model,
    ``run.optimal``, ``run.tuning``, ``clips``. Writes nothing of its own; merges and returns the verdict
    (audit_pass, ratios), natural_max_response and, for a kernel nowhere positive on the optimal input, the sweep and the clips, status silent."""
    import math

    from kernelvis.analysis.verdict import audit_verdict, kernel_status
    from kernelvis.io import update_json

    scalars, best_natural = {}, math.nan
    best_stimulus = run.tuning["best_stimulus_activation"] if run.tuning is not None else math.nan
    if run.clips:
        from kernelvis.analysis.audit import natural_responses_like
        from kernelvis.baselines.dataset_examples import load_clips
        from kernelvis.optimize.api import model_preprocessing

        clips, _ = load_clips(run.clips)
        natural = natural_responses_like(run.model, run.layer, run.kernel, clips, run.optimal.video, run.objective,
                                         model_preprocessing(run.model, run.preprocessing), run.device)
        best_natural = natural.best_activation
        scalars["natural_max_response"] = natural.max_response
        if kernel_status(run.optimal.status, run.optimal.activation, best_stimulus, natural.max_response)[0] == "silent":
            scalars["status"] = "silent"
    scalars.update(audit_verdict(run.optimal.activation, best_stimulus, best_natural))
    update_json(run.summary_path, scalars)
    return scalars


STAGE_FUNCTIONS = {name: globals()[name] for name in STAGES}
"""Stage name -> its function (every name of :data:`STAGES` has one)."""


def run_kernel(run: KernelRun) -> dict:
    """Run every stage of :data:`STAGES` not in ``run.skip``, in order, then draw panel.png and panel.gif from
    the merged summary.json. Returns the summary. optimize and decompose are never skipped: every later stage
    reads them."""
    import json

    from kernelvis.render.panels import write_kernel_panel

    for name in STAGES:
        if name not in run.skip or name in ("optimize", "decompose"):
            run.results[name] = STAGE_FUNCTIONS[name](run)
    summary = json.loads(run.summary_path.read_text())
    write_kernel_panel(run.out, summary, run.motion_scale)
    return summary
