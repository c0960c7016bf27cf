# The per-kernel stages, one job per chunk of a layer's kernels and stage (`kernels_per_job`, top level or per
# model; 1 gives one job per kernel). Each job runs one stage command over its kernels in one process,
# batched (`kernelvis <stage> --kernels SPEC --out results/<model>/<layer>`: argument parsing plus one call of
# the stage's function in kernelvis.stages, the same `kernelvis visualize` runs), which writes every kernel's
# files and its record stage_<name>.json; kernel_summary merges the records into summary.json. Every per-kernel
# file is declared, by exactly one rule. The rules are generated per chunk, named `<stage>__<model>__<layer>__
# <chunk>`; `snakemake results/<model>/<layer>/kernel_0003/summary.json` makes one kernel (with its chunk), and
# `kernelvis visualize` re-runs one kernel on its own (docs/workflow.md).

DEVICE = config.get("device", "cpu")
GPU = config["resources"]["gpu"]
JOB_THREADS = config["resources"].get("threads", 1)


def _clip_stats_input(model):
    uses = model_setting(model, "optimize", "use_clip_stats", False) and model_setting(model, "optimize", "param") == "fourier"
    return "results/data/clip_stats.json" if uses else []


for chunk in CHUNKS:
    model, layer, kernels, layer_dir = chunk.model, chunk.layer, chunk.spec, chunk.layer_dir
    spec, weights = MODELS[model]["spec"], model_weights(model)

    rule:
        name:
            chunk.rule_name("optimize")
        input:
            weights=weights,
            clip_stats=_clip_stats_input(model),
            clips="results/data/clips.npz",  # a kernel that ends below its best clip restarts from it
        output:
            optimal=chunk.files("optimal.npz"),
            gif=chunk.files("optimal.gif"),
            stage=chunk.files("stage_optimize.json"),
        params:
            target=f"--model {spec} {weights_flag(model)} --layer {layer} --kernels {kernels} --out {layer_dir}",
            clip_stats="--clip-stats results/data/clip_stats.json" if _clip_stats_input(model) else "",
            settings=" ".join(
                f"--{key.replace('_', '-')} {model_setting(model, 'optimize', key)}"
                for key in ("steps", "restarts", "param", "lr", "objective", "early_stop", "preprocessing", "seed")
            ),
            options=model_setting(model, "optimize", "options", ""),
        threads: JOB_THREADS
        conda:
            "../envs/kernelvis.yaml"
        log:
            chunk_log(chunk, "optimize"),
        benchmark:
            chunk_benchmark(chunk, "optimize")
        resources:
            mem_mb=config["resources"]["optimize_mem_mb"],
            runtime=config["resources"]["optimize_runtime_min"],
            gpu=GPU,
        shell:
            "OMP_NUM_THREADS={threads} kernelvis optimize {params.target} {params.settings} --device " + DEVICE +
            " --clips {input.clips} {params.clip_stats} {params.options} --no-progress > {log} 2>&1"

    rule:
        name:
            chunk.rule_name("decompose")
        input:
            chunk.files("optimal.npz"),
        output:
            decomposition=chunk.files("decomposition.npz"),
            static=chunk.files("static.png"),
            motion=chunk.files("motion.gif"),
            recon=chunk.files("recon.gif"),
            arrows=chunk.files("arrows.png"),
            stage=chunk.files("stage_decompose.json"),
        params:
            target=f"--kernels {kernels} --out {layer_dir}",
            settings=f"--steps {model_setting(model, 'decompose', 'steps')} --seed {model_setting(model, 'decompose', 'seed')}",
            options=model_setting(model, "decompose", "options", ""),
        threads: JOB_THREADS
        conda:
            "../envs/kernelvis.yaml"
        log:
            chunk_log(chunk, "decompose"),
        benchmark:
            chunk_benchmark(chunk, "decompose")
        resources:
            mem_mb=2000,
            runtime=30,
            gpu=GPU,
        shell:
            "OMP_NUM_THREADS={threads} kernelvis decompose {params.target} {params.settings} --device " + DEVICE +
            " {params.options} > {log} 2>&1"

    if stage_enabled("refine"):

        rule:
            name:
                chunk.rule_name("refine")
            input:
                weights=weights,
                optimal=chunk.files("optimal.npz"),
                decomposition=chunk.files("decomposition.npz"),
            output:
                refined=chunk.files("refined.npz"),
                texture=chunk.files("texture.png"),
                motion=chunk.files("motion_refined.gif"),
                stage=chunk.files("stage_refine.json"),
            params:
                target=f"--model {spec} {weights_flag(model)} --layer {layer} --kernels {kernels} --out {layer_dir}",
                settings=f"--steps {model_setting(model, 'refine', 'steps')} --seed {model_setting(model, 'refine', 'seed')}",
                options=model_setting(model, "refine", "options", ""),
            threads: JOB_THREADS
            conda:
                "../envs/kernelvis.yaml"
            log:
                chunk_log(chunk, "refine"),
            benchmark:
                chunk_benchmark(chunk, "refine")
            resources:
                mem_mb=config["resources"]["optimize_mem_mb"],
                runtime=config["resources"]["optimize_runtime_min"],
                gpu=GPU,
            shell:
                "OMP_NUM_THREADS={threads} kernelvis refine {params.target} {params.settings} --device " + DEVICE +
                " {params.options} > {log} 2>&1"

    if stage_enabled("tuning"):

        rule:
            name:
                chunk.rule_name("tuning")
            input:
                weights=weights,
                optimal=chunk.files("optimal.npz"),
            output:
                csv=chunk.files("tuning.csv"),
                json=chunk.files("tuning.json"),
                polar=chunk.files("tuning_polar.png"),
                stage=chunk.files("stage_tuning.json"),
            params:
                target=f"--model {spec} {weights_flag(model)} --layer {layer} --kernels {kernels} --out {layer_dir}",
                options=model_setting(model, "tuning", "options", ""),
            threads: JOB_THREADS
            conda:
                "../envs/kernelvis.yaml"
            log:
                chunk_log(chunk, "tuning"),
            benchmark:
                chunk_benchmark(chunk, "tuning")
            resources:
                mem_mb=2000,
                runtime=20,
                gpu=GPU,
            shell:
                "OMP_NUM_THREADS={threads} kernelvis tuning {params.target} --device " + DEVICE +
                " {params.options} > {log} 2>&1"

    if stage_enabled("texture_tuning"):

        rule:
            name:
                chunk.rule_name("texture_tuning")
            # The kernel's own texture moved in every direction: where does it want *this* texture to move?
            input:
                weights=weights,
                optimal=chunk.files("optimal.npz"),
                decomposition=chunk.files("decomposition.npz"),
                refined=chunk.files("refined.npz") if stage_enabled("refine") else [],
            output:
                csv=chunk.files("texture_tuning.csv"),
                json=chunk.files("texture_tuning.json"),
                stage=chunk.files("stage_texture_tuning.json"),
            params:
                target=f"--model {spec} {weights_flag(model)} --layer {layer} --kernels {kernels} --out {layer_dir}",
                refined="" if stage_enabled("refine") else "--no-refined",
                options=model_setting(model, "texture_tuning", "options", ""),
            threads: JOB_THREADS
            conda:
                "../envs/kernelvis.yaml"
            log:
                chunk_log(chunk, "texture_tuning"),
            benchmark:
                chunk_benchmark(chunk, "texture_tuning")
            resources:
                mem_mb=2000,
                runtime=20,
                gpu=GPU,
            shell:
                "OMP_NUM_THREADS={threads} kernelvis texture-tuning {params.target} {params.refined} --device "
                + DEVICE + " {params.options} > {log} 2>&1"

    rule:
        name:
            chunk.rule_name("audit")
        # The optimality audit: each optimal input against its best tuning stimulus and the best natural clip,
        # all with stage 1's objective and preprocessing. A measurement, never a reason to fail.
        input:
            weights=weights,
            optimal=chunk.files("optimal.npz"),
            tuning=chunk.files("tuning.json") if stage_enabled("tuning") else [],
            clips="results/data/clips.npz",
        output:
            stage=chunk.files("stage_audit.json"),
        params:
            target=f"--model {spec} {weights_flag(model)} --layer {layer} --kernels {kernels} --out {layer_dir}",
            tuning="--tuning" if stage_enabled("tuning") else "",
        threads: JOB_THREADS
        conda:
            "../envs/kernelvis.yaml"
        log:
            chunk_log(chunk, "audit"),
        benchmark:
            chunk_benchmark(chunk, "audit")
        resources:
            mem_mb=2000,
            runtime=10,
            gpu=GPU,
        shell:
            "OMP_NUM_THREADS={threads} kernelvis audit {params.target} {params.tuning} --clips {input.clips}"
            " --device " + DEVICE + " > {log} 2>&1"

    merged = [stage for stage in KERNEL_STAGES if kernel_stage_enabled(stage)]

    rule:
        name:
            chunk.rule_name("kernel_summary")
        # Merges each kernel's stage records into summary.json and draws its panel and animation.
        input:
            optimal=chunk.files("optimal.npz"),
            decomposition=chunk.files("decomposition.npz"),
            records=[path for stage in merged for path in chunk.files(f"stage_{stage}.json")],
            curves=(chunk.files("tuning.csv") if stage_enabled("tuning") else [])
            + (chunk.files("texture_tuning.json") if stage_enabled("texture_tuning") else []),
        output:
            summary=chunk.files("summary.json"),
            panel=[
                report(path, caption="../report/panel.rst", category="Kernels", subcategory=f"{model} {layer}",
                       labels={"model": model, "layer": layer, "kernel": path.split("kernel_")[-1].split("/")[0]})
                for path in chunk.files("panel.png")
            ],
            animation=chunk.files("panel.gif"),
        params:
            target=f"--kernels {kernels} --out {layer_dir} --model-name {model} --layer {layer}",
            stages=" ".join(merged),
            motion_scale=config["render"].get("motion_scale_px_per_frame") or "auto",
        conda:
            "../envs/kernelvis.yaml"
        log:
            chunk_log(chunk, "kernel_summary"),
        shell:
            "kernelvis figures kernel {params.target} --motion-scale {params.motion_scale}"
            " --stages {params.stages} > {log} 2>&1"
