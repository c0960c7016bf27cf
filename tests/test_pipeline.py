"""kernelvis.pipeline: one ordered list of per-kernel stages, one function each, mirrored by one rule each."""

import re
import subprocess
import sys
from pathlib import Path

from kernelvis import pipeline

ROOT = Path(__file__).resolve().parents[1]
STAGE_OUTPUT = re.compile(r'^\s+stage="results/\{model\}/\{layer\}/kernel_\{kernel\}/stage_(\w+)\.json"', re.M)
RULE = re.compile(r"^rule (\w+):", re.M)


def per_kernel_stage_rules() -> dict[str, str]:
    """rule name -> stage name, for every rule whose output is a kernel's stage_<name>.json."""
    found = {}
    for path in sorted((ROOT / "workflow" / "rules").glob("*.smk")):
        text = path.read_text()
        starts = [(match.start(), match.group(1)) for match in RULE.finditer(text)]
        for index, (start, rule) in enumerate(starts):
            end = starts[index + 1][0] if index + 1 < len(starts) else len(text)
            for match in STAGE_OUTPUT.finditer(text, start, end):
                found[rule] = match.group(1)
    return found


def test_stage_list_equals_the_workflows_per_kernel_stage_rules():
    rules = per_kernel_stage_rules()
    assert all(rule == stage for rule, stage in rules.items()), f"a rule's stage JSON is not named after it: {rules}"
    assert set(rules) == set(pipeline.STAGES), (
        f"kernelvis.pipeline.STAGES {pipeline.STAGES} != per-kernel stage rules {sorted(rules)}: a new stage is one "
        "function in kernelvis/pipeline.py plus one rule writing stage_<name>.json")
    assert len(set(pipeline.STAGES)) == len(pipeline.STAGES)


def test_every_stage_is_a_documented_function():
    assert list(pipeline.STAGE_FUNCTIONS) == list(pipeline.STAGES)
    for name, function in pipeline.STAGE_FUNCTIONS.items():
        assert callable(function) and function.__name__ == name
        doc = function.__doc__ or ""
        assert "Reads" in doc and ("Writes" in doc) and ("eturns" in doc), f"{name}: say what it reads/writes/returns"


def test_the_workflow_and_figures_read_the_one_list():
    common = (ROOT / "workflow" / "rules" / "common.smk").read_text()
    assert "from kernelvis.pipeline import STAGES" in common
    assert not re.search(r'"stage_(optimize|audit)"', common), "common.smk repeats the stage list"
    figures = (ROOT / "src" / "kernelvis" / "commands" / "figures.py").read_text()
    assert "from kernelvis.pipeline import STAGES" in figures and "STAGE_ORDER" not in figures


def test_pipeline_imports_without_torch():
    code = "import sys, kernelvis.pipeline; print(any(m.split('.')[0] in ('torch', 'numpy') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False", "kernelvis.pipeline must stay importable by the Snakefile without torch"
