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


def test_the_workflow_merges_the_stages_in_the_one_lists_order(tmp_path):
    """What the workflow really runs: a dry run's kernel_summary job is given every stage JSON (the .test config
    enables every stage) in the order of kernelvis.pipeline.STAGES, the order they are merged in."""
    command = [str(Path(sys.executable).parent / "snakemake"), "-n", "-p", "--forceall", "-s", str(ROOT / "Snakefile"),
               "--directory", str(tmp_path), "--configfile", str(ROOT / ".test" / "config" / "config.yaml"),
               "--cores", "1", "results/planted/energy/kernel_0000/summary.json"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    merged = [line for line in (result.stdout + result.stderr).splitlines() if "kernelvis figures kernel" in line]
    assert len(merged) == 1, merged
    order = re.findall(r"kernel_0000/stage_(\w+)\.json", merged[0])
    assert order == list(pipeline.STAGES), f"the workflow merges {order}, kernelvis.pipeline.STAGES is {pipeline.STAGES}"


def test_pipeline_imports_without_torch():
    code = "import sys, kernelvis.pipeline; print(any(m.split('.')[0] in ('torch', 'numpy') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False", "kernelvis.pipeline must stay importable by the Snakefile without torch"
