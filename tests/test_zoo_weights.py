"""Weight resolution for real: checkpoints in the published key layout under the exact cache file
names in a temporary TORCH_HOME, explicit --weights files in every accepted format, and the
one-line error when nothing is cached and nothing may be downloaded."""

import pytest
import torch

from kernelvis.errors import BadInputError, MissingWeightsError
from kernelvis.models.zoo import load_model, zoo_entry


@pytest.fixture
def torch_home(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("KERNELVIS_NO_DOWNLOAD", "1")
    checkpoints = tmp_path / "torch" / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    return checkpoints


def _random_state_of(name: str, seed: int) -> dict:
    """The builder's own state dict (the real key layout) with fresh random values."""
    torch.manual_seed(seed)
    return {k: v.clone() for k, v in zoo_entry(name).builder().state_dict().items()}


def test_torchvision_weights_are_picked_up_from_the_hub_cache(torch_home):
    state = _random_state_of("mc3_18", seed=11)
    torch.save(state, torch_home / "mc3_18-a90a0ba3.pth")
    model = load_model("mc3_18")
    assert model.weights == str(torch_home / "mc3_18-a90a0ba3.pth")
    assert torch.equal(model.module.state_dict()["stem.0.weight"], state["stem.0.weight"])
    assert torch.equal(model.module.state_dict()["fc.bias"], state["fc.bias"])


def test_pytorchvideo_model_state_checkpoint_is_picked_up_from_the_hub_cache(torch_home):
    state = _random_state_of("x3d_xs", seed=12)
    # pytorchvideo/PySlowFast checkpoints wrap the weights with training metadata
    torch.save({"model_state": state, "epoch": 300, "cfg": "TRAIN: ..."}, torch_home / "X3D_XS.pyth")
    model = load_model("x3d_xs")
    key = "blocks.1.res_blocks.0.branch2.conv_b.weight"
    assert torch.equal(model.module.state_dict()[key], state[key])
    assert model.weights.endswith("X3D_XS.pyth")


def test_empty_cache_offline_is_one_line_naming_file_directory_and_url(torch_home):
    with pytest.raises(MissingWeightsError) as caught:
        load_model("r3d_18")
    message = str(caught.value)
    assert "\n" not in message
    assert "r3d_18-b3b3357e.pth" in message and str(torch_home) in message
    assert "https://download.pytorch.org/models/r3d_18-b3b3357e.pth" in message
    assert "KERNELVIS_NO_DOWNLOAD" in message and "--weights" in message


def test_allowed_download_without_network_counts_as_offline(torch_home):
    # conftest refuses sockets: the download fails and the same one-line error names the failure
    with pytest.raises(MissingWeightsError, match=r"X3D_S\.pyth.*download failed") as caught:
        load_model("x3d_s", allow_download=True)
    assert "\n" not in str(caught.value)
    assert list(torch_home.iterdir()) == []  # a failed download leaves no cache entry


def test_demo_without_weights_says_how_to_make_them(torch_home):
    with pytest.raises(MissingWeightsError, match="kernelvis_demo.pt.*train-demo"):
        load_model("demo")


@pytest.mark.parametrize("wrap", ["plain", "model_state", "state_dict", "dataparallel"])
def test_explicit_weights_file_in_every_accepted_format(tmp_path, torch_home, wrap):
    state = _random_state_of("demo", seed=13)
    saved = {"plain": state, "model_state": {"model_state": state, "epoch": 3}, "state_dict": {"state_dict": state},
             "dataparallel": {f"module.{k}": v for k, v in state.items()}}[wrap]
    path = tmp_path / "weights.pt"
    torch.save(saved, path)
    model = load_model("demo", weights=path)
    assert model.weights == str(path)
    assert torch.equal(model.module.conv1.weight, state["conv1.weight"])
    assert torch.equal(model.module.bn2.running_var, state["bn2.running_var"])


def test_weights_that_do_not_fit_the_model_are_one_clear_line(tmp_path, torch_home):
    state = _random_state_of("demo", seed=14)
    state["conv1.weight"] = state["conv1.weight"][:, :, :1]
    state.pop("fc.bias")
    state["extra.weight"] = torch.zeros(1)
    path = tmp_path / "bad.pt"
    torch.save(state, path)
    with pytest.raises(BadInputError) as caught:
        load_model("demo", weights=path)
    message = str(caught.value)
    assert "\n" not in message
    assert "1 missing keys (e.g. fc.bias)" in message and "1 unexpected keys (e.g. extra.weight)" in message
    assert "1 wrong-shape keys (e.g. conv1.weight)" in message


def test_unreadable_weights_file_is_a_bad_input(tmp_path, torch_home):
    path = tmp_path / "corrupt.pth"
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(BadInputError, match="cannot read weights"):
        load_model("demo", weights=path)
    with pytest.raises(BadInputError, match="not found"):
        load_model("demo", weights=tmp_path / "absent.pth")


FILE_MODEL = '''
import torch.nn as nn
from kernelvis.models import Preprocessing


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv_a = nn.Conv3d(3, 4, 3, padding=1)
        self.conv_b = nn.Conv3d(4, 6, 3, stride=2)

    def forward(self, x):
        return self.conv_b(self.conv_a(x).relu())


def plain():
    return Tiny()


def with_preprocessing():
    module = Tiny()
    module.kernelvis_preprocessing = Preprocessing(mean=(0.5, 0.5, 0.5), std=(0.2, 0.2, 0.2), frames=8, size=24)
    return module
'''


def test_file_spec_default_and_declared_preprocessing_and_weights(tmp_path, torch_home):
    path = tmp_path / "my_net.py"
    path.write_text(FILE_MODEL)
    plain = load_model(f"{path}:plain")
    assert plain.name == f"{path}:plain" and plain.weights is None
    p = plain.preprocessing
    assert (p.frames, p.size, p.mean, p.std, p.channel_order) == (16, 112, (0, 0, 0), (1, 1, 1), "RGB")
    declared = load_model(f"{path}:with_preprocessing").preprocessing
    assert (declared.frames, declared.size, declared.mean) == (8, 24, (0.5, 0.5, 0.5))
    torch.manual_seed(5)
    state = {k: torch.randn_like(v) for k, v in plain.module.state_dict().items()}
    torch.save({"model_state": state}, tmp_path / "tiny.pyth")
    loaded = load_model(f"{path}:plain", weights=tmp_path / "tiny.pyth")
    assert torch.equal(loaded.module.conv_b.weight, state["conv_b.weight"])
