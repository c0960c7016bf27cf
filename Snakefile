# kernelvis: texture and motion of 3D-CNN kernels, per model and depth (DESIGN §3 "Workflow").
# Run: `snakemake --cores all` (embedded default: config/config.yaml), or `--configfile config/paper.yaml`.
from snakemake.utils import min_version

min_version("9.1.0")


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/weights.smk"
include: "workflow/rules/kernel.smk"
include: "workflow/rules/figures.smk"


rule all:
    default_target: True
    input:
        get_final_output(),
