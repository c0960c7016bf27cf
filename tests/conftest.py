"""Shared test set-up: one torch thread per xdist worker, no network, deterministic seeds; the one run of the
tiny workflow the slow system tests share; and the guard that keeps the fast suite fast (fast_suite_guard.py)."""

import fcntl
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

# The fast suite's guard (tests/fast_suite_guard.py): its hooks, registered by being names in this conftest.
from fast_suite_guard import (  # noqa: F401
    pytest_runtest_logreport, pytest_runtest_makereport, pytest_runtest_protocol, pytest_sessionfinish)

torch.set_num_threads(1)
os.environ.setdefault("KERNELVIS_NO_DOWNLOAD", "1")

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TEST_CONFIG = REPO / ".test" / "config" / "config.yaml"


@pytest.fixture(autouse=True)
def _no_network_and_seeded(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("network disabled in tests")

    monkeypatch.setattr(socket, "create_connection", refuse)
    torch.manual_seed(0)
    np.random.seed(0)
    yield


# ---------------------------------------------------------------------------------------------------------------
# One run of the tiny workflow (.test/config/config.yaml) per pytest session, shared by the workflow, browser and
# SLURM tests: the whole DAG takes minutes on 2 cores, and each of them used to run it again.

def _run_tiny_workflow(workdir: Path) -> str | None:
    """Run the whole .test DAG in ``workdir``; None on success, else what went wrong."""
    environment = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}", OMP_NUM_THREADS="1")
    command = [str(BIN / "snakemake"), "-s", str(REPO / "Snakefile"), "--directory", str(workdir),
               "--configfile", str(TEST_CONFIG), "--cores", "2"]
    try:
        result = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=2400)
    except subprocess.TimeoutExpired:
        return "the tiny workflow did not finish within 2400 s"
    if result.returncode != 0:
        return f"snakemake failed:\n{result.stdout[-3000:]}\n{result.stderr[-6000:]}"
    return None


@pytest.fixture(scope="session")
def tiny_workflow_run(tmp_path_factory) -> Path:
    """The working directory of one finished run of the tiny workflow (results/, logs/, .snakemake/).

    Read it, never change it: other tests (on other xdist workers too) read it at the same time. A test that
    changes files or re-runs snakemake works on its own ``shutil.copytree`` of it.

    Under xdist every worker is its own process with its own session fixtures, so the run is shared through the
    session's common temporary directory: the first worker to take the lock runs the workflow, the others wait
    for the lock and reuse what it wrote (or its failure, without running it again).
    """
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = tmp_path_factory.getbasetemp().parent  # pytest-N/, the parent of every worker's popen-gwK/
    else:
        shared = tmp_path_factory.getbasetemp()  # its parent outlives the session: never reuse another session's run
    workdir = shared / "tiny_workflow_run"
    done, failed = workdir / ".kernelvis-test-done", workdir / ".kernelvis-test-failed"
    with open(shared / "tiny_workflow_run.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, also if this worker dies
        try:
            if not done.is_file() and not failed.is_file():
                workdir.mkdir(exist_ok=True)
                started = time.perf_counter()
                error = _run_tiny_workflow(workdir)
                print(f"tiny workflow run: {time.perf_counter() - started:.1f} s")
                (failed if error else done).write_text(error or "ok")
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    if failed.is_file():
        pytest.fail(f"the shared tiny workflow run failed: {failed.read_text()}", pytrace=False)
    return workdir
