# Config validation, wildcard constraints and input helpers. No science here: rules call `kernelvis`.
import re
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

try:  # the per-kernel stages, in merge order: one list for `kernelvis visualize` and these rules (torch-free import)
    from kernelvis.stages import STAGES as KERNEL_STAGES
except ImportError:  # snakemake run from an environment without kernelvis (e.g. --sdm conda): read the source tree
    sys.path.insert(0, str(Path(workflow.basedir) / "src"))
    from kernelvis.stages import STAGES as KERNEL_STAGES
from kernelvis.kernel_sets import (Chunk, KernelSpecError, chunks, layer_channels, needs_channel_count, parse_kernels,
                                   sample_evenly)

# `--config 'resources={gpu: 1, ...}'` (the SLURM profile's, or one on the command line) reads nested values as
# strings (snakemake parses them with YAML's BaseLoader): whole numbers there are numbers.
for _key, _value in list((config.get("resources") or {}).items()):
    if isinstance(_value, str) and _value.strip().isdigit():
        config["resources"][_key] = int(_value)

validate(config, schema="../schemas/config.schema.yaml")

MODELS = {entry["name"]: entry for entry in config["models"]}
# Where `all` layer sizes are cached (measured once by `kernelvis layers` in a subprocess: no torch here).
LAYER_SIZE_CACHE = Path(".snakemake") / "kernelvis" / "layer_channels"


def _layers_of(model):
    return list(MODELS[model]["layers"])


def _resolve_kernels(model, layer, spec):
    try:
        channels = (layer_channels(MODELS[model]["spec"], layer, LAYER_SIZE_CACHE)
                    if needs_channel_count(spec) else None)
        return parse_kernels(spec, channels)
    except KernelSpecError as error:
        raise WorkflowError(f"config: model {model!r}, layer {layer!r}: {error}")


# model -> layer -> the selected kernels (config `layers: {conv2: all | "0-15" | [0, 3]}`), resolved once.
KERNELS = {
    model: {layer: _resolve_kernels(model, layer, spec) for layer, spec in MODELS[model]["layers"].items()}
    for model in MODELS
}


def kernels_per_job(model):
    """How many of a layer's kernels one job of a per-kernel stage runs together (batched): the model's own
    `kernels_per_job`, else the top-level one, else 1."""
    return int(MODELS[model].get("kernels_per_job", config.get("kernels_per_job", 1)))


# Every job's kernels: each layer's selected kernels in consecutive groups of kernels_per_job.
CHUNKS = [
    Chunk(model, layer, tuple(group))
    for model in MODELS
    for layer, kernels in KERNELS[model].items()
    for group in chunks(kernels, kernels_per_job(model))
]


def kernel_dirs(model):
    """Every configured kernel directory of one model, in layer order."""
    return [
        f"results/{model}/{layer}/kernel_{kernel:04d}"
        for layer, kernels in KERNELS[model].items()
        for kernel in kernels
    ]


def _alternatives(names):
    return "|".join(re.escape(str(name)) for name in names)


wildcard_constraints:
    model=_alternatives(MODELS),
    layer=_alternatives({layer for model in MODELS for layer in _layers_of(model)}),
    kernel=r"\d{4}",


def model_setting(model, stage, key, default=None):
    """A stage setting of one model: the model entry's own `stage:` block overrides the top-level one."""
    own = MODELS[model].get(stage) or {}
    if key in own:
        return own[key]
    return (config.get(stage) or {}).get(key, default)


def weights_flag(model):
    weights = model_weights(model)
    return f"--weights {weights}" if weights else ""


def chunk_log(chunk, stage):
    return f"logs/{chunk.model}/{chunk.layer}/chunk_{chunk.label}/{stage}.log"


def chunk_benchmark(chunk, stage):
    return f"results/benchmarks/{chunk.model}/{chunk.layer}/chunk_{chunk.label}/{stage}.tsv"


def setting(stage, key, default=None):
    """Input function: a stage setting of the wildcard's model: the model entry's own `stage:` block
    overrides the top-level one (e.g. fewer optimize steps for a big network)."""

    def lookup(wildcards):
        own = MODELS[wildcards.model].get(stage) or {}
        if key in own:
            return own[key]
        return (config.get(stage) or {}).get(key, default)

    return lookup


def kernel_index(wildcards):
    return int(wildcards.kernel)


def model_kernel_files(name):
    """Input function: one file per configured kernel of the wildcard's model."""
    return lambda wildcards: [f"{kdir}/{name}" for kdir in kernel_dirs(wildcards.model)]


def model_spec(wildcards):
    return MODELS[wildcards.model]["spec"]


def model_weights(model):
    """The weights file a model's jobs need as input, or [] when the zoo resolves them itself
    (torch hub cache) or the model needs none."""
    entry = MODELS[model]
    if entry.get("train"):
        return "results/demo/demo_model.pt"
    if entry.get("weights"):
        return entry["weights"]
    return []


def weights_option(wildcards, input):
    return f"--weights {input.weights}" if input.get("weights") else ""


def stage_enabled(stage):
    return bool(config.get(stage, {}).get("enabled", True))


def baseline_enabled(method):
    return bool(config.get("baselines", {}).get(method, {}).get("enabled", False))


def baseline_options(method):
    return config.get("baselines", {}).get(method, {}).get("options", "")


def kernel_stage_enabled(stage):
    """A per-kernel stage runs unless switched off: `STAGE: {enabled: false}`, or for the classic methods
    `baselines: {STAGE: {enabled: ...}}` (off unless enabled)."""
    if stage == "deconvnet" or stage in config.get("baselines", {}):
        return baseline_enabled(stage)
    return stage_enabled(stage)


def suppression_clip_option(wildcards, input):
    """``--index N`` from the config, else the clip the kernel responds to most (its top-1)."""
    index = config.get("baselines", {}).get("suppression", {}).get("clip_index")
    if index is not None:
        return f"--index {int(index)}"
    examples = f"--examples {input.examples}" if input.get("examples") else ""
    return f"--index best {examples}"


def suppression_kernel_dirs(model):
    """The kernel directories suppression runs on: each layer's kernels, or `kernels_per_layer` of them spread
    evenly (suppression costs a full optimization per kernel, so whole layers may keep a sample)."""
    count = config.get("baselines", {}).get("suppression", {}).get("kernels_per_layer")
    return [
        f"results/{model}/{layer}/kernel_{kernel:04d}"
        for layer, kernels in KERNELS[model].items()
        for kernel in sample_evenly(kernels, count)
    ]


def model_figures(model):
    figures = [
        f"results/{model}/summary.csv",
        f"results/{model}/figures/depth_grid.png",
        f"results/{model}/figures/depth_grid.pdf",
        f"results/{model}/figures/motion_vs_depth.png",
        f"results/{model}/figures/motion_vs_depth.pdf",
        f"results/{model}/figures/population.png",
    ]
    if stage_enabled("refine"):
        figures += [f"results/{model}/figures/reliance.png"]
    if stage_enabled("tuning"):
        figures += [
            f"results/{model}/faithfulness.csv",
            f"results/{model}/figures/faithfulness.png",
        ]
    if baseline_enabled("dissection"):
        figures += [f"results/{model}/dissection/dissection_counts.png"]
    if baseline_enabled("suppression"):
        figures += [f"{kdir}/suppression/suppression.json" for kdir in suppression_kernel_dirs(model)]
    if baseline_enabled("inversion"):
        figures += [f"results/{model}/inversion/inversion.png"]
    return figures


def get_final_output():
    outputs = []
    for model in MODELS:
        outputs += [f"{kdir}/summary.json" for kdir in kernel_dirs(model)]
        outputs += [f"{kdir}/panel.png" for kdir in kernel_dirs(model)]
        outputs += model_figures(model)
    outputs.append("results/atlas")  # the browsable site of all of the above (workflow/rules/atlas.smk)
    return outputs
