# Config validation, wildcard constraints and input helpers. No science here: rules call `kernelvis`.
import re
import sys
from pathlib import Path

from snakemake.utils import validate

try:  # the per-kernel stages, in merge order: one list for `kernelvis visualize` and these rules (torch-free import)
    from kernelvis.stages import STAGES as KERNEL_STAGES
except ImportError:  # snakemake run from an environment without kernelvis (e.g. --sdm conda): read the source tree
    sys.path.insert(0, str(Path(workflow.basedir) / "src"))
    from kernelvis.stages import STAGES as KERNEL_STAGES

validate(config, schema="../schemas/config.schema.yaml")

MODELS = {entry["name"]: entry for entry in config["models"]}


def _layers_of(model):
    return list(MODELS[model]["layers"])


def kernel_dirs(model):
    """Every configured kernel directory of one model, in layer order."""
    return [
        f"results/{model}/{layer}/kernel_{int(kernel):04d}"
        for layer, kernels in MODELS[model]["layers"].items()
        for kernel in kernels
    ]


def _alternatives(names):
    return "|".join(re.escape(str(name)) for name in names)


wildcard_constraints:
    model=_alternatives(MODELS),
    layer=_alternatives({layer for model in MODELS for layer in _layers_of(model)}),
    kernel=r"\d{4}",


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


def kernel_summary_inputs(wildcards):
    """The arrays the panel is drawn from and, in merge order, every stage JSON that goes into summary.json."""
    kdir = f"results/{wildcards.model}/{wildcards.layer}/kernel_{wildcards.kernel}"
    inputs = {"optimal": f"{kdir}/optimal.npz", "decomposition": f"{kdir}/decomposition.npz"}
    for stage in KERNEL_STAGES:
        if kernel_stage_enabled(stage):
            inputs[f"stage_{stage}"] = f"{kdir}/stage_{stage}.json"
    return inputs


def kernel_stage_enabled(stage):
    """A per-kernel stage runs unless switched off: `STAGE: {enabled: false}`, or for the classic methods
    `baselines: {STAGE: {enabled: ...}}` (off unless enabled)."""
    if stage == "deconvnet" or stage in config.get("baselines", {}):
        return baseline_enabled(stage)
    return stage_enabled(stage)


def texture_tuning_inputs(wildcards):
    kdir = f"results/{wildcards.model}/{wildcards.layer}/kernel_{wildcards.kernel}"
    inputs = {"optimal": f"{kdir}/optimal.npz", "decomposition": f"{kdir}/decomposition.npz"}
    weights = model_weights(wildcards.model)
    if weights:
        inputs["weights"] = weights
    if stage_enabled("refine"):
        inputs["refined"] = f"{kdir}/refined.npz"
    return inputs


def audit_inputs(wildcards):
    kdir = f"results/{wildcards.model}/{wildcards.layer}/kernel_{wildcards.kernel}"
    inputs = {"optimal": f"{kdir}/optimal.npz", "clips": "results/data/clips.npz"}
    weights = model_weights(wildcards.model)
    if weights:
        inputs["weights"] = weights
    if stage_enabled("tuning"):
        inputs["tuning"] = f"{kdir}/tuning.json"
    return inputs


def suppression_clip_option(wildcards, input):
    """``--index N`` from the config, else the clip the kernel responds to most (its top-1)."""
    index = config.get("baselines", {}).get("suppression", {}).get("clip_index")
    if index is not None:
        return f"--index {int(index)}"
    examples = f"--examples {input.examples}" if input.get("examples") else ""
    return f"--index best {examples}"


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
        figures += [f"{kdir}/suppression/suppression.json" for kdir in kernel_dirs(model)]
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
