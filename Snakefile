# kernelvis: texture and motion of 3D-CNN kernels, per model and depth (docs/workflow.md).
# Run: `snakemake --cores all` (embedded default: config/config.yaml), or `--configfile config/paper.yaml`.
import os

from snakemake.utils import min_version

min_version("9.1.0")


# Resolved beside this file, so `--directory elsewhere` still finds the default (a --configfile
# given on the command line updates it; `models` is a list, so it is replaced whole).
configfile: os.path.join(workflow.basedir, "config", "config.yaml")


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/weights.smk"
include: "workflow/rules/kernel.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/baselines.smk"
include: "workflow/rules/atlas.smk"


rule all:
    default_target: True
    input:
        get_final_output(),
