"""Every stage that measures a kernel after stage 1 uses stage 1's objective and preprocessing, read from
optimal.npz, and says so in its own artifact; an explicit setting that disagrees is refused."""

import json

import numpy as np
import pytest

from kernelvis.cli import main as cli_main
from kernelvis.io import save_npz
from kernelvis.provenance import read_provenance

# ~35 CPU s: with paper preprocessing every clip is upsampled to 32x224x224, and stage 1's search for the audit's
# references runs the whole tuning sweep (about 200 stimuli) that way, as does the tuning stage
pytestmark = pytest.mark.slow

MODEL_FILE = '''
import torch.nn as nn

def build():
    return nn.Sequential(nn.Conv3d(3, 2, (1, 3, 3)))   # affine in the pixels: `auto` means `rectified`
'''


@pytest.fixture(scope="module")
def kernel_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("flow")
    (root / "net.py").write_text(MODEL_FILE)
    torch_model = f"{root / 'net.py'}:build"
    out = root / "kernel"
    target = ["--model", torch_model, "--layer", "0", "--kernel", "1"]
    assert cli_main(["optimize", *target, "--out", str(out), "--frames", "4", "--size", "8", "--steps", "3",
                     "--preprocessing", "paper", "--no-progress"]) == 0
    assert cli_main(["decompose", str(out / "optimal.npz"), "--out", str(out), "--steps", "2"]) == 0
    assert cli_main(["refine", *target, "--out", str(out), "--steps", "1", "--neutral-textures", "1"]) == 0
    assert cli_main(["tuning", *target, "--out", str(out), "--optimal", str(out / "optimal.npz"), "--frames", "4",
                     "--size", "8", "--directions", "4", "--spatial-freqs", "0.25", "--temporal-freqs", "0.25",
                     "--dot-speeds"]) == 0
    clips = np.random.default_rng(0).integers(0, 255, (3, 4, 8, 8, 3), dtype=np.uint8)
    save_npz(root / "clips.npz", clips=clips, labels=np.array(["a", "b", "c"]))
    assert cli_main(["audit", *target, "--optimal", str(out / "optimal.npz"), "--tuning", str(out / "tuning.json"),
                     "--clips", str(root / "clips.npz"), "--out", str(out)]) == 0
    assert cli_main(["suppress", *target, "--clips", str(root / "clips.npz"), "--index", "best", "--optimal",
                     str(out / "optimal.npz"), "--out", str(out / "suppression"), "--steps", "2"]) == 0
    return out, target


def test_stage1_records_how_it_was_made(kernel_dir):
    out, _ = kernel_dir
    provenance = read_provenance(out / "optimal.npz")
    assert provenance["objective"] == "rectified" and provenance["objective_requested"] == "auto"
    assert provenance["preprocessing"] == "paper" and provenance["linearity_probe"]["affine"]
    assert provenance["config"]["steps"] == 3 and "torch" in provenance["versions"]
    with np.load(out / "optimal.npz") as archive:
        assert str(archive["objective"]) == "rectified" and str(archive["preprocessing"]) == "paper"


def test_later_stages_used_stage1_settings(kernel_dir):
    out, _ = kernel_dir
    refine = json.loads((out / "stage_refine.json").read_text())
    assert (refine["refine_objective"], refine["refine_preprocessing"]) == ("rectified", "paper")
    tuning = json.loads((out / "tuning.json").read_text())
    assert (tuning["objective"], tuning["preprocessing"]) == ("rectified", "paper")
    audit = json.loads((out / "stage_audit.json").read_text())
    assert (audit["objective"], audit["preprocessing"]) == ("rectified", "paper")
    suppression = json.loads((out / "suppression" / "suppression.json").read_text())
    assert suppression["provenance"]["preprocessing"] == "paper"
    assert suppression["clip_index"] in (0, 1, 2)


def test_a_disagreeing_setting_is_refused(kernel_dir, capsys):
    out, target = kernel_dir
    before = (out / "stage_refine.json").read_bytes()
    code = cli_main(["refine", *target, "--out", str(out), "--steps", "1", "--objective", "channel"])
    assert code == 1 and "disagrees" in capsys.readouterr().err
    assert (out / "stage_refine.json").read_bytes() == before, "a refused run must not touch the stage record"
