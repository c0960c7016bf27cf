"""docs/defaults.md is generated from the sources of every default and must not go stale."""

import subprocess
import sys
from pathlib import Path

from kernelvis import defaults

ROOT = Path(__file__).resolve().parents[1]
REGENERATE = ".venv/bin/python -m kernelvis.defaults > docs/defaults.md"


def test_defaults_page_is_current():
    page = ROOT / "docs" / "defaults.md"
    assert page.is_file(), f"docs/defaults.md is missing: run `{REGENERATE}`"
    assert page.read_text() == defaults.render(ROOT), (
        f"docs/defaults.md differs from the defaults in config/config.yaml, the schema, the commands and the config "
        f"dataclasses: regenerate it with `{REGENERATE}` and commit it")


def test_module_writes_the_page_to_stdout():
    out = subprocess.run([sys.executable, "-m", "kernelvis.defaults"], capture_output=True, text=True, check=True,
                         cwd=ROOT).stdout
    assert out == defaults.render(ROOT)


def test_page_states_which_applies_when_and_the_workflows_overrides():
    page = defaults.render(ROOT)
    assert "Which applies when" in page
    for key in ("optimize.steps", "optimize.lr", "optimize.restarts", "optimize.objective", "decompose.steps",
                "refine.steps"):
        assert f"`{key}`" in page, key
    for command in ("optimize", "decompose", "refine", "tuning", "suppress", "invert"):
        assert f"### `kernelvis {command}`" in page, command
    for name in ("OptimizeConfig", "DecomposeConfig", "RefineConfig", "SuppressConfig", "InversionConfig"):
        assert name in page, name
