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


def test_one_tier_of_defaults_workflow_command_and_library_agree():
    """A per-kernel stage setting has one default: config/config.yaml's top-level value, the command's option
    default and the config dataclass's field default are equal wherever all exist."""
    config = defaults._load_yaml(ROOT / "config" / "config.yaml")
    parsers, classes = defaults.command_parsers(), defaults.dataclass_defaults()
    compared, disagreements = 0, []
    for stage in defaults.WORKFLOW_STAGES:
        command = parsers[stage.replace("_", "-")]
        cli, aliases = defaults.option_defaults(command), defaults.option_aliases(command)
        python = classes.get(defaults.STAGE_DATACLASS[stage], {})
        for key, value in (config.get(stage) or {}).items():
            flag, field = "--" + key.replace("_", "-"), defaults.PYTHON_FIELD.get((stage, key), key)
            if key in ("enabled", "options") or flag not in aliases:
                continue
            cli_value = cli[aliases[flag]][0]
            if cli_value != value:
                disagreements.append(f"{stage}.{key}: workflow {value!r}, command {cli_value!r}")
            # the library says "no early stop" as patience None, the config and the command as 0
            library_value = value or None if (stage, key) == ("optimize", "early_stop") else value
            if field in python and python[field] != library_value:
                disagreements.append(f"{stage}.{key}: workflow {value!r}, library {python[field]!r}")
            compared += 1
    assert compared >= 8, compared
    assert not disagreements, disagreements
