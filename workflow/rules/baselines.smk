# The classic methods as comparisons: DeconvNet + top-9 dataset examples and the comparison figure per
# kernel; network dissection and inversion per model. Enabled per method under `baselines:`.


if baseline_enabled("deconvnet"):
    for chunk in CHUNKS:

        rule:
            name:
                chunk.rule_name("deconvnet")
            input:
                weights=model_weights(chunk.model),
                clips="results/data/clips.npz",
                optimal=chunk.files("optimal.npz"),
                decomposition=chunk.files("decomposition.npz"),
            output:
                examples=chunk.files("dataset_examples.npz"),
                examples_png=chunk.files("dataset_examples.png"),
                examples_gif=chunk.files("dataset_examples.gif"),
                deconv=chunk.files("deconv.png"),
                comparison=[
                    report(path, caption="../report/comparison.rst", category="Comparisons",
                           subcategory=f"{chunk.model} {chunk.layer}",
                           labels={"model": chunk.model, "layer": chunk.layer,
                                   "kernel": path.split("kernel_")[-1].split("/")[0]})
                    for path in chunk.files("comparison.png")
                ],
                stage=chunk.files("stage_deconvnet.json"),
            params:
                target=(f"--model {MODELS[chunk.model]['spec']} {weights_flag(chunk.model)} --layer {chunk.layer}"
                        f" --kernels {chunk.spec} --out {chunk.layer_dir}"),
            threads: 1
            conda:
                "../envs/kernelvis.yaml"
            log:
                chunk_log(chunk, "deconvnet"),
            benchmark:
                chunk_benchmark(chunk, "deconvnet")
            resources:
                mem_mb=4000,
                runtime=20,
            shell:
                "OMP_NUM_THREADS={threads} kernelvis deconvnet {params.target} --clips {input.clips} --compare"
                " > {log} 2>&1"


rule dissect:
    input:
        weights=lambda wildcards: model_weights(wildcards.model),
    output:
        csv=report(
            "results/{model}/dissection/dissection.csv",
            caption="../report/dissection.rst",
            category="Tables",
            labels={"model": "{model}", "table": "dissection"},
        ),
        json="results/{model}/dissection/dissection.json",
        png=report(
            "results/{model}/dissection/dissection_counts.png",
            caption="../report/dissection.rst",
            category="Figures",
            labels={"model": "{model}", "figure": "dissection"},
        ),
    params:
        spec=model_spec,
        weights=weights_option,
        layers=lambda wildcards: " ".join(MODELS[wildcards.model]["layers"]),
        options=lambda wildcards: baseline_options("dissection"),
    # Half the cores: a job asking for all of them waits until nothing else runs, which put
    # dissection and inversion in a serial tail at the end of the default run.
    threads: max(1, workflow.cores // 2)
    conda:
        "../envs/kernelvis.yaml"
    log:
        "logs/{model}/dissect.log",
    benchmark:
        "results/benchmarks/{model}/dissect.tsv"
    resources:
        mem_mb=4000,
        runtime=30,
    shell:
        "OMP_NUM_THREADS={threads} kernelvis dissect --model {params.spec} {params.weights}"
        " --layers {params.layers} --out $(dirname {output.csv}) {params.options} > {log} 2>&1"


rule invert:
    input:
        weights=lambda wildcards: model_weights(wildcards.model),
        clips="results/data/clips.npz",
    output:
        npz="results/{model}/inversion/inversion.npz",
        json="results/{model}/inversion/inversion.json",
        png=report(
            "results/{model}/inversion/inversion.png",
            caption="../report/inversion.rst",
            category="Figures",
            labels={"model": "{model}", "figure": "inversion"},
        ),
    params:
        spec=model_spec,
        weights=weights_option,
        layers=lambda wildcards: " ".join(MODELS[wildcards.model]["layers"]),
        options=lambda wildcards: baseline_options("inversion"),
    threads: max(1, workflow.cores // 2)  # see dissect
    conda:
        "../envs/kernelvis.yaml"
    log:
        "logs/{model}/invert.log",
    benchmark:
        "results/benchmarks/{model}/invert.tsv"
    resources:
        mem_mb=4000,
        runtime=60,
    shell:
        "OMP_NUM_THREADS={threads} kernelvis invert --model {params.spec} {params.weights}"
        " --clips {input.clips} --layers {params.layers} --out $(dirname {output.npz})"
        " {params.options} > {log} 2>&1"


rule suppress:
    # Kernel-specific suppression (Zhuang et al.) on the clip the kernel responds to most (or the configured
    # clip_index), then our decomposition of what remains.
    input:
        weights=lambda wildcards: model_weights(wildcards.model),
        clips="results/data/clips.npz",
        optimal="results/{model}/{layer}/kernel_{kernel}/optimal.npz",
        examples=(
            "results/{model}/{layer}/kernel_{kernel}/dataset_examples.npz"
            if baseline_enabled("deconvnet")
            else []
        ),
    output:
        video="results/{model}/{layer}/kernel_{kernel}/suppression/suppressed.npz",
        gif="results/{model}/{layer}/kernel_{kernel}/suppression/comparison.gif",
        suppressed_gif="results/{model}/{layer}/kernel_{kernel}/suppression/suppressed.gif",
        metrics="results/{model}/{layer}/kernel_{kernel}/suppression/suppression.json",
        decomposition="results/{model}/{layer}/kernel_{kernel}/suppression/decomposition/decomposition.npz",
        # what `kernelvis decompose` writes beside its decomposition.npz
        decomposition_files=multiext(
            "results/{model}/{layer}/kernel_{kernel}/suppression/decomposition/",
            "static.png",
            "motion.gif",
            "recon.gif",
            "arrows.png",
            "stage_decompose.json",
        ),
    params:
        spec=model_spec,
        kernel=kernel_index,
        weights=weights_option,
        clip=suppression_clip_option,
        options=lambda wildcards: baseline_options("suppression"),
        decompose_steps=setting("decompose", "steps"),
        decompose_options=setting("decompose", "options", ""),
        device=config.get("device", "cpu"),
    threads: 1
    conda:
        "../envs/kernelvis.yaml"
    log:
        "logs/{model}/{layer}/kernel_{kernel}/suppress.log",
    benchmark:
        "results/benchmarks/{model}/{layer}/kernel_{kernel}/suppress.tsv"
    resources:
        mem_mb=4000,
        runtime=30,
        gpu=config["resources"]["gpu"],
    shell:
        "(OMP_NUM_THREADS={threads} kernelvis suppress --model {params.spec} {params.weights}"
        " --layer {wildcards.layer} --kernel {params.kernel} --clips {input.clips} {params.clip}"
        " --optimal {input.optimal} --resize --device {params.device} --out $(dirname {output.video}) {params.options}"
        " && kernelvis decompose {output.video} --out $(dirname {output.decomposition})"
        " --steps {params.decompose_steps} --device {params.device} {params.decompose_options}) > {log} 2>&1"
