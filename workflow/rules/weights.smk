# Model weights: the demo model is trained here; pretrained zoo weights are fetched into resources/.


rule train_demo:
    output:
        weights="results/demo/demo_model.pt",
        metrics="results/demo/demo_model.json",
    params:
        options=config.get("train_demo", {}).get("options", ""),
        seed=config.get("train_demo", {}).get("seed", 0),
    # Every demo kernel waits for this job, so it starts first (priority). It trains on one thread whatever
    # --cores is (the thread count changes the rounding, and with it the weights: kernelvis.numerics), so it
    # asks for one core and the others work through the other models' kernels meanwhile.
    priority: 100
    threads: 1
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
        "kernelvis train-demo --out-file {output.weights} --seed {params.seed}"
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
