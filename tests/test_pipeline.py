"""One orchestration: kernelvis.stages.STAGES is the one ordered list of per-kernel stages, each stage is one
function over a set of kernels (kernelvis.stages.<name>), mirrored by one rule each; the commands are argument
parsing plus one call, and nothing in the library imports the commands."""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np

from kernelvis import pipeline, stages

ROOT = Path(__file__).resolve().parents[1]
CHUNK_RULE = re.compile(r'chunk\.rule_name\("(\w+)"\)')
STAGE_OUTPUT = re.compile(r'chunk\.files\("stage_(\w+)\.json"\)')


def per_kernel_stage_rules() -> dict[str, str]:
    """rule (stage) name -> the stage record it writes, for every per-chunk rule that writes a kernel's
    stage_<name>.json among its outputs (the rules are generated per chunk of a layer's kernels)."""
    found = {}
    for path in sorted((ROOT / "workflow" / "rules").glob("*.smk")):
        text = path.read_text()
        starts = [(match.start(), match.group(1)) for match in CHUNK_RULE.finditer(text)]
        for index, (start, rule) in enumerate(starts):
            end = starts[index + 1][0] if index + 1 < len(starts) else len(text)
            block = text[start:end]
            output = block[block.index("output:"):block.index("params:") if "params:" in block else len(block)]
            for match in STAGE_OUTPUT.finditer(output):
                found[rule] = match.group(1)
    return found


def test_stage_list_equals_the_workflows_per_kernel_stage_rules():
    rules = per_kernel_stage_rules()
    assert all(rule == stage for rule, stage in rules.items()), f"a rule's stage JSON is not named after it: {rules}"
    assert set(rules) == set(stages.STAGES), (
        f"kernelvis.stages.STAGES {stages.STAGES} != per-kernel stage rules {sorted(rules)}: a new stage is one "
        "function in kernelvis/stages/ plus one rule writing stage_<name>.json")
    assert len(set(stages.STAGES)) == len(stages.STAGES)


def test_every_stage_has_one_stage_function():
    import importlib

    for name in stages.STAGES:
        function = getattr(importlib.import_module(f"kernelvis.stages.{name}"), f"{name}_stage")
        assert callable(function) and "kernel_set" in function.__code__.co_varnames


def test_only_the_cli_entry_imports_the_commands():
    offenders = []
    for path in (ROOT / "src" / "kernelvis").rglob("*.py"):
        relative = path.relative_to(ROOT / "src" / "kernelvis")
        if relative.parts[0] == "commands" or relative.name == "cli.py":
            continue
        if "kernelvis.commands" in path.read_text():
            offenders.append(str(relative))
    assert not offenders, f"library modules importing kernelvis.commands: {offenders}"


def test_stages_to_run_skips_only_optional_stages():
    settings = pipeline.PipelineSettings(None, None, None, None, clips=None,
                                         skip=frozenset({"optimize", "decompose", "audit", "refine"}))
    assert pipeline.stages_to_run(settings) == ("optimize", "decompose", "tuning", "texture_tuning", "audit")
    with_clips = pipeline.PipelineSettings(None, None, None, None, clips="clips.npz")
    assert pipeline.stages_to_run(with_clips) == stages.STAGES


def test_stage_modules_import_without_torch():
    code = ("import sys, kernelvis.pipeline, kernelvis.stages, kernelvis.stages.summary; "
            "print(any(m.split('.')[0] == 'torch' for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False", "the stage list and the merge must stay importable without torch (Snakefile, figures)"


def test_a_kernel_set_reads_back_what_it_wrote_the_same_as_from_memory(tmp_path):
    """Stage 2 of a kernel whose stage 1 ran in this process equals stage 2 of the same kernel read back from its
    directory by a fresh set: the in-memory hand-over and the file hand-over are one form."""
    from kernelvis.decompose.config import DecomposeConfig
    from kernelvis.models.zoo import load_model
    from kernelvis.optimize.api import OptimizeConfig
    from kernelvis.stages import KernelSet
    from kernelvis.stages.decompose import decompose_stage
    from kernelvis.stages.optimize import optimize_stage

    model = load_model("planted")
    first = KernelSet.in_layer_dir(model, "energy", [0, 2], tmp_path / "a")
    optimize_stage(first, OptimizeConfig(steps=3, restarts=1, progress=False))
    decompose_stage(first, DecomposeConfig(steps=2, flow_steps=5))
    second = KernelSet.in_layer_dir(model, "energy", [0, 2], tmp_path / "b")  # nothing in memory: reads the files
    for kernel_dir, source in zip(second.dirs, first.dirs):
        kernel_dir.mkdir(parents=True)
        (kernel_dir / "optimal.npz").write_bytes((source / "optimal.npz").read_bytes())
    decompose_stage(second, DecomposeConfig(steps=2, flow_steps=5))
    for a, b in zip(first.dirs, second.dirs):
        with np.load(a / "decomposition.npz") as left, np.load(b / "decomposition.npz") as right:
            for key in left.files:
                np.testing.assert_array_equal(left[key], right[key], err_msg=key)
        assert (a / "stage_decompose.json").read_text() == (b / "stage_decompose.json").read_text()


def test_the_workflow_merges_the_stages_in_the_one_lists_order(tmp_path):
    """What the workflow really runs: a dry run's kernel_summary job merges every stage record (the .test config
    enables every stage) in the order of kernelvis.stages.STAGES, the order they are merged in."""
    command = [str(Path(sys.executable).parent / "snakemake"), "-n", "-p", "--forceall", "-s", str(ROOT / "Snakefile"),
               "--directory", str(tmp_path), "--configfile", str(ROOT / ".test" / "config" / "config.yaml"),
               "--cores", "1", "results/planted/energy/kernel_0000/summary.json"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    merged = [line for line in (result.stdout + result.stderr).splitlines() if "kernelvis figures kernel" in line]
    assert len(merged) == 1, merged
    order = re.search(r"--stages ([\w ]+?) >", merged[0]).group(1).split()
    assert order == list(stages.STAGES), f"the workflow merges {order}, kernelvis.stages.STAGES is {stages.STAGES}"
