"""The README's commands work as written: every command line of its shell code blocks is run from the repository
root with .venv/bin on PATH and must exit 0, except the long ones, named in LONG (a stale entry fails)."""

import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BLOCK = re.compile(r"^```(?:bash|sh|shell)?\n(.*?)^```", re.M | re.S)

LONG = {
    "make figures": "the whole default run (about 20 min on 2 cores)",
    "make test": "the test suite itself (make test, make test-all)",
    ".venv/bin/kernelvis visualize --model planted --layer energy --kernel 2": "a full-length optimization of one "
                                                                                "kernel (minutes on 2 cores)",
}
"""Command prefix -> why it is not run here."""


def readme_commands() -> list[str]:
    """Every command line of the README's shell code blocks, as written (continuation lines joined)."""
    commands = []
    for block in BLOCK.findall(README.read_text()):
        for line in block.replace("\\\n", " ").splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                commands.append(line.strip())
    return commands


def _is_long(command: str) -> bool:
    return any(command.startswith(prefix) for prefix in LONG)


def test_readme_has_commands_and_the_skip_list_is_not_stale():
    commands = readme_commands()
    assert commands, "no shell code block in README.md"
    stale = [prefix for prefix in LONG if not any(command.startswith(prefix) for command in commands)]
    assert not stale, f"LONG names commands the README no longer has: {stale}"


@pytest.mark.parametrize("command", [command for command in readme_commands() if not _is_long(command)])
def test_readme_command_runs(command):
    if not (ROOT / ".venv" / "bin").is_dir():
        pytest.skip("no .venv (make creates it)")
    env = {**os.environ, "PATH": f"{ROOT / '.venv' / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"}
    result = subprocess.run(["bash", "-c", command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, (f"README command failed ({result.returncode}): {command}\n"
                                    f"{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
