"""Stage 2's anchor frame: I is tied to frame 0 unless that frame is faint, then to the first frame that is not."""

import numpy as np
import pytest
import torch

from kernelvis.data import synthetic
from kernelvis.decompose.anchor import (ANCHOR_CONTRAST_FRACTION, anchor_frames, frame_at, other_frames,
                                        with_anchor_frame)
from kernelvis.decompose.config import DecomposeConfig
from kernelvis.decompose.fit import decompose_videos
from kernelvis.decompose.flow import chain_displacements, inverse_flow
from kernelvis.decompose.save import load_decomposition, save_decomposition_arrays
from kernelvis.geometry import summarize_direction


def clips_with_contrast(contrasts) -> torch.Tensor:
    """(B, T, 3, 8, 8): random frames scaled about 0.5 to the given per-frame contrast factors [B][T]."""
    generator = torch.Generator().manual_seed(0)
    noise = torch.rand(1, 1, 1, 8, 8, generator=generator) - 0.5
    factors = torch.tensor(contrasts, dtype=torch.float32)[:, :, None, None, None]
    return 0.5 + factors * noise.expand(*factors.shape[:2], 3, 8, 8)


def test_anchor_is_frame_0_unless_it_is_faint_then_the_first_frame_that_is_not():
    contrasts = [[1.0, 0.9, 1.0, 0.8],         # frame 0 as contrasted as any: frame 0
                 [0.2, 0.5, 0.8, 1.0],         # fades in: the first frame with >= 3/4 of the highest
                 [0.74, 1.0, 0.2, 0.2],        # just under 3/4 of the highest
                 [0.76, 1.0, 0.2, 0.2]]        # just over
    clips = clips_with_contrast(contrasts)
    assert ANCHOR_CONTRAST_FRACTION == 0.75
    assert anchor_frames(clips).tolist() == [0, 2, 1, 0]
    assert anchor_frames(clips, "first").tolist() == [0, 0, 0, 0]
    with pytest.raises(ValueError, match="contrast, first|first, contrast"):
        anchor_frames(clips, "brightest")


def test_frames_other_than_the_anchor_round_trip_per_clip():
    values = torch.arange(3 * 5 * 2, dtype=torch.float32).view(3, 5, 2)
    anchor = torch.tensor([0, 2, 4])
    others = other_frames(values, anchor)
    assert others[:, :, 0].tolist() == [[2, 4, 6, 8], [10, 12, 16, 18], [20, 22, 24, 26]]
    back = with_anchor_frame(others, -1.0, anchor)
    assert back[:, :, 0].tolist() == [[-1, 2, 4, 6, 8], [10, 12, -1, 16, 18], [20, 22, 24, 26, -1]]
    torch.testing.assert_close(frame_at(values, anchor), values[torch.arange(3), anchor])
    # along another dimension (B, C, T, ...), as the appearance fit uses it
    moved = values.transpose(1, 2)
    torch.testing.assert_close(other_frames(moved, anchor, dim=2), others.transpose(1, 2))


def test_chaining_from_a_middle_anchor_gives_displacements_relative_to_it():
    flow = torch.zeros(2, 5, 12, 12, 2)
    flow[..., 0], flow[..., 1] = -1.5, 0.5      # content moves by (+1.5, -0.5) px per frame
    displacement = chain_displacements(flow, torch.tensor([0, 3]))
    times = torch.arange(6, dtype=torch.float32)
    for clip, anchor in enumerate((0, 3)):
        expected = (times - anchor).view(6, 1, 1, 1) * torch.tensor([-1.5, 0.5])
        torch.testing.assert_close(displacement[clip], expected.expand_as(displacement[clip]))
    # the inverse of a translation is the opposite translation
    torch.testing.assert_close(inverse_flow(flow[0]), -flow[0])


@pytest.fixture(scope="module")
def fade_in():
    """A noise texture drifting at 40° and 1 px/frame whose first three frames fade in from 15 % contrast,
    decomposed with the contrast rule, with frame 0 always and with both (the better kept)."""
    frames = 8
    stimulus = synthetic.translating_texture(frames, 32, 40.0, 1.0, seed=3)
    contrast = np.array([0.15, 0.4, 0.65] + [1.0] * (frames - 3), dtype=np.float32)
    video = 0.5 + contrast[:, None, None, None] * (stimulus.video - 0.5)
    fits = {rule: decompose_videos(video[None], DecomposeConfig(anchor=rule, steps=60, appearance_steps=20))[0]
            for rule in ("contrast", "first", "best")}
    return video, stimulus, fits


def test_a_fading_in_clip_gets_its_texture_from_the_first_full_contrast_frame(fade_in, tmp_path):
    video, stimulus, fits = fade_in
    fit = fits["contrast"]
    assert fit.anchor_frame == 3 and fits["first"].anchor_frame == 0
    np.testing.assert_allclose(fit.displacement[3], 0.0, atol=1e-6)
    # I is frame 3's content: full contrast, not the faint first frame's
    interior = (slice(None), slice(6, -6), slice(6, -6))
    texture = fit.static[interior[1:]]
    assert np.corrcoef(texture.ravel(), video[3][interior[1:]].ravel())[0, 1] > 0.95
    assert texture.std() > 2 * fits["first"].static[interior[1:]].std()
    # the appearance change is the identity at the anchor and undoes the fade before it
    gains = fit.gain.mean(axis=(1, 2, 3))
    assert gains[3] == pytest.approx(1.0) and gains[0] < 0.4
    # the motion is the drift, before and after the anchor
    direction = summarize_direction(fit.velocity[1:, 6:-6, 6:-6])
    assert abs(direction.direction_deg - 40.0) < 5 and direction.speed_px_per_frame == pytest.approx(1.0, abs=0.15)
    save_decomposition_arrays(fit, tmp_path)
    assert load_decomposition(tmp_path / "decomposition.npz").anchor_frame == 3


def test_anchor_best_keeps_the_better_reconstruction_of_the_two_anchors(fade_in):
    video, _, fits = fade_in

    def mse(fit):
        return float(np.mean((fit.recon.astype(np.float64) - video) ** 2))

    best = fits["best"]
    winner = min(("first", "contrast"), key=lambda rule: mse(fits[rule]))
    assert best.anchor_frame == fits[winner].anchor_frame
    assert mse(best) == pytest.approx(mse(fits[winner]), rel=1e-6)
    with pytest.raises(ValueError, match="best, contrast, first"):
        DecomposeConfig(anchor="middle")
