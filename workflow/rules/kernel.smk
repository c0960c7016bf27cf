# One job per kernel and stage, so `snakemake results/<model>/<layer>/kernel_0003/summary.json`
# re-runs just that kernel. Each rule runs one stage command (argument parsing plus one call of the stage's
# function in kernelvis.stages, the same `kernelvis visualize` runs), which writes the stage's files and its
# record stage_<name>.json; kernel_summary merges the records into summary.json (each output has exactly one
# producing rule).

rule optimize:
    input:
        weights=lambda wildcards: model_weights(wildcards.model),
        clip_stats=(
            "results/data/clip_stats.json"
            if config["optimize"].get("use_clip_stats", False)
            and config["optimize"]["param"] == "fourier"
            else []
        ),
    output:
        optimal="results/{model}/{layer}/kernel_{kernel}/optimal.npz",
        gif="results/{model}/{layer}/kernel_{kernel}/optimal.gif",
        stage="results/{model}/{layer}/kernel_{kernel}/stage_optimize.json",
    params:
        spec=model_spec,
        kernel=kernel_index,
        weights=weights_option,
        clip_stats=lambda wildcards, input: (
            f"--clip-stats {input.clip_stats}" if input.get("clip_stats") else ""
        ),
        options=setting("optimize", "options", ""),
        steps=setting("optimize", "steps"),
        restarts=setting("optimize", "restarts"),
        param=setting("optimize", "param"),
        lr=setting("optimize", "lr"),
        objective=setting("optimize", "objective"),
        early_stop=setting("optimize", "early_stop"),
        preprocessing=setting("optimize", "preprocessing"),
        seed=setting("optimize", "seed"),
        device=config.get("device", "cpu"),
    threads: 1
    conda:
        "../envs/kernelvis.yaml"
    log:
        "logs/{model}/{layer}/kernel_{kernel}/optimize.log",
    benchmark:
        "results/benchmarks/{model}/{layer}/kernel_{kernel}/optimize.tsv"
    resources:
        mem_mb=config["resources"]["optimize_mem_mb"],
        runtime=config["resources"]["optimize_runtime_min"],
        gpu=config["resources"]["gpu"],
    shell:
        "OMP_NUM_THREADS={threads} kernelvis optimize --model {params.spec} {params.weights}"
        " --layer {wildcards.layer} --kernel {params.kernel} --out $(dirname {output.optimal})"
        " --steps {params.steps} --restarts {params.restarts} --param {params.param} --lr {params.lr}"
        " --objective {params.objective} --early-stop {params.early_stop}"
        " --preprocessing {params.preprocessing} --seed {params.seed} --device {params.device}"
        " {params.clip_stats} {params.options} --no-progress > {log} 2>&1"


rule decompose:
    input:
        "results/{model}/{layer}/kernel_{kernel}/optimal.npz",
    output:
        decomposition="results/{model}/{layer}/kernel_{kernel}/decomposition.npz",
        static="results/{model}/{layer}/kernel_{kernel}/static.png",
        motion="results/{model}/{layer}/kernel_{kernel}/motion.gif",
        recon="results/{model}/{layer}/kernel_{kernel}/recon.gif",
        arrows="results/{model}/{layer}/kernel_{kernel}/arrows.png",
        stage="results/{model}/{layer}/kernel_{kernel}/stage_decompose.json",
    params:
        steps=setting("decompose", "steps"),
        seed=setting("decompose", "seed"),
        options=setting("decompose", "options", ""),
        device=config.get("device", "cpu"),
    threads: 1
    conda:
        "../envs/kernelvis.yaml"
    log:
        "logs/{model}/{layer}/kernel_{kernel}/decompose.log",
    benchmark:
        "results/benchmarks/{model}/{layer}/kernel_{kernel}/decompose.tsv"
    resources:
        mem_mb=2000,
        runtime=30,
        gpu=config["resources"]["gpu"],
    shell:
        "OMP_NUM_THREADS={threads} kernelvis decompose {input} --out $(dirname {output.decomposition})"
        " --steps {params.steps} --seed {params.seed} --device {params.device} {params.options} > {log} 2>&1"


rule refine:
    input:
        weights=lambda wildcards: model_weights(wildcards.model),
        optimal="results/{model}/{layer}/kernel_{kernel}/optimal.npz",
        decomposition="results/{model}/{layer}/kernel_{kernel}/decomposition.npz",
    output:
        refined="results/{model}/{layer}/kernel_{kernel}/refined.npz",
        texture="results/{model}/{layer}/kernel_{kernel}/texture.png",
        motion="results/{model}/{layer}/kernel_{kernel}/motion_refined.gif",
        stage="results/{model}/{layer}/kernel_{kernel}/stage_refine.json",
    params:
        spec=model_spec,
        kernel=kernel_index,
        weights=weights_option,
        steps=setting("refine", "steps"),
        seed=setting("refine", "seed"),
        options=setting("refine", "options", ""),
        device=config.get("device", "cpu"),
    threads: 1
    conda:
        "../envs/kernelvis.yaml"
    log:
        "logs/{model}/{layer}/kernel_{kernel}/refine.log",
    benchmark:
        "results/benchmarks/{model}/{layer}/kernel_{kernel}/refine.tsv"
    resources:
        mem_mb=config["resources"]["optimize_mem_mb"],
        runtime=config["resources"]["optimize_runtime_min"],
        gpu=config["resources"]["gpu"],
    shell:
        "OMP_NUM_THREADS={threads} kernelvis refine --model {params.spec} {params.weights}"
        " --layer {wildcards.layer} --kernel {params.kernel} --out $(dirname {output.refined})"
        " --optimal {input.optimal} --decomposition {input.decomposition}"
        " --steps {params.steps} --seed {params.seed} --device {params.device} {params.options} > {log} 2>&1"


rule tuning:
    input:
        weights=lambda wildcards: model_weights(wildcards.model),
        optimal="results/{model}/{layer}/kernel_{kernel}/optimal.npz",
    output:
        csv="results/{model}/{layer}/kernel_{kernel}/tuning.csv",
        json="results/{model}/{layer}/kernel_{kernel}/tuning.json",
        polar="results/{model}/{layer}/kernel_{kernel}/tuning_polar.png",
        stage="results/{model}/{layer}/kernel_{kernel}/stage_tuning.json",
    params:
        spec=model_spec,
        kernel=kernel_index,
        weights=weights_option,
        options=setting("tuning", "options", ""),
        device=config.get("device", "cpu"),
    threads: 1
    conda:
        "../envs/kernelvis.yaml"
    log:
        "logs/{model}/{layer}/kernel_{kernel}/tuning.log",
    benchmark:
        "results/benchmarks/{model}/{layer}/kernel_{kernel}/tuning.tsv"
    resources:
        mem_mb=2000,
        runtime=20,
        gpu=config["resources"]["gpu"],
    shell:
        "OMP_NUM_THREADS={threads} kernelvis tuning --model {params.spec} {params.weights}"
        " --layer {wildcards.layer} --kernel {params.kernel} --out $(dirname {output.json})"
        " --optimal {input.optimal} --device {params.device} {params.options} > {log} 2>&1"


rule texture_tuning:
    # The kernel's own texture moved in every direction: where does the kernel want *this* texture to move?
    input:
        unpack(texture_tuning_inputs),
    output:
        csv="results/{model}/{layer}/kernel_{kernel}/texture_tuning.csv",
        json="results/{model}/{layer}/kernel_{kernel}/texture_tuning.json",
        stage="results/{model}/{layer}/kernel_{kernel}/stage_texture_tuning.json",
    params:
        spec=model_spec,
        kernel=kernel_index,
        weights=weights_option,
        refined=lambda wildcards, input: "" if input.get("refined") else "--no-refined",
        options=setting("texture_tuning", "options", ""),
        device=config.get("device", "cpu"),
    threads: 1
    conda:
        "../envs/kernelvis.yaml"
    log:
        "logs/{model}/{layer}/kernel_{kernel}/texture_tuning.log",
    benchmark:
        "results/benchmarks/{model}/{layer}/kernel_{kernel}/texture_tuning.tsv"
    resources:
        mem_mb=2000,
        runtime=20,
        gpu=config["resources"]["gpu"],
    shell:
        "OMP_NUM_THREADS={threads} kernelvis texture-tuning --model {params.spec} {params.weights}"
        " --layer {wildcards.layer} --kernel {params.kernel} --out $(dirname {output.stage}) {params.refined}"
        " --device {params.device} {params.options} > {log} 2>&1"


rule audit:
    # The optimality audit: the optimal input against the best tuning stimulus and the best natural clip,
    # all with stage 1's objective and preprocessing. A measurement, never a reason to fail.
    input:
        unpack(audit_inputs),
    output:
        stage="results/{model}/{layer}/kernel_{kernel}/stage_audit.json",
    params:
        spec=model_spec,
        kernel=kernel_index,
        weights=weights_option,
        tuning=lambda wildcards, input: f"--tuning {input.tuning}" if input.get("tuning") else "",
        clips=lambda wildcards, input: f"--clips {input.clips}" if input.get("clips") else "",
        device=config.get("device", "cpu"),
    threads: 1
    conda:
        "../envs/kernelvis.yaml"
    log:
        "logs/{model}/{layer}/kernel_{kernel}/audit.log",
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "OMP_NUM_THREADS={threads} kernelvis audit --model {params.spec} {params.weights}"
        " --layer {wildcards.layer} --kernel {params.kernel} --optimal {input.optimal}"
        " {params.tuning} {params.clips} --device {params.device} --out $(dirname {output.stage}) > {log} 2>&1"


rule kernel_summary:
    # Merges the stage JSONs into summary.json and draws the per-kernel panel and animation.
    input:
        unpack(kernel_summary_inputs),
    output:
        summary="results/{model}/{layer}/kernel_{kernel}/summary.json",
        panel=report(
            "results/{model}/{layer}/kernel_{kernel}/panel.png",
            caption="../report/panel.rst",
            category="Kernels",
            subcategory="{model} {layer}",
            labels={"model": "{model}", "layer": "{layer}", "kernel": "{kernel}"},
        ),
        animation="results/{model}/{layer}/kernel_{kernel}/panel.gif",
    params:
        model="{model}",
        motion_scale=config["render"].get("motion_scale_px_per_frame") or "auto",
        stages=lambda wildcards, input: " ".join(
            path for name, path in input.items() if Path(path).name.startswith("stage_")
        ),
    conda:
        "../envs/kernelvis.yaml"
    log:
        "logs/{model}/{layer}/kernel_{kernel}/kernel_summary.log",
    shell:
        "kernelvis figures kernel --out $(dirname {output.summary}) --model-name {params.model}"
        " --layer {wildcards.layer} --motion-scale {params.motion_scale} --stages {params.stages} > {log} 2>&1"
