"""Bad input at the command line: one clear line on stderr, exit code 1, no traceback, no output files."""

import json

import pytest

from kernelvis.cli import main


def _run(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _assert_one_line_error(code, err, *fragments):
    assert code == 1
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kernelvis: error: ")
    for fragment in fragments:
        assert fragment in lines[0]


def test_unknown_model_lists_the_zoo(capsys):
    code, _, err = _run(capsys, "layers", "--model", "r3d_19")
    _assert_one_line_error(code, err, "unknown model 'r3d_19'", "r3d_18", "slowfast_r50", "path/to/file.py:function")


def test_unknown_layer_lists_close_matches(capsys):
    code, _, err = _run(capsys, "layers", "--model", "demo", "--layer", "cnv3")
    _assert_one_line_error(code, err, "unknown layer 'cnv3'", "close matches", "conv3")


def test_kernel_out_of_range_gives_the_valid_range(capsys):
    code, _, err = _run(capsys, "layers", "--model", "planted", "--layer", "energy", "--kernel", "8")
    _assert_one_line_error(code, err, "kernel 8 out of range", "0..7")


def test_missing_model_file_and_missing_function(tmp_path, capsys):
    code, _, err = _run(capsys, "layers", "--model", str(tmp_path / "nope.py") + ":build")
    _assert_one_line_error(code, err, "model file not found")
    path = tmp_path / "nets.py"
    path.write_text("import torch.nn as nn\n\ndef build_a():\n    return nn.Conv3d(3, 2, 1)\n\ndef broken():\n    return 3\n")
    code, _, err = _run(capsys, "layers", "--model", f"{path}:build_b")
    _assert_one_line_error(code, err, "has no function 'build_b'", "build_a")
    code, _, err = _run(capsys, "layers", "--model", str(path))
    _assert_one_line_error(code, err, "needs the function", f"{path}:FUNCTION")
    code, _, err = _run(capsys, "layers", "--model", f"{path}:broken")
    _assert_one_line_error(code, err, "returned int, not a torch.nn.Module")


def test_file_that_fails_to_import_is_one_line(tmp_path, capsys):
    path = tmp_path / "bad.py"
    path.write_text("import torch\nraise RuntimeError('boom\\nsecond line')\n")
    code, _, err = _run(capsys, "layers", "--model", f"{path}:anything")
    _assert_one_line_error(code, err, "cannot import", "RuntimeError: boom")


def test_missing_weights_file(tmp_path, capsys):
    code, _, err = _run(capsys, "layers", "--model", "demo", "--weights", str(tmp_path / "absent.pt"))
    _assert_one_line_error(code, err, "weights file not found")


def test_layers_lists_convs_without_weights(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # empty cache: listing must not need weights
    code, out, _ = _run(capsys, "layers", "--model", "c3d", "--json")
    assert code == 0
    layers = json.loads(out)
    assert [row["name"] for row in layers][:3] == ["conv1", "conv2", "conv3a"]
    assert layers[0] == {"name": "conv1", "type": "Conv3d", "out_channels": 64, "kernel_size": [3, 3, 3]}


def test_layer_description_reports_output_shape_on_the_native_clip(capsys):
    code, out, _ = _run(capsys, "layers", "--model", "planted", "--layer", "energy", "--kernel", "2", "--json")
    assert code == 0
    record = json.loads(out)
    # planted: 16x48x48 clip, valid (7,15,15) Gabor conv -> 10x34x34, one channel per unit
    assert record["output_shape"] == [8, 10, 34, 34] and record["kernel"] == 2
    assert record["kernel_weight_shape"] == [2, 1, 1, 1]  # grouped 1x1 conv summing one quadrature pair


def test_models_table_marks_cached_weights(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    (tmp_path / "hub" / "checkpoints").mkdir(parents=True)
    (tmp_path / "hub" / "checkpoints" / "X3D_M.pyth").write_bytes(b"")
    code, out, _ = _run(capsys, "models", "--json")
    assert code == 0
    records = {row["name"]: row for row in json.loads(out)}
    assert records["x3d_m"]["cached"] is True and records["x3d_s"]["cached"] is False
    assert records["planted"]["cached"] is None
    code, out, _ = _run(capsys, "models")
    assert "r3d_18-b3b3357e.pth" in out and str(tmp_path / "hub" / "checkpoints") in out


def test_kernel_without_layer_is_one_line(capsys):
    code, _, err = _run(capsys, "layers", "--model", "demo", "--kernel", "1")
    _assert_one_line_error(code, err, "--kernel needs --layer")


def test_missing_required_argument_is_argparse_usage_error():
    with pytest.raises(SystemExit) as caught:  # argparse prints usage and one error line
        main(["layers"])
    assert caught.value.code == 2


def test_building_the_command_line_imports_no_torch():
    """`kernelvis --help` and every `kernelvis COMMAND --help` stay instant: no torch while the parser is built."""
    import subprocess
    import sys

    code = ("import sys, kernelvis.cli; kernelvis.cli.build_parser(); "
            "heavy = sorted(name for name in ('torch', 'torchvision', 'matplotlib') if name in sys.modules); "
            "print(heavy); sys.exit(1 if heavy else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, f"imported while building the parser: {result.stdout}{result.stderr}"


def _all_options():
    """(command, option string, argparse action) for every option of every command and `figures` subcommand."""
    import argparse

    from kernelvis.cli import build_parser

    def walk(parser, name):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub_name, sub in action.choices.items():
                    yield from walk(sub, f"{name} {sub_name}".strip())
            for option in action.option_strings:
                yield name, option, action

    yield from walk(build_parser(), "")


def test_one_cli_grammar_over_every_command():
    """An option means the same in every command: --out is a directory (a file is --out-file or a named option),
    --clips is a clip-set path (counts have their own names), and no command has --dir."""
    options = list(_all_options())
    assert len({command for command, _, _ in options}) > 20  # every command was walked, figures' included
    for command, option, action in options:
        where = f"kernelvis {command} {option}"
        assert option != "--dir", f"{where}: a directory is --out DIR"
        if option == "--out":
            assert action.metavar == "DIR" and "directory" in (action.help or ""), f"{where}: --out is a directory"
        if option == "--clips":
            assert action.type is None and action.nargs is None, f"{where}: --clips is a clip set path"
        if option == "--out-file":
            assert action.metavar != "DIR", where
    commands_with = lambda name: {command for command, option, _ in options if option == name}  # noqa: E731
    assert commands_with("--index") <= commands_with("--clips")  # one clip is --clips PATH --index N|best
    for name in ("--clip", "--video", "--dir"):
        assert not commands_with(name)
