"""A kernel's result does not depend on the other kernels of its job: every stage of kernelvis.pipeline over a
set of kernels equals, up to the float rounding of another batch size, the same stages run one kernel at a
time; the same grouping twice is bit-identical."""

import json

import numpy as np
import pytest

from kernelvis.analysis.refine_config import RefineConfig
from kernelvis.analysis.texture_tuning import TextureTuningConfig
from kernelvis.analysis.tuning import TuningConfig
from kernelvis.decompose.config import DecomposeConfig
from kernelvis.models.zoo import load_model
from kernelvis.optimize.api import OptimizeConfig
from kernelvis.pipeline import PipelineSettings, run_kernels
from kernelvis.stages import KernelSet

pytestmark = pytest.mark.slow  # three pipeline runs of three kernels: ~40 s on a quiet 2-core machine

KERNELS = (0, 2, 5)
SETTINGS = PipelineSettings(
    OptimizeConfig(frames=8, size=24, steps=40, restarts=2, progress=False),
    DecomposeConfig(steps=10, flow_steps=10),
    RefineConfig(steps=3),
    TuningConfig(directions=8, spatial_freqs=(0.125,), temporal_freqs=(0.125,), dot_speeds_px_per_frame=(),
                 plaid_freqs=(), frames=8, size=24),
    TextureTuningConfig(directions=8),
)


def run(root, groups):
    model = load_model("planted")
    for group in groups:
        run_kernels(KernelSet.in_layer_dir(model, "energy", group, root), SETTINGS)
    return {kernel: root / f"kernel_{kernel:04d}" for kernel in KERNELS}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("chunking")
    return (run(root / "alone", [(kernel,) for kernel in KERNELS]), run(root / "together", [KERNELS]),
            run(root / "again", [KERNELS]))


def arrays(kernel_dir, name):
    with np.load(kernel_dir / name) as archive:
        return {key: archive[key] for key in archive.files if archive[key].dtype.kind == "f"}


def test_a_kernel_alone_equals_the_kernel_in_a_set(runs):
    alone, together, _ = runs
    for kernel in KERNELS:
        single, batched = alone[kernel], together[kernel]
        a, b = arrays(single, "optimal.npz"), arrays(batched, "optimal.npz")
        assert float(b["activation"]) == pytest.approx(float(a["activation"]), rel=0.01), kernel
        assert np.corrcoef(a["video"].ravel(), b["video"].ravel())[0, 1] >= 0.99, kernel
        for name in ("decomposition.npz", "refined.npz"):
            left, right = arrays(single, name), arrays(batched, name)
            for key in ("static", "velocity"):
                assert np.corrcoef(left[key].ravel(), right[key].ravel())[0, 1] >= 0.99, (kernel, name, key)
        summaries = [json.loads((directory / "summary.json").read_text()) for directory in (single, batched)]
        for key in ("audit_pass", "status", "objective"):
            assert summaries[0][key] == summaries[1][key], (kernel, key)
        for key in ("dsi", "texture_dsi", "optimal_activation"):
            assert summaries[1][key] == pytest.approx(summaries[0][key], rel=0.02, abs=1e-3), (kernel, key)


def test_the_same_grouping_twice_is_bit_identical(runs):
    _, together, again = runs
    for kernel in KERNELS:
        for name in ("optimal.npz", "decomposition.npz", "refined.npz"):
            left, right = arrays(together[kernel], name), arrays(again[kernel], name)
            for key in left:
                np.testing.assert_array_equal(left[key], right[key], err_msg=f"{kernel} {name} {key}")
        assert (together[kernel] / "tuning.csv").read_text() == (again[kernel] / "tuning.csv").read_text()
