# Model weights: the demo model is trained here; pretrained zoo weights are fetched into resources/.


rule train_demo:
    output:
        weights="results/demo/demo_model.pt",
        metrics="results/demo/demo_model.json",
    params:
        options=config.get("train_demo", {}).get("options", ""),
        seed=config.get("train_demo", {}).get("seed", 0),
    # Every demo kernel waits for this job: it starts first (priority) and takes half the cores, so the other
    # half works through the other models' kernels meanwhile; asking for all cores made it wait until none
    # of those was running (on 2 cores it then started after 7 minutes).
    priority: 100
    threads: max(1, workflow.cores // 2)
    conda:
        "../envs/kernelvis.yaml"
    log:
        "logs/demo/train_demo.log",
    benchmark:
        "results/benchmarks/demo/train_demo.tsv"
    resources:
        mem_mb=4000,
        runtime=15,
    shell:
        "OMP_NUM_THREADS={threads} kernelvis train-demo --out-file {output.weights} --seed {params.seed}"
        " {params.options} > {log} 2>&1"


rule fetch_weights:
    # Copies the zoo model's checkpoint from the torch hub cache, or downloads it when the network
    # allows, and verifies its hash before it is renamed into place.
    output:
        "resources/weights/{model}/{file}",
    params:
        spec=lambda wildcards: MODELS[wildcards.model]["spec"],
        sha256=lambda wildcards: MODELS[wildcards.model].get("sha256", ""),
    conda:
        "../envs/kernelvis.yaml"
    log:
        "logs/weights/{model}/{file}.log",
    resources:
        runtime=30,
    shell:
        "kernelvis fetch-weights --model {params.spec} --out-file {output}"
        " $(test -n '{params.sha256}' && echo --sha256 {params.sha256}) > {log} 2>&1"
