# The atlas: a static site of every configured kernel (results/atlas/index.html), built last.
#
# Output is a directory(): the site holds one page and a few pictures per kernel, and every file written
# must be declared. Snakemake removes the old directory before the job and the command builds the new site
# in a staging folder that replaces results/atlas only once complete, so a killed build leaves no
# half-made atlas. Its inputs are all other final outputs, so it runs after everything it shows; the
# command gets the configured kernels' summary.json files, so kernels left over from an older config
# are not shown.


rule atlas:
    input:
        # Every other final output: each kernel's summary.json and panel.png, each model's tables and
        # figures, and whatever later stages add there.
        lambda wildcards: [path for path in get_final_output() if path != "results/atlas"],
    output:
        directory("results/atlas"),
    params:
        summaries=lambda wildcards, input: " ".join(
            path for path in input if os.path.basename(path) == "summary.json"
        ),
    threads: min(4, workflow.cores)
    conda:
        "../envs/kernelvis.yaml"
    log:
        "logs/atlas.log",
    benchmark:
        "results/benchmarks/atlas.tsv"
    resources:
        mem_mb=2000,
        runtime=60,
    shell:
        "OMP_NUM_THREADS=1 kernelvis atlas --results results --out {output} --jobs {threads}"
        " {params.summaries} > {log} 2>&1"
