"""One orchestration: `kernelvis visualize` on one kernel writes the same files, the same summary.json and the
same arrays as the workflow's per-kernel rules for that kernel (the tiny CI workflow runs one kernel per job,
kernels_per_job: 1, so bit-identical), because both run the functions of kernelvis.stages and the same merge."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

pytestmark = pytest.mark.slow  # reads the shared run of the tiny workflow

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TEST_CONFIG = REPO / ".test" / "config" / "config.yaml"
PROVENANCE_FREE = {"provenance"}  # paths and versions of the run, not results


def _updated(base: dict, update: dict) -> dict:
    """A --configfile over the embedded default, as snakemake merges them: mappings key by key, the rest replaced."""
    merged = dict(base)
    for key, value in update.items():
        merged[key] = _updated(base[key], value) if isinstance(value, dict) and isinstance(base.get(key), dict) else value
    return merged


def _visualize_with_the_workflows_settings(workdir: Path, out: Path, model: str, layer: str, kernel: int):
    config = _updated(yaml.safe_load((REPO / "config" / "config.yaml").read_text()),
                      yaml.safe_load(TEST_CONFIG.read_text()))
    entry = next(entry for entry in config["models"] if entry["name"] == model)
    assert config.get("kernels_per_job", 1) == 1 and entry.get("kernels_per_job", 1) == 1

    def setting(stage, key):
        return (entry.get(stage) or {}).get(key, config[stage][key])

    optimize = [f"--{key.replace('_', '-')}={setting('optimize', key)}"
                for key in ("steps", "restarts", "param", "lr", "objective", "early_stop", "preprocessing", "seed")]
    assert setting("decompose", "seed") == setting("refine", "seed") == setting("optimize", "seed")
    tuning = config["tuning"].get("options", "").replace("--", "--tuning-").split()
    tuning += config["texture_tuning"].get("options", "").replace("--", "--texture-").split()
    command = [str(BIN / "kernelvis"), "visualize", "--model", entry["spec"], "--layer", layer, "--kernel",
               str(kernel), "--out", str(out), *optimize, "--decompose-steps", str(setting("decompose", "steps")),
               "--refine-steps", str(setting("refine", "steps")), *tuning,
               "--clips", str(workdir / "results" / "data" / "clips.npz"), "--no-progress"]
    environment = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}", OMP_NUM_THREADS="1")
    result = subprocess.run(command, capture_output=True, text=True, env=environment, cwd=workdir)
    assert result.returncode == 0, result.stderr[-3000:]


def _without_provenance(path: Path) -> dict:
    record = json.loads(path.read_text())
    return {key: value for key, value in record.items() if key not in PROVENANCE_FREE}


def test_visualize_writes_what_the_workflow_writes_for_a_kernel(tiny_workflow_run, tmp_path):
    workflow_dir = tiny_workflow_run / "results" / "planted" / "energy" / "kernel_0000"
    out = tmp_path / "visualized"
    _visualize_with_the_workflows_settings(tiny_workflow_run, out, "planted", "energy", 0)

    # the same files (suppression is a baseline of the workflow only, not a per-kernel stage)
    workflow_files = {path.name for path in workflow_dir.iterdir() if path.name != "suppression"}
    assert {path.name for path in out.iterdir()} == workflow_files
    assert json.loads((out / "summary.json").read_text()) == json.loads((workflow_dir / "summary.json").read_text())
    for path in sorted(workflow_dir.glob("*.npz")):
        with np.load(path) as expected, np.load(out / path.name) as got:
            assert sorted(got.files) == sorted(expected.files), path.name
            for key in expected.files:
                if key != "provenance":
                    np.testing.assert_array_equal(got[key], expected[key], err_msg=f"{path.name}:{key}")
    for path in sorted(workflow_dir.glob("stage_*.json")) + [workflow_dir / "tuning.json"]:
        assert _without_provenance(out / path.name) == _without_provenance(path), path.name
    for path in sorted(workflow_dir.glob("*.csv")):
        assert (out / path.name).read_text() == path.read_text(), path.name
