"""Kinetics / video-folder sampling on a fixture made here: tiny mp4s whose frames encode their index."""

import csv

import numpy as np
import pytest

from kernelvis.cli import main
from kernelvis.data.kinetics import (annotation_sources, folder_sources, kinetics_file_name, load_clip_set,
                                     sample_clips)
from kernelvis.data.video import decode_clip, resize_short_side_and_centre_crop
from kernelvis.errors import BadInputError
from kernelvis.io import write_gif, write_mp4

FRAMES_IN_FILE = 12


def frame_value(clip_number: int, frame_index: int) -> float:
    """Grey level of frame ``frame_index`` of clip ``clip_number``: both are recoverable after decoding."""
    return (10 + 15 * frame_index + 3 * clip_number) / 255.0


def write_indexed_video(path, clip_number, writer=write_mp4, height=24, width=40):
    video = np.stack([np.full((height, width, 3), frame_value(clip_number, t), np.float32) for t in range(FRAMES_IN_FILE)])
    writer(path, video)


@pytest.fixture(scope="module")
def kinetics_root(tmp_path_factory):
    """val/ holds 3 classes x 3 clips (one of class 'b' missing, one of class 'c' corrupt) + a CSV."""
    root = tmp_path_factory.mktemp("k400")
    (root / "val").mkdir()
    rows, number = [], 0
    for label in ("a", "b", "c"):
        for k in range(3):
            youtube_id = f"{label}{k}_id_xxxx"[:11]
            start, end = 10 * k, 10 * k + 10
            rows.append({"label": label, "youtube_id": youtube_id, "time_start": start, "time_end": end, "split": "val"})
            path = root / "val" / kinetics_file_name(youtube_id, start, end)
            if (label, k) == ("b", 1):
                pass  # missing
            elif (label, k) == ("c", 2):
                path.write_bytes(b"\x00\x01 not an mp4 at all" * 50)
            else:
                write_indexed_video(path, number)
            number += 1
    rows.append({"label": "a", "youtube_id": "train_only1", "time_start": 0, "time_end": 10, "split": "train"})
    with open(root / "val.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["label", "youtube_id", "time_start", "time_end", "split"])
        writer.writeheader()
        writer.writerows(rows)
    return root


def test_decode_clip_takes_strided_frames_from_the_middle_and_crops_square(tmp_path):
    path = tmp_path / "clip.mp4"
    write_indexed_video(path, clip_number=0)
    clip, complete = decode_clip(path, frames=4, stride=2, size=16)
    assert clip.shape == (4, 16, 16, 3) and clip.dtype == np.uint8 and complete
    # span 7 of 12 frames, centred: start (12 - 7) // 2 = 2 -> frames 2, 4, 6, 8
    expected = [255 * frame_value(0, t) for t in (2, 4, 6, 8)]
    assert np.allclose(clip.mean(axis=(1, 2, 3)), expected, atol=2.0)
    long_clip, complete = decode_clip(path, frames=8, stride=3, size=16)
    assert not complete and long_clip.shape[0] == 8  # shorter than 22 frames: last frame repeated


def test_resize_short_side_then_centre_crop():
    frame = np.zeros((20, 60, 3), np.uint8)
    frame[:, :20, 0] = 255  # left third red
    frame[:, 40:, 2] = 255  # right third blue
    frame[:, 20:40, 1] = 255  # middle third green
    out = resize_short_side_and_centre_crop(frame, 10)
    assert out.shape == (10, 10, 3)
    assert out[..., 1].min() > 200 and out[..., 0].max() < 60 and out[..., 2].max() < 60


def test_sampling_is_reproducible_and_records_missing_and_corrupt_files(kinetics_root):
    sources = annotation_sources(kinetics_root, kinetics_root / "val.csv", "val")
    assert len(sources) == 9  # the train row is ignored
    first = sample_clips(sources, ["a", "b", "c"], per_class=2, frames=3, stride=2, size=12, seed=5)
    again = sample_clips(sources, ["a", "b", "c"], per_class=2, frames=3, stride=2, size=12, seed=5)
    assert first.clips.shape == (6, 3, 12, 12, 3) and first.clips.dtype == np.uint8
    assert first.clip_ids == again.clip_ids and np.array_equal(first.clips, again.clips)
    assert list(first.labels) == [0, 0, 1, 1, 2, 2] and first.class_names == ["a", "b", "c"]
    # every class still yields 2 clips: b skips its missing file, c its corrupt one, when they come up
    picked = {sample_clips(sources, ["a"], 1, 1, 1, 8, seed).clip_ids[0] for seed in range(6)}
    assert len(picked) > 1, "different seeds should pick different clips"
    all_three = sample_clips(sources, ["b", "c"], per_class=3, frames=3, stride=2, size=12, seed=0)
    statuses = {(row["label"], row["status"]) for row in all_three.manifest}
    assert ("b", "missing") in statuses and ("c", "corrupt") in statuses
    assert all_three.status_counts == {"ok": 4, "missing": 1, "corrupt": 1} and len(all_three.labels) == 4
    for row in all_three.manifest:
        assert (len(row["sha256"]) == 64) == (row["status"] != "missing")
    # the decoded content is the file's: clip number is encoded in the grey level of frame t
    for clip, clip_id in zip(first.clips, first.clip_ids):
        label, k = clip_id[0], int(clip_id[1])
        number = "abc".index(label) * 3 + k
        expected = [255 * frame_value(number, t) for t in (3, 5, 7)]  # span 5 of 12, start 3
        assert np.allclose(clip.mean(axis=(1, 2, 3)), expected, atol=2.0)


def test_unknown_class_and_nothing_decodable_are_errors(kinetics_root, tmp_path):
    sources = annotation_sources(kinetics_root, kinetics_root / "val.csv", "val")
    with pytest.raises(BadInputError, match="did you mean: a"):
        sample_clips(sources, ["A"], 1, 3, 1, 8)
    bad = [source for source in sources if source.clip_id.startswith(("b1", "c2"))]
    with pytest.raises(BadInputError, match="1 missing, 1 corrupt"):
        sample_clips(bad, None, 2, 3, 1, 8)


def test_class_folders_and_plain_folders_use_the_same_code(tmp_path):
    for number, (label, name) in enumerate([("walk", "x.mp4"), ("walk", "y.gif"), ("run", "z.mp4")]):
        (tmp_path / "val" / label).mkdir(parents=True, exist_ok=True)
        write_indexed_video(tmp_path / "val" / label / name, number, write_gif if name.endswith("gif") else write_mp4)
    sources = folder_sources(tmp_path, "val")
    assert sorted((s.label, s.clip_id) for s in sources) == [("run", "run/z"), ("walk", "walk/x"), ("walk", "walk/y")]
    clip_set = sample_clips(sources, None, per_class=2, frames=2, stride=1, size=8)
    assert clip_set.class_names == ["run", "walk"] and clip_set.clips.shape == (3, 2, 8, 8, 3)
    plain = folder_sources(tmp_path / "val" / "walk")
    assert {s.label for s in plain} == {"all"} and len(plain) == 2


def test_sample_clips_command_writes_clips_and_manifest(kinetics_root, tmp_path, capsys):
    out, manifest = tmp_path / "data" / "clips.npz", tmp_path / "data" / "manifest.csv"
    code = main(["sample-clips", "--root", str(kinetics_root), "--annotations", str(kinetics_root / "val.csv"),
                 "--split", "val", "--classes", "b", "c", "--per-class", "3", "--frames", "2", "--stride", "1",
                 "--size", "8", "--seed", "1", "--out-file", str(out), "--manifest", str(manifest)])
    assert code == 0 and "1 missing" in capsys.readouterr().out
    clip_set = load_clip_set(out)
    assert clip_set.clips.shape == (4, 2, 8, 8, 3) and clip_set.class_names == ["b", "c"]
    with open(manifest, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 6 and list(rows[0]) == ["label", "id", "start", "end", "path", "status", "sha256"]
    failed_out = tmp_path / "nothing" / "clips.npz"
    code = main(["sample-clips", "--root", str(tmp_path / "empty_nowhere"), "--out-file", str(failed_out)])
    assert code == 1 and not failed_out.exists()


def test_annotation_csv_finds_clips_arranged_in_class_folders(tmp_path):
    name = kinetics_file_name("abcdefghijk", 3, 13)
    (tmp_path / "val" / "air drumming").mkdir(parents=True)
    write_indexed_video(tmp_path / "val" / "air drumming" / name, 0)
    (tmp_path / "val.csv").write_text("label,youtube_id,time_start,time_end,split\n"
                                      "air drumming,abcdefghijk,3,13,val\n")
    (source,) = annotation_sources(tmp_path, tmp_path / "val.csv", "val")
    assert source.path.is_file() and (source.start, source.end, source.label) == (3, 13, "air drumming")
    assert len(sample_clips([source], None, 1, 2, 1, 8).labels) == 1
