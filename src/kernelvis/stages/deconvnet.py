"""Zeiler & Fergus beside ours for a set of kernels: each kernel's top clips of a clip set, their DeconvNet
projections and the comparison figure (optimal input | texture + motion | top clips); per kernel
dataset_examples.npz/.png/.gif, deconv.png, comparison.png and ``stage_deconvnet.json``."""

from __future__ import annotations

from kernelvis.stages import KernelSet
from kernelvis.stages.inputs import stage1_of, stage2_of
from kernelvis.stages.records import kernel_stage_output


def fit_to_model(model, clips):
    """A clip set brought to the model's native clip shape (e.g. the 48×48 clip set for TransNetV2's 27×48:
    cropped to its aspect, resized)."""
    native = (model.preprocessing.frames, *model.preprocessing.frame_shape)
    if tuple(clips.shape[1:4]) == native:
        return clips
    from kernelvis.analysis.faithfulness import fit_clips

    return fit_clips(clips, native[0], native[1:])


def write_dataset_examples(examples, out_dir, title: str, comparison: dict | None = None) -> dict:
    """dataset_examples.npz/.png/.gif and deconv.png of ``examples`` into ``out_dir`` and, with ``comparison``
    (optimal_video, optimal_activation, static, velocity of the same kernel), comparison.png. Returns the
    natural_to_optimal_ratio entry (empty without ``comparison``)."""
    from kernelvis.io import save_npz, write_gif
    from kernelvis.render.baseline_figures import (comparison_figure, dataset_examples_figure, deconv_figure,
                                                   tube_grid_video)
    from kernelvis.render.savefig import save_figure

    save_npz(out_dir / "dataset_examples.npz", **examples.arrays())
    save_figure(dataset_examples_figure(examples.crops, examples.projection_crops, examples.indices,
                                        examples.max_activations, examples.labels, title=title),
                out_dir / "dataset_examples.png")
    write_gif(out_dir / "dataset_examples.gif", tube_grid_video(examples.crops), fps=4.0)
    save_figure(deconv_figure(examples.clips, examples.projections, examples.boxes, examples.indices, title=title),
                out_dir / "deconv.png")
    if comparison is None:
        return {}
    optimal_activation = float(comparison["optimal_activation"])
    ratio = examples.natural_activation / optimal_activation if abs(optimal_activation) > 1e-12 else None
    save_figure(comparison_figure(comparison["optimal_video"], comparison["static"], comparison["velocity"],
                                  examples.crops, examples.projection_crops, optimal_activation,
                                  examples.natural_activation, title=title), out_dir / "comparison.png")
    return {"natural_to_optimal_ratio": ratio}


def deconvnet_stage(kernel_set: KernelSet, clips_path, top: int = 9, batch_size: int = 8, mode: str = "autograd",
                    seed: int = 0, compare: bool = True) -> list[dict]:
    """Top clips and DeconvNet projections of every kernel of ``kernel_set`` on the clip set ``clips_path`` (one
    scan of the clips for the whole set: each kernel's maxima come from the same forward passes whatever the
    set); ``compare``: also the comparison figure from the kernel's stage 1 and 2. Returns each kernel's record."""
    from kernelvis.baselines.dataset_examples import dataset_examples, load_clips, scan_activations

    model, layer = kernel_set.model, kernel_set.layer
    clips, labels = load_clips(clips_path)
    clips = fit_to_model(model, clips)
    scan = scan_activations(model, layer, list(kernel_set.kernels), clips, batch_size)
    records = []
    for column, (kernel, kernel_dir) in enumerate(kernel_set.items()):
        examples = dataset_examples(model, layer, kernel, clips, labels, top=top, batch_size=batch_size, mode=mode,
                                    seed=seed, scan=scan, kernel_column=column)
        comparison = None
        if compare:
            stage1, stage2 = stage1_of(kernel_set, kernel, kernel_dir), stage2_of(kernel_set, kernel, kernel_dir)
            comparison = {"optimal_video": stage1.video, "optimal_activation": stage1.activation,
                          "static": stage2.static, "velocity": stage2.velocity}
        record = {"model": model.name, "layer": layer, "kernel": kernel,
                  "natural_activation": examples.natural_activation,
                  "natural_max_activation": examples.natural_max_activation,
                  "natural_activation_clip": examples.natural_activation_index}
        with kernel_stage_output(kernel_dir, "deconvnet", record) as staging:
            record.update(write_dataset_examples(examples, staging, f"{model.name} {layer} kernel {kernel}",
                                                 comparison))
        records.append(record)
    return records
