"""The SLURM profile on a real scheduler: a one-node SLURM brought up on this machine.

Opt-in (it installs Debian packages when SLURM is missing and runs daemons as root): set
KERNELVIS_TEST_SLURM=1. `tests/cluster/slurm_one_node.sh` installs, configures and starts the cluster;
part of the `.test` DAG (the planted model: two kernels through every per-kernel stage, and the model's
summary.csv) runs with `--workflow-profile workflow/profiles/slurm` plus only what this cluster needs:
no accounting storage (status from squeue) and no CUDA (device=cpu; the cluster still schedules the
profile's `--gpus=1` requests on a stand-in GPU). Every job must be a SLURM job, and every file it writes
under results/ must be one a local run of the same config writes, every array equal to that run's. The local
run is the session's one run of the whole tiny workflow (tiny_workflow_run, tests/conftest.py, shared with
the workflow and browser tests) rather than one of its own. A deliberately failing kernel must make snakemake
exit non-zero, naming the rule's log, well before the hard timeout.
"""

from __future__ import annotations

import importlib.util
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TEST_CONFIG = REPO / ".test" / "config" / "config.yaml"
CLUSTER_SCRIPT = REPO / "tests" / "cluster" / "slurm_one_node.sh"
PROFILE = REPO / "workflow" / "profiles" / "slurm"
# One kernel through every per-kernel rule of the DAG (optimize, decompose, refine, tuning, deconvnet, ...
# whatever it holds when this runs) and its data: ~9 jobs, a few minutes on a loaded 2-core machine.
TARGETS = ["results/planted/energy/kernel_0000/summary.json", "results/planted/energy/kernel_0000/panel.png"]
# What a cluster without accounting storage needs (docs/cluster.md): squeue for status, and a first
# status check early enough that MinJobAge (60 s in the one-node cluster) is >= 3x it.
NO_ACCOUNTING = ["--slurm-status-command", "squeue", "--slurm-init-seconds-before-status-checks", "2"]
# This machine has no CUDA: the profile's device=cuda is overridden, its GPU requests are kept.
NO_CUDA = ["--config", "device=cpu", "resources={gpu: 1, optimize_mem_mb: 2000, optimize_runtime_min: 10, threads: 1}"]
SNAKEMAKE_TIMEOUT_S = 1200  # measured: 6-8 min per run on 2 cores at a load average of ~12
CANNOT_INSTALL = 3  # the cluster script's exit status when SLURM is missing and cannot be installed


def _skip_reason() -> str | None:
    if os.environ.get("KERNELVIS_TEST_SLURM") != "1":
        return "set KERNELVIS_TEST_SLURM=1 to run the workflow on a one-node SLURM (root; may apt-get install slurm)"
    if os.geteuid() != 0:
        return "the one-node SLURM needs root (SlurmUser=root)"
    if shutil.which("slurmctld") is None and shutil.which("apt-get") is None:
        return "SLURM is not installed and there is no apt-get to install it"
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        return "the SLURM executor plugin is missing: pip install -e '.[cluster]'"
    return None


pytestmark = [pytest.mark.slow, pytest.mark.skipif(_skip_reason() is not None, reason=_skip_reason() or "")]


def _free_port_pair() -> int:
    """A port P with P and P+1 free (slurmctld, slurmd), so a cluster a person runs on 6817 is left alone."""
    for _ in range(100):
        port = random.randint(20000, 40000)
        try:
            for candidate in (port, port + 1):
                with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
                    probe.bind(("127.0.0.1", candidate))
            return port
        except OSError:
            continue
    raise RuntimeError("no free port pair for the one-node SLURM")


def _environment(**extra: str) -> dict:
    return dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}", OMP_NUM_THREADS="1", **extra)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    # A short path: munge's socket lives in it and unix socket paths are limited to ~100 characters.
    state = Path(tmp_path_factory.mktemp("slurm"))
    environment = _environment(KERNELVIS_SLURM_PORT=str(_free_port_pair()))
    started = time.perf_counter()
    try:
        result = subprocess.run(["bash", str(CLUSTER_SCRIPT), "start", str(state)], capture_output=True, text=True,
                                env=environment, timeout=900)
        if result.returncode == CANNOT_INSTALL:
            pytest.skip(f"SLURM could not be installed: {result.stderr.strip().splitlines()[-1]}")
        assert result.returncode == 0, f"the one-node SLURM did not start:\n{result.stdout}\n{result.stderr}"
        print(f"one-node SLURM up in {time.perf_counter() - started:.1f} s")
        yield {"state": state, "env": dict(environment, SLURM_CONF=str(state / "slurm.conf"))}
    finally:
        subprocess.run(["bash", str(CLUSTER_SCRIPT), "stop", str(state)], capture_output=True, text=True,
                       env=environment, timeout=60)
    for daemon in ["munged", "slurmctld", "slurmd"]:
        assert not (state / f"{daemon}.pid").exists(), f"{daemon} was not stopped"


def _snakemake(workdir: Path, configfile: Path, env: dict, *args: str) -> subprocess.CompletedProcess:
    # `timeout` as well as subprocess's own limit: the first kills snakemake (and lets it cancel its jobs),
    # the second guards against anything that survives it.
    command = ["timeout", "-k", "30", str(SNAKEMAKE_TIMEOUT_S), str(BIN / "snakemake"), "-s", str(REPO / "Snakefile"),
               "--directory", str(workdir), "--configfile", str(configfile),
               "--workflow-profile", str(PROFILE), *NO_CUDA, *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=SNAKEMAKE_TIMEOUT_S + 60)


def _planned_jobs(output: str) -> int:
    """The total of snakemake's 'Job stats' table."""
    totals = re.findall(r"^total\s+(\d+)\s*$", output, flags=re.MULTILINE)
    assert totals, "no job stats in snakemake's output"
    return int(totals[0])


def _submitted_slurm_ids(output: str) -> list[int]:
    return [int(found) for found in re.findall(r"submitted with SLURM jobid (\d+)", output)]


def _completed_jobs(state: Path) -> dict[int, dict[str, str]]:
    """The cluster's job-completion log (jobcomp/filetxt): one `Key=Value ...` line per finished job."""
    records = {}
    for line in (state / "jobcomp.txt").read_text().splitlines():
        fields = dict(item.split("=", 1) for item in line.split() if "=" in item)
        records[int(fields["JobId"])] = fields
    return records


def _job_gpus(state: Path) -> dict[int, str]:
    """The GPUs each finished job held, from the cluster's epilog: `JobId=N Gpus=0` ('' for none)."""
    held = {}
    for line in (state / "jobgpus.txt").read_text().splitlines():
        fields = dict(item.split("=", 1) for item in line.split())
        held[int(fields["JobId"])] = fields["Gpus"]
    return held


def _rules_by_gpu(output: str, job_ids: list[int], gpus: dict[int, str]) -> dict[bool, set[str]]:
    """Stages (rule names up to their first ``__``: the per-kernel rules are generated per chunk, named
    ``<stage>__<model>__<layer>__<chunk>``) of the SLURM jobs that held a GPU (True) and that did not (False)."""
    # "... submitted with SLURM jobid 7 (log: .../slurm_logs/rule_decompose__planted__energy__0000/7.log)"
    rule_of = {int(job_id): rule.split("__")[0]
               for rule, job_id in re.findall(r"slurm_logs/rule_(\w+)/(?:\S*/)?(\d+)\.log", output)}
    grouped = {True: set(), False: set()}
    for job_id in job_ids:
        grouped[bool(gpus[job_id])].add(rule_of[job_id])
    return grouped


def _npz_arrays(root: Path) -> dict[str, dict[str, np.ndarray]]:
    arrays = {}
    for path in sorted((root / "results").rglob("*.npz")):
        with np.load(path, allow_pickle=False) as archive:
            arrays[str(path.relative_to(root))] = {key: archive[key] for key in archive.files}
    return arrays


def _result_files(root: Path) -> set[str]:
    return {str(path.relative_to(root)) for path in (root / "results").rglob("*") if path.is_file()}


def test_slurm_run_equals_local_run(cluster, tiny_workflow_run, tmp_path):
    # The local reference: the whole DAG of the same config (TEST_CONFIG, device cpu) run once for the session;
    # the targets here are part of it. It ran without this profile, so its jobs had 1 thread where the profile
    # gives 2: at the tiny config's sizes the arrays are the same bit for bit (measured: a local run with the
    # profile, 56 arrays of 36 files, all equal to the shared run's).
    local_dir, slurm_dir = tiny_workflow_run, tmp_path / "slurm"

    started = time.perf_counter()
    slurm = _snakemake(slurm_dir, TEST_CONFIG, cluster["env"], *NO_ACCOUNTING, *TARGETS)
    slurm_s = time.perf_counter() - started
    assert slurm.returncode != 124, "the SLURM run hit its hard timeout"
    assert slurm.returncode == 0, f"SLURM run failed:\n{slurm.stderr[-6000:]}"
    print(f"SLURM {slurm_s:.0f} s")

    # Every job was a SLURM job: one submission per planned job, and the cluster's job-completion record
    # shows each of them ending with exit code 0. (The plugin deletes successful jobs' own logs.)
    planned = _planned_jobs(slurm.stderr)
    job_ids = _submitted_slurm_ids(slurm.stderr)
    assert planned >= 5 and len(job_ids) == planned and len(set(job_ids)) == planned, (planned, job_ids)
    completed = _completed_jobs(cluster["state"])
    for job_id in job_ids:
        assert job_id in completed, f"SLURM has no record of job {job_id}"
        assert completed[job_id]["JobState"] == "COMPLETED" and completed[job_id]["ExitCode"] == "0:0", completed[job_id]
    # The profile's GPU requests reached the scheduler (the one-node cluster has one stand-in GPU): the
    # device rules held it, the others did not.
    gpus = _job_gpus(cluster["state"])
    gpu_rules = _rules_by_gpu(slurm.stderr, job_ids, gpus)
    assert gpu_rules[True] >= {"optimize", "decompose"}, gpu_rules
    assert "kernel_summary" in gpu_rules[False], gpu_rules

    slurm_files = _result_files(slurm_dir)
    assert slurm_files <= _result_files(local_dir), sorted(slurm_files - _result_files(local_dir))
    kernel_dir = Path(TARGETS[0]).parent
    for name in ("optimal.npz", "decomposition.npz", "refined.npz", "tuning.json", "summary.json", "panel.png"):
        assert str(kernel_dir / name) in slurm_files, f"the SLURM run did not write {kernel_dir / name}"
    local_arrays, slurm_arrays = _npz_arrays(local_dir), _npz_arrays(slurm_dir)
    assert len(slurm_arrays) >= 6, sorted(slurm_arrays)
    for name, arrays in slurm_arrays.items():
        assert sorted(local_arrays[name]) == sorted(arrays), name
        for key, value in arrays.items():
            np.testing.assert_array_equal(value, local_arrays[name][key], err_msg=f"{name}:{key}")


def test_failing_job_exits_non_zero_naming_its_log(cluster, tmp_path):
    config = yaml.safe_load(TEST_CONFIG.read_text())
    config["models"] = [{"name": "planted", "spec": "planted", "layers": {"energy": [99]}}]  # the layer has 8 units
    configfile = tmp_path / "broken.yaml"
    configfile.write_text(yaml.safe_dump(config))
    target = "results/planted/energy/kernel_0099/optimal.npz"

    started = time.perf_counter()
    result = _snakemake(tmp_path / "run", configfile, cluster["env"], *NO_ACCOUNTING, target)
    elapsed_s = time.perf_counter() - started
    assert result.returncode not in (0, 124), result.returncode
    assert elapsed_s < SNAKEMAKE_TIMEOUT_S / 2, f"a failing job took {elapsed_s:.0f} s to be noticed"
    assert "logs/planted/energy/chunk_0099/optimize.log" in result.stderr, result.stderr[-3000:]
    assert re.search(r"slurm_logs/rule_optimize__planted__energy__0099/\S*\.log", result.stderr), \
        "the SLURM log is not named"
    assert _submitted_slurm_ids(result.stderr), "the failing job was not submitted to SLURM"
    log = tmp_path / "run" / "logs" / "planted" / "energy" / "chunk_0099" / "optimize.log"
    assert "out of range" in log.read_text()
