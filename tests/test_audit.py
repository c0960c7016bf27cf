"""The optimality audit: an optimal input must beat the best tuning stimulus and the best natural clip,
measured with stage 1's objective and preprocessing; a deliberately weakened one is flagged."""

import json

import numpy as np
import pytest

from kernelvis.analysis.verdict import audit_share_line, audit_verdict, combined_status
from kernelvis.cli import main as cli_main
from kernelvis.io import save_npz


def test_verdict_needs_every_measured_reference_beaten():
    assert audit_verdict(2.0, 1.0, 1.5)["audit_pass"]
    assert not audit_verdict(1.2, 1.0, 1.5)["audit_pass"]
    assert not audit_verdict(1.2, 1.5)["audit_pass"]
    verdict = audit_verdict(3.0, 1.5, 2.0)
    assert verdict["optimal_vs_best_grating"] == pytest.approx(2.0)
    assert verdict["optimal_vs_best_natural"] == pytest.approx(1.5)
    # a non-positive reference has no meaningful ratio, but still has to be beaten
    negative = audit_verdict(-0.2, -0.1, -0.5)
    assert negative["optimal_vs_best_grating"] is None and not negative["audit_pass"]
    assert not audit_verdict(float("nan"), 1.0)["audit_pass"]  # a diverged kernel passes nothing
    assert not audit_verdict(1.0)["audit_pass"]  # nothing measured: no pass


def test_status_priority_and_share_line():
    assert combined_status(["ok", "silent", None]) == "silent"
    assert combined_status(["silent", "dead"]) == "dead"
    assert combined_status(["ok", "diverged", "dead"]) == "diverged"
    assert combined_status([None]) == "ok"
    rows = [{"layer": "conv1", "kernel": k, "audit_pass": k != 2, "status": "ok"} for k in range(4)]
    rows.append({"layer": "conv1", "kernel": 9, "audit_pass": True, "status": "dead"})
    lines = audit_share_line("demo", rows)
    assert lines[0] == "demo: 3/4 kernels pass the optimality audit"
    assert lines[1].startswith("WARNING") and "conv1/2" in lines[1]
    assert "conv1/9 dead" in lines[2]
    assert audit_share_line("demo", rows[:2]) == ["demo: 2/2 kernels pass the optimality audit"]


@pytest.fixture(scope="module")
def clip_set(tmp_path_factory):
    from kernelvis.data.synthetic import drifting_grating

    folder = tmp_path_factory.mktemp("clips")
    clips = np.stack([drifting_grating(16, 48, direction, 0.0625, 0.0625).video for direction in (0, 90, 180, 270)])
    save_npz(folder / "clips.npz", clips=(clips * 255).astype(np.uint8), labels=np.array(["a", "b", "c", "d"]))
    return folder / "clips.npz"


def _run_kernel(tmp_path, steps: int, clips, weaken: bool = False) -> dict:
    out = tmp_path / f"kernel_{steps}"
    target = ["--model", "planted", "--layer", "energy", "--kernel", "2"]
    small = ["--frames", "8", "--size", "24"]  # the planted 7x15x15 kernels fit; 4x fewer pixels than native
    assert cli_main(["optimize", *target, *small, "--out", str(out), "--steps", str(steps), "--lr", "0.1",
                     "--early-stop", "0", "--no-progress"]) == 0
    if weaken:  # stage 1 restarts a kernel below its references, so a weak optimal input is made by hand
        with np.load(out / "optimal.npz") as archive:
            arrays = {key: archive[key] for key in archive.files}
        arrays["video"] = (0.5 + 0.1 * (arrays["video"] - 0.5)).astype(np.float32)  # its contrast cut 10x
        save_npz(out / "optimal.npz", **arrays)
    assert cli_main(["tuning", *target, *small, "--out", str(out), "--optimal", str(out / "optimal.npz"),
                     "--directions", "8", "--spatial-freqs", "0.125", "--temporal-freqs", "0.125", "--dot-speeds"]) == 0
    assert cli_main(["audit", *target, "--optimal", str(out / "optimal.npz"), "--tuning", str(out / "tuning.json"),
                     "--clips", str(clips), "--out", str(out)]) == 0
    return json.loads((out / "stage_audit.json").read_text())


def test_a_weakened_optimal_input_is_flagged_and_a_real_one_passes(tmp_path, clip_set):
    weak = _run_kernel(tmp_path, 1, clip_set, weaken=True)
    assert weak["audit_pass"] is False and weak["optimal_vs_best_grating"] < 0.5
    assert weak["objective"] == "channel" and weak["status"] == "ok"
    strong = _run_kernel(tmp_path, 60, clip_set)
    assert strong["audit_pass"] is True, strong
    assert strong["optimal_vs_best_grating"] >= 1.0 and strong["optimal_vs_best_natural"] >= 1.0
    assert strong["best_stimulus"].startswith(("grating 90", "plaid 90"))  # planted unit 2 prefers 90°


def test_the_audit_refuses_a_tuning_measured_another_way(tmp_path, clip_set, capsys):
    out = tmp_path / "kernel"
    target = ["--model", "planted", "--layer", "energy", "--kernel", "2"]
    assert cli_main(["optimize", *target, "--out", str(out), "--steps", "1", "--no-progress"]) == 0
    (out / "tuning.json").write_text(json.dumps({"objective": "neuron", "best_stimulus_activation": 1.0}))
    code = cli_main(["audit", *target, "--optimal", str(out / "optimal.npz"), "--tuning", str(out / "tuning.json"),
                     "--out", str(out)])
    assert code == 1 and "neuron" in capsys.readouterr().err
    assert not (out / "stage_audit.json").exists()
