"""`kernelvis decompose`: files, the stage record, input formats, errors leave nothing behind."""

import json

import numpy as np
import pytest

from kernelvis.cli import main
from kernelvis.data import synthetic
from kernelvis.decompose.save import load_decomposition
from kernelvis.render.decomposition import FILES as PICTURES
from kernelvis.io import write_gif, write_mp4
from kernelvis.provenance import read_provenance

FAST_OPTIONS = ["--steps", "10"]
FILES = ("decomposition.npz", "stage_decompose.json")


@pytest.fixture(scope="module")
def clip():
    return synthetic.translating_texture(8, 32, 135.0, 1.5, seed=2)


def run_decompose(video_path, out_dir, *extra):
    return main(["decompose", str(video_path), "--out", str(out_dir), *FAST_OPTIONS, *extra])


def test_npz_gif_and_mp4_inputs_give_matching_results(tmp_path, clip):
    # Quantized to uint8 first, so the three files hold the same video (mp4 is lossless yuv444, crf 0).
    video = np.round(clip.video * 255) / 255
    np.savez(tmp_path / "clip.npz", video=video.astype(np.float32))
    write_gif(tmp_path / "clip.gif", video)
    write_mp4(tmp_path / "clip.mp4", video)
    results = {}
    for suffix in ("npz", "gif", "mp4"):
        assert run_decompose(tmp_path / f"clip.{suffix}", tmp_path / suffix) == 0
        assert sorted(p.name for p in (tmp_path / suffix).iterdir()) == sorted(FILES + PICTURES)
        results[suffix] = (load_decomposition(tmp_path / suffix / "decomposition.npz"),
                           json.loads((tmp_path / suffix / "stage_decompose.json").read_text()))
    reference, reference_summary = results["npz"]
    assert reference_summary["direction_deg"] == pytest.approx(135.0, abs=5.0)
    # gif: 256-colour palette (measured 0.058 px/frame mean difference); mp4: YUV rounding.
    for suffix, tolerance_px_per_frame in (("gif", 0.1), ("mp4", 0.05)):
        decomposition, summary = results[suffix]
        assert np.abs(decomposition.velocity - reference.velocity)[1:, 4:-4, 4:-4].mean() < tolerance_px_per_frame
        assert summary["direction_deg"] == pytest.approx(reference_summary["direction_deg"], abs=2.0)
        assert summary["speed_px_per_frame"] == pytest.approx(reference_summary["speed_px_per_frame"], rel=0.05)


def test_optimal_npz_metadata_is_carried_into_the_stage_record(tmp_path, clip):
    np.savez(tmp_path / "optimal.npz", video=clip.video, activation=np.float32(2.5), model="demo",
             layer="conv2", kernel=np.int64(7), history=np.zeros(3, np.float32))
    out = tmp_path / "kernel"
    out.mkdir()
    (out / "summary.json").write_text(json.dumps({"optimize_steps": 12}))
    assert run_decompose(tmp_path / "optimal.npz", out, "--motion-scale", "2.0") == 0
    # summary.json belongs to the merge (kernelvis figures kernel): a stage leaves it alone
    assert json.loads((out / "summary.json").read_text()) == {"optimize_steps": 12}
    summary = json.loads((out / "stage_decompose.json").read_text())
    assert (summary["model"], summary["layer"], summary["kernel"]) == ("demo", "conv2", 7)
    assert summary["activation"] == pytest.approx(2.5)
    assert summary["motion_scale_px_per_frame"] == 2.0
    for key in ("recon_psnr_db", "direction_deg", "direction_strength", "speed_px_per_frame", "motion_index"):
        assert np.isfinite(summary[key])
    with np.load(out / "decomposition.npz") as archive:
        assert archive["displacement"].shape == (8, 32, 32, 2) and archive["static"].shape == (32, 32, 3)
        assert int(archive["margin_px"]) >= 1
    # how it was made: the whole stage-2 config (the --steps given, the starts) in the record and the arrays
    for provenance in (summary["provenance"], read_provenance(out / "decomposition.npz")):
        assert provenance["stage"] == "decompose"
        assert (provenance["model"], provenance["layer"], provenance["kernel"]) == ("demo", "conv2", 7)
        assert provenance["config"]["steps"] == 10 and provenance["config"]["rigid_start"] is True


@pytest.mark.parametrize("content, extra", [
    (b"not a video", []),
    (None, []),
    ("good", ["--steps", "-1"]),
    ("good", ["--motion-scale", "0"]),
])
def test_bad_input_exits_1_with_one_line_and_no_output(tmp_path, capsys, clip, content, extra):
    path = tmp_path / "clip.npz"
    if content == "good":
        np.savez(path, video=clip.video)
    elif content is not None:
        path.write_bytes(content)
    assert run_decompose(path, tmp_path / "out", *extra) == 1
    error = capsys.readouterr().err.strip()
    assert error.startswith("kernelvis: error:") and "\n" not in error
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir()] == (["clip.npz"] if content is not None else [])


def test_no_translation_start_fits_from_the_pairwise_flow_alone(tmp_path, clip):
    np.savez(tmp_path / "clip.npz", video=clip.video)
    assert run_decompose(tmp_path / "clip.npz", tmp_path / "out", "--no-translation-start") == 0
    record = json.loads((tmp_path / "out" / "stage_decompose.json").read_text())
    assert record["provenance"]["config"]["rigid_start"] is False
    assert record["decompose_start"] in ("motion", "appearance")
