"""Issue 24, items 3 and 4: stage 1 never stalls at a zero-gradient start, a stalled kernel can be restarted from
its best reference, and a kernel nowhere positive is ``silent``.

The planted kernel: a Conv3d with circular padding whose weights sum to zero on every colour channel (a temporal
difference of a spatial centre-surround pattern) and whose bias is −S/4 (S = Σ|w|). On a grey start its map is the
bias everywhere: negative. Its mean over positions is exactly the bias for every clip (circular padding, zero-sum
weights), so the paper's channel mean, and the plain rectified mean with the channel mean's gradient as a
fallback, have no gradient at all; a clip matching the weights reaches S/2 − S/4 = S/4 > 0 at a position.
"""

import math

import numpy as np
import pytest
import torch
from torch import nn

from kernelvis.analysis.verdict import audit_share, kernel_status
from kernelvis.models.activation import kernel_activation
from kernelvis.models.loaded import LoadedModel
from kernelvis.models.preprocessing import Preprocessing
from kernelvis.optimize import api
from kernelvis.optimize.api import OptimizeConfig, optimize_kernels, reference_restart
from kernelvis.optimize.objectives import rectified_mean, smooth_rectified_mean
from kernelvis.optimize.transforms import TransformConfig

FRAMES, SIZE = 6, 9
NO_TRANSFORMS = TransformConfig(jitter_px=0, jitter_frames=0, scale_range=(1.0, 1.0))
CONFIG = OptimizeConfig(steps=60, lr=0.1, restarts=1, objective="rectified", transforms=NO_TRANSFORMS, seed=0)


def planted_weights() -> np.ndarray:
    spatial = -np.ones((3, 3)) / 8.0
    spatial[1, 1] = 1.0  # centre-surround: sums to zero
    temporal = np.array([-1.0, 0.0, 1.0])  # temporal difference: sums to zero
    return temporal[:, None, None] * spatial[None]


class NegativeStartNet(nn.Module):
    """Kernel 0: the planted zero-sum kernel with bias −S/4 (negative everywhere on grey); kernel 1: its
    mirror image (time reversed) with the same bias, a second kernel to share the batch."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv3d(3, 2, 3, padding=1, padding_mode="circular")
        weights = torch.from_numpy(planted_weights()).float()
        with torch.no_grad():
            self.conv.weight[0] = weights[None].expand(3, -1, -1, -1)
            self.conv.weight[1] = weights.flip(0)[None].expand(3, -1, -1, -1)
            self.conv.bias.fill_(-self.conv.weight[0].abs().sum().item() / 4)

    def forward(self, x):
        return self.conv(x)


@pytest.fixture(scope="module")
def model():
    return LoadedModel(name="negative-start", module=NegativeStartNet(),
                       preprocessing=Preprocessing(frames=FRAMES, size=SIZE))


def matching_clip(kernel: int = 0) -> np.ndarray:
    """[T, H, W, 3]: 1 where the kernel's weight is positive, 0 where negative, tiled with period 3 (circular)."""
    weights = planted_weights() if kernel == 0 else planted_weights()[::-1]
    tile = (weights > 0).astype(np.float32) + 0.5 * (weights == 0)
    clip = np.tile(tile, (FRAMES // 3, SIZE // 3, SIZE // 3))
    return np.repeat(clip[..., None], 3, axis=-1).astype(np.float32)


def activation_of(model, clip, kernel=0) -> float:
    video = torch.from_numpy(clip).permute(3, 0, 1, 2)[None]
    return float(kernel_activation(model, "conv", video, kernel, "rectified")[0])


def test_smooth_rectified_mean_has_a_gradient_where_the_hard_one_has_none():
    output = torch.full((2, 1, 2, 3, 3), -1.0)
    output[1, 0, 0, 0, 0] = -0.5
    output.requires_grad_(True)
    smooth = smooth_rectified_mean(output, torch.zeros(2, dtype=torch.long), torch.tensor([0.5, 0.5]))
    smooth.sum().backward()
    assert (output.grad > 0).all()  # every position of a map negative everywhere still pulls
    assert output.grad[1, 0, 0, 0, 0] > output.grad[1, 0, 0, 0, 1]  # the one closest to firing pulls most
    hard = torch.randn(2, 1, 2, 3, 3)
    kernels = torch.zeros(2, dtype=torch.long)
    assert torch.allclose(smooth_rectified_mean(hard, kernels, torch.zeros(2)), rectified_mean(hard, kernels))
    assert torch.allclose(smooth_rectified_mean(hard, kernels, torch.full((2,), 1e-4)), rectified_mean(hard, kernels),
                          atol=1e-4)


def test_a_start_negative_everywhere_reaches_a_positive_response(model, monkeypatch):
    grey = np.full((FRAMES, SIZE, SIZE, 3), 0.5, np.float32)
    assert activation_of(model, grey) == 0.0  # the start is below zero everywhere
    assert activation_of(model, matching_clip()) > 0.1  # S/4 = 3 at one position in 27

    fixed = optimize_kernels(model, "conv", [0, 1], CONFIG)
    assert all(result.activation > 0.05 for result in fixed), [result.activation for result in fixed]
    assert all(np.isfinite(result.history).all() for result in fixed)
    # recorded is the true objective, not the surrogate (which is > 0 everywhere): 0 at the start below zero
    assert all(result.history[0] == 0.0 and (result.history >= 0).all() for result in fixed)

    monkeypatch.setattr(api, "RECTIFIED_SURROGATE_TEMPERATURE", 0.0)  # the hard objective: the reported stall
    stalled = optimize_kernels(model, "conv", [0], CONFIG)
    assert stalled[0].activation == 0.0


def test_surrogate_keeps_results_deterministic_and_batch_independent(model):
    config = OptimizeConfig(**{**CONFIG.__dict__, "steps": 20})
    alone = optimize_kernels(model, "conv", [1], config)[0]
    again = optimize_kernels(model, "conv", [1], config)[0]
    shared = optimize_kernels(model, "conv", [0, 1], config)[1]
    np.testing.assert_array_equal(alone.video, again.video)
    # float round-off of a different batch size only (Adam amplifies it a little; cf. test_optimize.py)
    np.testing.assert_allclose(alone.video, shared.video, atol=1e-3)
    assert alone.activation == pytest.approx(shared.activation, rel=1e-3)


@pytest.fixture
def stalled(model, monkeypatch):
    monkeypatch.setattr(api, "RECTIFIED_SURROGATE_TEMPERATURE", 0.0)
    results = optimize_kernels(model, "conv", [0, 1], CONFIG)
    assert [result.activation for result in results] == [0.0, 0.0]
    return results


def test_reference_restart_raises_a_stalled_kernel_to_at_least_its_reference(model, stalled):
    reference = matching_clip(0)
    grey = np.full_like(reference, 0.5)
    target = activation_of(model, reference)
    out = reference_restart(model, "conv", stalled, [{"tuning": reference, "natural": grey}, None], CONFIG, steps=20)
    assert out[0].activation >= target > 0
    assert activation_of(model, out[0].video) == pytest.approx(out[0].activation, rel=1e-4)
    assert out[0].reference_restart == "tuning"
    assert out[0].reference_restart_detail["reference_activations"]["tuning"] == pytest.approx(target, rel=1e-5)
    assert len(out[0].candidates) == len(stalled[0].candidates) + 1
    assert len(out[0].history) == 20
    assert out[1].reference_restart is None and out[1].activation == stalled[1].activation  # no references
    assert stalled[0].reference_restart is None and stalled[0].activation == 0.0  # inputs not modified

    # deterministic, and a kernel's restart does not depend on the others restarted with it
    both = reference_restart(model, "conv", stalled, [{"tuning": reference}, {"natural": matching_clip(1)}], CONFIG,
                             steps=20)
    np.testing.assert_allclose(both[0].video, out[0].video, atol=1e-3)
    assert both[1].reference_restart == "natural" and both[1].activation >= activation_of(model, matching_clip(1), 1)


def test_reference_restart_leaves_kernels_at_or_above_their_references(model):
    results = optimize_kernels(model, "conv", [0], CONFIG)
    grey = np.full((FRAMES, SIZE, SIZE, 3), 0.5, np.float32)  # activation 0: below the search's result
    out = reference_restart(model, "conv", results, [{"tuning": grey, "natural": None}], CONFIG)
    assert out[0].reference_restart is None
    np.testing.assert_array_equal(out[0].video, results[0].video)


def test_reference_restart_is_recorded_in_the_provenance(model, stalled, tmp_path):
    from kernelvis.optimize.save import save_optimal
    import json

    out = reference_restart(model, "conv", stalled[:1], [{"tuning": matching_clip(0)}], CONFIG, steps=5)
    save_optimal(out[0], tmp_path, "negative-start", "conv", 0)
    provenance = json.loads(str(np.load(tmp_path / "optimal.npz")["provenance"]))
    assert provenance["reference_restart"] == "tuning"
    assert provenance["reference_restart_detail"]["kept"] in ("optimized", "reference")


def test_silent_means_nowhere_positive_on_the_optimum_the_sweep_and_every_clip():
    assert kernel_status("ok", 0.0, 0.0, -3.0)[0] == "silent"
    assert "nowhere positive" in kernel_status("ok", 0.0, 0.0, -3.0)[1]
    assert kernel_status("ok", 0.0, math.nan, -1.0)[0] == "silent"  # the sweep not measured: the rest decide
    assert kernel_status("ok", 0.2, 0.0, -1.0) == ("ok", "")  # responds to its optimal input: not silent
    assert kernel_status("ok", 0.0, 1e-4, -1.0)[0] == "ok"  # a grating finds it: not silent (but fails the audit)
    assert kernel_status("ok", 0.0, 0.0, 0.5)[0] == "ok"
    assert kernel_status("dead", 0.0, 0.0, 0.0)[0] == "dead"
    assert kernel_status("diverged", math.nan)[0] == "diverged"
    assert kernel_status("ok", math.nan)[0] == "ok"  # nothing measured is never silent
    rows = [{"layer": "l", "kernel": 0, "audit_pass": True, "status": "ok"},
            {"layer": "l", "kernel": 1, "audit_pass": False, "status": "silent"}]
    assert audit_share(rows) == (1, 1, [])  # a silent kernel has no optimum to audit


def test_a_kernel_negative_on_every_clip_is_silent_end_to_end():
    from kernelvis.analysis.tuning import TuningConfig, summarize_tuning, sweep_responses
    from kernelvis.models.planted import faulty_model

    model = faulty_model(frames=8, size=16)
    result = optimize_kernels(model, "conv", [2], OptimizeConfig(steps=10, restarts=1, objective="rectified"))[0]
    conditions, responses = sweep_responses(model, "conv", [2], TuningConfig(objective="rectified", directions=4))
    best_stimulus = summarize_tuning(2, conditions, responses[:, 0]).best_stimulus_activation
    clips = torch.rand(4, 3, 8, 16, 16)
    natural_max = float(model.module.conv(clips)[:, 2].max())
    assert result.activation == 0.0 and best_stimulus == 0.0 and natural_max < 0
    assert kernel_status(result.status, result.activation, best_stimulus, natural_max)[0] == "silent"


def test_audit_reference_clips_are_the_audits_references(model, stalled):
    from kernelvis.analysis.audit import audit_reference_clips
    from kernelvis.analysis.tuning import TuningConfig, tune_kernels

    clips = np.stack([matching_clip(1), np.full((FRAMES, SIZE, SIZE, 3), 0.5, np.float32)])
    preprocessing = model.preprocessing
    references = audit_reference_clips(model, "conv", stalled, preprocessing, clips=clips)
    sweep = tune_kernels(model, "conv", [0, 1], TuningConfig(objective="rectified"), preprocessing=preprocessing)
    for kernel, (refs, tuning) in enumerate(zip(references, sweep)):
        assert refs["tuning"].shape == (FRAMES, SIZE, SIZE, 3)
        assert activation_of(model, refs["tuning"], kernel) == pytest.approx(tuning.best_stimulus_activation, rel=1e-5)
    np.testing.assert_array_equal(references[1]["natural"], clips[0])  # its matching clip is kernel 1's best
    out = reference_restart(model, "conv", stalled, references, CONFIG, steps=10)
    for kernel, (result, tuning) in enumerate(zip(out, sweep)):
        best = max(tuning.best_stimulus_activation, activation_of(model, references[kernel]["natural"], kernel))
        assert result.activation >= best and (best <= 0 or result.reference_restart is not None)
