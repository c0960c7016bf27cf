"""`kernelvis synthetic-clips` writes the same clips.npz format as sample-clips, labelled by motion class."""

import csv

import numpy as np

from kernelvis.cli import main
from kernelvis.data.kinetics import load_clip_set
from kernelvis.data.motion_task import MOTION_CLASSES


def test_synthetic_clips_command(tmp_path):
    out = tmp_path / "data" / "clips.npz"
    assert main(["synthetic-clips", "--out-file", str(out), "--per-class", "1", "--frames", "4", "--size", "16"]) == 0
    clip_set = load_clip_set(out)
    assert clip_set.clips.shape == (13, 4, 16, 16, 3) and clip_set.clips.dtype == np.uint8
    assert clip_set.class_names == list(MOTION_CLASSES) and sorted(clip_set.labels) == list(range(13))
    static = clip_set.clips[MOTION_CLASSES.index("static")].astype(int)
    moving = clip_set.clips[MOTION_CLASSES.index("translate_090")].astype(int)
    assert np.abs(np.diff(static, axis=0)).max() == 0 and np.abs(np.diff(moving, axis=0)).mean() > 1
    with open(out.with_name("manifest.csv"), newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["label"] for row in rows] == [MOTION_CLASSES[label] for label in clip_set.labels]
    assert main(["synthetic-clips", "--out-file", str(tmp_path / "bad.npz"), "--per-class", "0"]) == 1
    assert not (tmp_path / "bad.npz").exists()
