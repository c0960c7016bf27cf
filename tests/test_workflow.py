"""The Snakemake workflow, run for real on the tiny CI config (.test/config/config.yaml).

One end-to-end run (the session's tiny_workflow_run, tests/conftest.py, shared with the browser and SLURM
tests) is checked for: every kernel's files, one summary.csv row per kernel, non-blank figures; re-running one
kernel (in a copy) touches nothing else; a run killed mid-optimization resumes to the same arrays; and a dry
run of config/paper.yaml with fake local weights and a Kinetics fixture lists the expected jobs.

The tests that run the workflow are marked slow (minutes on 2 cores; `make test-all` runs them); the dry run is
in the fast suite.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from kernelvis.kernel_sets import chunks

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TEST_CONFIG = REPO / ".test" / "config" / "config.yaml"


def snakemake_command(workdir: Path, *args: str, configfile: Path = TEST_CONFIG) -> list[str]:
    return [str(BIN / "snakemake"), *args, "-s", str(REPO / "Snakefile"), "--directory", str(workdir),
            "--configfile", str(configfile), "--cores", "2"]


def run_snakemake(workdir: Path, *args: str, configfile: Path = TEST_CONFIG, timeout: int = 2400):
    environment = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}", OMP_NUM_THREADS="1")
    result = subprocess.run(snakemake_command(workdir, *args, configfile=configfile), capture_output=True,
                            text=True, env=environment, timeout=timeout)
    assert result.returncode == 0, f"snakemake failed:\n{result.stdout[-3000:]}\n{result.stderr[-6000:]}"
    return result


def load_test_config() -> dict:
    return yaml.safe_load(TEST_CONFIG.read_text())


def kernel_dirs(root: Path) -> list[Path]:
    return [root / "results" / entry["name"] / layer / f"kernel_{kernel:04d}"
            for entry in load_test_config()["models"] for layer, kernels in entry["layers"].items() for kernel in kernels]


@pytest.fixture
def finished_run(tiny_workflow_run):
    """The session's one run of the whole test DAG (tests/conftest.py), shared with the browser and SLURM
    tests: read it, never change it (a test that does works on a copy, see own_copy)."""
    return tiny_workflow_run


def own_copy(workdir: Path, destination: Path) -> Path:
    """A private copy of a finished run, .snakemake/ included, with every modification time kept (copytree's
    copy2), so snakemake sees it as the same finished run."""
    shutil.copytree(workdir, destination, symlinks=True)
    return destination


def _not_blank(png: Path) -> bool:
    import imageio.v3 as iio

    image = iio.imread(png).astype(np.float32)
    return image.std() > 5.0


@pytest.mark.slow  # the shared run of the whole tiny DAG: minutes
def test_every_kernel_has_its_files(finished_run):
    for kernel_dir in kernel_dirs(finished_run):
        for name in ["optimal.npz", "optimal.gif", "decomposition.npz", "static.png", "motion.gif", "recon.gif",
                     "refined.npz", "texture.png", "tuning.json", "summary.json", "panel.png", "panel.gif",
                     "dataset_examples.npz", "deconv.png", "comparison.png", "suppression/suppressed.npz",
                     "suppression/suppression.json", "suppression/decomposition/decomposition.npz"]:
            assert (kernel_dir / name).is_file(), f"{kernel_dir / name} missing"
        assert _not_blank(kernel_dir / "panel.png")
        with np.load(kernel_dir / "decomposition.npz") as decomposition:
            frames, height, width = decomposition["velocity"].shape[:3]
            assert decomposition["static"].shape == (height, width, 3)
            assert np.all(decomposition["velocity"][0] == 0)


@pytest.mark.slow  # the shared run of the whole tiny DAG: minutes
def test_summary_csv_has_a_row_per_kernel_and_figures_exist(finished_run):
    for entry in load_test_config()["models"]:
        model_dir = finished_run / "results" / entry["name"]
        with open(model_dir / "summary.csv", newline="") as handle:
            rows = list(csv.DictReader(handle))
        expected = sorted((layer, kernel) for layer, kernels in entry["layers"].items() for kernel in kernels)
        assert sorted((row["layer"], int(row["kernel"])) for row in rows) == expected
        for row in rows:
            for column in ["activation", "recon_psnr_db", "direction_deg", "direction_strength",
                           "speed_px_per_frame", "motion_index", "motion_reliance", "dsi", "natural_to_optimal_ratio"]:
                assert column in row, column
                if row["status"] == "ok":  # a dead kernel has no reliance to measure: its status says so
                    assert np.isfinite(float(row[column])), (column, row)
        for figure in ["depth_grid.png", "depth_grid.pdf", "motion_vs_depth.png", "motion_vs_depth.pdf",
                       "reliance.png", "faithfulness.png"]:
            path = model_dir / "figures" / figure
            assert path.is_file() and path.stat().st_size > 1000, path
            if path.suffix == ".png":
                assert _not_blank(path), path
        assert (model_dir / "faithfulness.csv").is_file()
        assert _not_blank(model_dir / "dissection" / "dissection_counts.png")


@pytest.mark.slow  # the shared run of the whole tiny DAG: minutes
def test_kernel_properties_are_results_and_the_check_passes(finished_run):
    """The planted faulty kernels finish every rule: dead and silent are recorded, marked, counted."""
    statuses = {}
    for kernel_dir in kernel_dirs(finished_run):
        summary = json.loads((kernel_dir / "summary.json").read_text())
        for key in ("status", "objective", "audit_pass", "optimal_vs_best_grating", "optimal_vs_best_natural"):
            assert key in summary, (kernel_dir, key)
        statuses[(kernel_dir.parts[-3], kernel_dir.parts[-2], kernel_dir.name)] = summary["status"]
        for stage in ("optimize", "tuning", "audit"):  # stage 1's objective reached every later measurement
            record = json.loads((kernel_dir / f"stage_{stage}.json").read_text())
            assert record.get("objective", record.get("tuning_objective")) == summary["objective"], (kernel_dir, stage)
    assert statuses[("faulty", "conv", "kernel_0000")] == "ok"
    assert statuses[("faulty", "conv", "kernel_0001")] == "dead"
    assert statuses[("faulty", "conv", "kernel_0002")] == "silent"
    suppression = json.loads((finished_run / "results/faulty/conv/kernel_0002/suppression/suppression.json").read_text())
    assert suppression["status"] == "silent"
    with open(finished_run / "results" / "faulty" / "summary.csv", newline="") as handle:
        rows = {row["kernel"]: row for row in csv.DictReader(handle)}
    assert rows["1"]["status"] == "dead" and rows["2"]["status"] == "silent"
    check = subprocess.run([str(BIN / "kernelvis"), "check", str(finished_run / "results"), "--configfile",
                            str(TEST_CONFIG)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "kernels pass the optimality audit" in check.stdout
    log = (finished_run / "logs" / "faulty" / "summary_table.log").read_text()
    assert "faulty: " in log and "pass the optimality audit" in log and "conv/1 dead" in log


@pytest.mark.slow  # the shared run of the whole tiny DAG: minutes
def test_check_reports_a_missing_kernel_file(finished_run, tmp_path):
    copy = tmp_path / "results"
    shutil.copytree(finished_run / "results", copy)
    (copy / "faulty" / "conv" / "kernel_0000" / "panel.png").unlink()
    check = subprocess.run([str(BIN / "kernelvis"), "check", str(copy), "--configfile", str(TEST_CONFIG)],
                           capture_output=True, text=True)
    assert check.returncode == 1 and "panel.png" in check.stdout


@pytest.mark.slow  # the shared run of the whole tiny DAG: minutes
def test_every_file_a_run_writes_is_declared_by_a_rule(finished_run, tmp_path):
    finished_run = own_copy(finished_run, tmp_path / "run")  # snakemake may write its own records in the run
    summary = run_snakemake(finished_run, "--summary").stdout.splitlines()
    declared = {line.split("\t")[0] for line in summary if "\t" in line and not line.startswith("output_file")}
    directories = [path for path in declared if (finished_run / path).is_dir()]
    written = {str(path.relative_to(finished_run)) for path in (finished_run / "results").rglob("*") if path.is_file()}
    undeclared = {path for path in written - declared
                  if not path.startswith("results/benchmarks/")  # declared as benchmark: files
                  and not any(path.startswith(directory.rstrip("/") + "/") for directory in directories)}
    assert not undeclared, sorted(undeclared)


@pytest.mark.slow  # the shared run of the whole tiny DAG: minutes
def test_a_stale_stage_file_does_not_leak_into_the_summary(finished_run, tmp_path):
    kernel_dir = tmp_path / "kernel_0000"
    shutil.copytree(kernel_dirs(finished_run)[0], kernel_dir)
    (kernel_dir / "stage_stale.json").write_text(json.dumps({"dsi": 123.0}))
    (kernel_dir / "stage_tuning.json").write_text(json.dumps({"dsi": 123.0}))  # left over from an older config
    result = subprocess.run([str(BIN / "kernelvis"), "figures", "kernel", "--out", str(kernel_dir), "--stages",
                             "optimize", "decompose", "audit"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    summary = json.loads((kernel_dir / "summary.json").read_text())
    assert summary.get("dsi") != 123.0 and "audit_pass" in summary


@pytest.mark.slow  # the shared run of the whole tiny DAG: minutes
def test_rerunning_one_kernel_touches_nothing_else(finished_run, tmp_path):
    finished_run = own_copy(finished_run, tmp_path / "run")  # the shared run stays as it was
    target_dir = kernel_dirs(finished_run)[0]
    before = {path: path.stat().st_mtime_ns for path in (finished_run / "results").rglob("*") if path.is_file()}
    for name in ["summary.json", "panel.png", "panel.gif", "decomposition.npz", "stage_decompose.json"]:
        (target_dir / name).unlink()
    target = str((target_dir / "summary.json").relative_to(finished_run))
    run_snakemake(finished_run, target)
    after = {path: path.stat().st_mtime_ns for path in (finished_run / "results").rglob("*") if path.is_file()}
    changed = {path for path in after if before.get(path) != after[path]}
    assert changed, "the kernel was not re-made"
    # the kernel's own files and its jobs' benchmark records (results/benchmarks/<model>/<layer>/chunk_NNNN/: one
    # kernel per job in the tiny config)
    benchmark_dir = (finished_run / "results" / "benchmarks" / target_dir.parent.relative_to(finished_run / "results")
                     / target_dir.name.replace("kernel_", "chunk_"))
    assert all(path.parent in (target_dir, benchmark_dir) for path in changed), sorted(map(str, changed))
    assert (target_dir / "summary.json").is_file()


@pytest.mark.slow  # three runs of one kernel's optimization: minutes
def test_killed_run_resumes_to_the_same_result(tmp_path):
    """Kill snakemake while the optimization is running; nothing half-written survives and a resumed
    run ends with the same arrays as an uninterrupted one."""
    config = load_test_config()
    config["models"] = [{"name": "planted", "spec": "planted", "layers": {"energy": [1]}}]
    config["optimize"]["steps"] = 150
    config["optimize"]["options"] = "--early-stop 0"  # long enough to be caught mid-way
    configfile = tmp_path / "config.yaml"
    configfile.write_text(yaml.safe_dump(config))
    target = "results/planted/energy/kernel_0001/optimal.npz"

    reference = tmp_path / "reference"
    run_snakemake(reference, target, configfile=configfile)

    interrupted = tmp_path / "interrupted"
    environment = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}", OMP_NUM_THREADS="1")
    process = subprocess.Popen(snakemake_command(interrupted, target, configfile=configfile), env=environment,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    log = interrupted / "logs" / "planted" / "energy" / "chunk_0001" / "optimize.log"
    deadline = time.time() + 300
    # wait for the optimizer's own progress line: the loop has demonstrably started (and, at 150 steps with
    # a line every 25, is far from done)
    while time.time() < deadline and not (log.is_file() and "optimize step" in log.read_text()):
        assert process.poll() is None, "the run ended before it could be interrupted"
        time.sleep(0.05)
    assert "optimize step" in log.read_text(), "the optimization never started"
    assert process.poll() is None, "the run ended before it could be interrupted"
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    kernel_dir = interrupted / "results" / "planted" / "energy" / "kernel_0001"
    assert not (kernel_dir / "optimal.npz").exists(), "a killed optimization left an output behind"

    run_snakemake(interrupted, "--unlock", configfile=configfile)  # a SIGKILLed snakemake leaves its lock
    run_snakemake(interrupted, target, configfile=configfile)
    with np.load(reference / target) as expected, np.load(interrupted / target) as resumed:
        for key in expected.files:  # bit for bit, every array (provenance included)
            np.testing.assert_array_equal(expected[key], resumed[key], err_msg=key)


def test_paper_config_dry_run_lists_the_expected_jobs(tmp_path):
    paper = yaml.safe_load((REPO / "config" / "paper.yaml").read_text())
    for entry in paper["models"]:  # fake local weights where the config expects them
        weights = tmp_path / entry["weights"]
        weights.parent.mkdir(parents=True, exist_ok=True)
        weights.write_bytes(b"fake")
    annotations = tmp_path / paper["data"]["annotations"]
    annotations.parent.mkdir(parents=True, exist_ok=True)
    annotations.write_text("label,youtube_id,time_start,time_end,split\n"
                           + "".join(f"{label},abcdefghij{i},0,10,val\n" for i, label in enumerate(paper["data"]["classes"])))
    result = run_snakemake(tmp_path, "-n", configfile=REPO / "config" / "paper.yaml")
    jobs = {}  # the job-stats table (snakemake may print it twice): rule -> count
    for line in result.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            jobs[parts[0]] = int(parts[1])
    counts = {}  # per-chunk rules <stage>__<model>__<layer>__<chunk>, summed by stage
    for rule, count in jobs.items():
        counts[rule.split("__")[0]] = counts.get(rule.split("__")[0], 0) + count
    n_kernels = sum(len(kernels) for entry in paper["models"] for kernels in entry["layers"].values())
    assert n_kernels == 81  # 75 + the VQ-VAE's 2 layers x 3 kernels
    # kernels_per_job: 64 puts each layer's listed kernels into one job per stage
    n_chunks = sum(len(chunks(kernels, paper["kernels_per_job"])) for entry in paper["models"]
                   for kernels in entry["layers"].values())
    assert n_chunks == sum(len(entry["layers"]) for entry in paper["models"])
    for stage in ["optimize", "decompose", "refine", "tuning", "texture_tuning", "audit", "kernel_summary", "deconvnet"]:
        assert counts.get(stage) == n_chunks, (stage, counts)
    assert counts.get("suppress") == n_kernels, counts  # a per-kernel baseline
    assert counts.get("sample_clips") == 1 and "synthetic_clips" not in counts and "train_demo" not in counts
    assert "fetch_weights" not in counts  # local weights are used as they are
    for rule in ["summary_table", "depth_grid", "motion_vs_depth", "dissect", "invert"]:
        assert counts.get(rule) == len(paper["models"])
