# Per-model tables and figures assembled from the per-kernel results.


rule summary_table:
    input:
        model_kernel_files("summary.json"),
    output:
        report(
            "results/{model}/summary.csv",
            caption="../report/summary_table.rst",
            category="Tables",
            labels={"model": "{model}", "table": "summary"},
        ),
    conda:
        "../envs/kernelvis.yaml"
    log:
        "logs/{model}/summary_table.log",
    shell:
        # the audit share goes to the log and to the terminal
        "kernelvis figures table {input} --out-file {output} > {log} 2>&1; grep -E 'optimality audit|status' {log} >&2 || true"


rule depth_grid:
    input:
        summaries=model_kernel_files("summary.json"),
        decompositions=model_kernel_files("decomposition.npz"),
    output:
        png=report(
            "results/{model}/figures/depth_grid.png",
            caption="../report/depth_grid.rst",
            category="Figures",
            labels={"model": "{model}", "figure": "depth grid"},
        ),
        pdf="results/{model}/figures/depth_grid.pdf",
    params:
        motion_scale=config["render"].get("motion_scale_px_per_frame") or "auto",
    conda:
        "../envs/kernelvis.yaml"
    log:
        "logs/{model}/depth_grid.log",
    shell:
        "kernelvis figures depth-grid {input.summaries} --title {wildcards.model}"
        " --motion-scale {params.motion_scale} --out-file {output.png} > {log} 2>&1"


rule motion_vs_depth:
    input:
        "results/{model}/summary.csv",
    output:
        png=report(
            "results/{model}/figures/motion_vs_depth.png",
            caption="../report/motion_vs_depth.rst",
            category="Figures",
            labels={"model": "{model}", "figure": "motion vs depth"},
        ),
        pdf="results/{model}/figures/motion_vs_depth.pdf",
    conda:
        "../envs/kernelvis.yaml"
    log:
        "logs/{model}/motion_vs_depth.log",
    shell:
        "kernelvis figures motion-depth {input} --title {wildcards.model} --out-file {output.png} > {log} 2>&1"


rule reliance_figure:
    input:
        "results/{model}/summary.csv",
    output:
        png=report(
            "results/{model}/figures/reliance.png",
            caption="../report/reliance.rst",
            category="Figures",
            labels={"model": "{model}", "figure": "reliance"},
        ),
        pdf="results/{model}/figures/reliance.pdf",
    conda:
        "../envs/kernelvis.yaml"
    log:
        "logs/{model}/reliance_figure.log",
    shell:
        "kernelvis figures reliance {input} --title {wildcards.model} --out-file {output.png} > {log} 2>&1"


rule population_figure:
    input:
        "results/{model}/summary.csv",
    output:
        png=report(
            "results/{model}/figures/population.png",
            caption="../report/population.rst",
            category="Figures",
            labels={"model": "{model}", "figure": "population per layer"},
        ),
        pdf="results/{model}/figures/population.pdf",
        layers=report(
            "results/{model}/layers.csv",
            caption="../report/population.rst",
            category="Tables",
            labels={"model": "{model}", "table": "layers"},
        ),
    conda:
        "../envs/kernelvis.yaml"
    log:
        "logs/{model}/population_figure.log",
    shell:
        "kernelvis figures population {input} --title {wildcards.model} --out-file {output.png}"
        " --table {output.layers} > {log} 2>&1"


rule faithfulness:
    input:
        summaries=model_kernel_files("summary.json"),
    output:
        csv=report(
            "results/{model}/faithfulness.csv",
            caption="../report/faithfulness.rst",
            category="Tables",
            labels={"model": "{model}", "table": "faithfulness"},
        ),
        png=report(
            "results/{model}/figures/faithfulness.png",
            caption="../report/faithfulness.rst",
            category="Figures",
            labels={"model": "{model}", "figure": "faithfulness"},
        ),
        layers_csv="results/{model}/faithfulness_layers.csv",
        pdf="results/{model}/figures/faithfulness.pdf",
    params:
        spec=model_spec,
    conda:
        "../envs/kernelvis.yaml"
    log:
        "logs/{model}/faithfulness.log",
    resources:
        mem_mb=4000,
        runtime=30,
    shell:
        # the best natural clip's activation comes from each kernel's audit (summary.json)
        "kernelvis faithfulness --model {params.spec} --model-name {wildcards.model}"
        " --summaries {input.summaries} --out-file {output.csv} --figure {output.png} > {log} 2>&1"
