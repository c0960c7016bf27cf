"""`kernelvis visualize`: the whole per-kernel pipeline writes a complete kernel directory, or nothing."""

import json

import numpy as np

from kernelvis.cli import main

TINY = ["--frames", "8", "--size", "32", "--steps", "15", "--restarts", "2", "--decompose-steps", "10",
        "--flow-steps", "10", "--refine-steps", "2", "--no-progress"]


def test_visualize_writes_every_kernel_file(tmp_path):
    out = tmp_path / "kernel"
    assert main(["visualize", "--model", "planted", "--layer", "energy", "--kernel", "3", "--out", str(out), *TINY]) == 0
    for name in ["optimal.npz", "optimal.gif", "decomposition.npz", "static.png", "motion.gif", "recon.gif",
                 "refined.npz", "texture.png", "motion_refined.gif", "summary.json", "panel.png", "panel.gif"]:
        assert (out / name).is_file(), name
    summary = json.loads((out / "summary.json").read_text())
    assert summary["model"] == "planted" and summary["layer"] == "energy" and summary["kernel"] == 3
    for key in ["activation", "recon_psnr_db", "direction_deg", "direction_strength", "speed_px_per_frame",
                "motion_index", "texture_reliance", "motion_reliance", "direction_reversal_drop"]:
        assert np.isfinite(summary[key]), key
    assert 0.0 <= summary["direction_deg"] < 360.0
    with np.load(out / "optimal.npz") as optimal, np.load(out / "decomposition.npz") as decomposition:
        assert optimal["video"].shape == (8, 32, 32, 3)
        assert decomposition["velocity"].shape == (8, 32, 32, 2)
        assert decomposition["static"].shape == (32, 32, 3)
        assert float(optimal["activation"]) == summary["activation"]
    assert not [path for path in tmp_path.iterdir() if path.name.startswith(".")], "staging left behind"


def test_visualize_bad_kernel_writes_nothing(tmp_path, capsys):
    out = tmp_path / "kernel"
    assert main(["visualize", "--model", "planted", "--layer", "energy", "--kernel", "99", "--out", str(out), *TINY]) == 1
    assert "kernel 99 out of range" in capsys.readouterr().err
    assert not out.exists() and list(tmp_path.iterdir()) == []
