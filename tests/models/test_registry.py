"""Every registered architecture: logits of the right shape, ONNX export and parity, and a
bundle round trip through the one model-file module."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from brainseg.config import load_config
from brainseg.errors import BrainsegError
from brainseg.models import ARCHITECTURES, create_model
from brainseg.models.files import file_sha256, load_network, save_bundle
from brainseg.models.onnx import OnnxRunner, export_network, export_onnx
from brainseg.models.registry import Ensemble


def _config(arch: str, members: int = 1) -> dict:
    model = {"arch": arch, "features": 4, "depth": 2, "dropout": 0.0, "members": members}
    return load_config(None, {"data": {"resolution": 64}, "model": model})


@pytest.fixture(params=sorted(ARCHITECTURES))
def arch_bundle(request, tmp_path):
    torch.manual_seed(0)
    config = _config(request.param)
    net = create_model(config.model).eval()
    path = save_bundle(config, net.state_dict(), {"name": request.param}, tmp_path / "m.pt")
    return request.param, path


def test_logits_shape_and_unbounded(arch_bundle):
    _, path = arch_bundle
    net, config, meta = load_network(path)
    x = torch.randn(2, 3, 64, 64) * 10
    with torch.no_grad():
        out = net(x)
    assert out.shape == (2, 1, 64, 64) and out.dtype == torch.float32
    # No sigmoid inside: shifting the output layer's bias shifts the output below zero.
    name, bias = [(n, p) for n, p in net.named_parameters() if n.endswith("bias")][-1]
    with torch.no_grad():
        bias -= 50.0
        assert float(net(x).max()) < 0, f"{name}: models must return logits, not probabilities"
    assert meta["name"] == config.model.arch


def test_onnx_export_matches_torch(arch_bundle, tmp_path):
    _, path = arch_bundle
    net, _, _ = load_network(path)
    onnx_path = export_onnx(path, tmp_path / "m.onnx")
    x = np.random.default_rng(0).random((3, 3, 64, 64), dtype=np.float32)
    with torch.no_grad():
        expected = net(torch.from_numpy(x)).numpy()
    runner = OnnxRunner(onnx_path)
    np.testing.assert_allclose(runner(x), expected, atol=1e-3, rtol=1e-3)
    assert runner.config.model.arch == arch_bundle[0]


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_ensemble_of_any_architecture_averages_members(arch):
    torch.manual_seed(1)
    ensemble = create_model(_config(arch, members=2).model).eval()
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        expected = (ensemble.members[0](x) + ensemble.members[1](x)) / 2
        torch.testing.assert_close(ensemble(x), expected)


def test_gated_ensemble_runs_the_others_only_where_the_first_finds_something(tmp_path):
    """The first member says p = sigmoid(20 * mean - 10): about 0 on a dark slice, 0.9999
    on a bright one. With a gate of 0.01 the second member sees only the bright slice,
    the dark ones keep the first member's probability halved, and the exported ONNX graph
    does the same for batches where some, none or all slices pass."""
    torch.manual_seed(0)
    first, second = torch.nn.Conv2d(3, 1, 1), torch.nn.Conv2d(3, 1, 1)
    with torch.no_grad():
        first.weight.fill_(20 / 3)
        first.bias.fill_(-10.0)
    seen = []
    second.register_forward_pre_hook(lambda _, args: seen.append(args[0].shape[0]))
    ensemble = Ensemble([first, second], gate=0.01).eval()
    x = torch.stack([torch.zeros(3, 16, 16), torch.ones(3, 16, 16), torch.zeros(3, 16, 16)])
    with torch.no_grad():
        probs = torch.sigmoid(ensemble(x))
        assert seen == [1]
        alone = [torch.sigmoid(member(x)) for member in (first, second)]
    torch.testing.assert_close(probs[1], (alone[0][1] + alone[1][1]) / 2)
    torch.testing.assert_close(probs[[0, 2]], alone[0][[0, 2]] / 2)
    assert float(probs[0].max()) == pytest.approx(torch.sigmoid(torch.tensor(-10.0)) / 2)
    config = load_config(None, {"data": {"resolution": 16}})
    path = export_network(ensemble, config, {}, tmp_path / "g")
    runner = OnnxRunner(path)
    for batch in (x, x[[0, 2]], x[[1]]):
        with torch.no_grad():
            expected = torch.sigmoid(ensemble(batch)).numpy()
        assert np.abs(1 / (1 + np.exp(-runner(batch.numpy()))) - expected).max() < 1e-5


def test_member_gate_needs_an_ensemble():
    with pytest.raises(BrainsegError, match="member_gate needs an ensemble"):
        load_config(None, {"model": {"member_gate": 0.01}})
    with pytest.raises(BrainsegError, match="member_gate"):
        load_config(None, {"model": {"members": 2, "member_gate": 0.7}})
    gated = load_config(None, {"model": {"members": 2, "member_gate": 0.01}})
    assert create_model(gated.model).gate == 0.01


def test_unknown_architecture_is_one_clear_error():
    with pytest.raises(BrainsegError, match="model.arch: Input should be .unet., .basicunet."):
        load_config(None, {"model": {"arch": "transformer9000"}})


def test_sha256_of_a_model_file(tmp_path):
    path = tmp_path / "w.pt"
    path.write_bytes(b"abc")
    assert file_sha256(path) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_the_config_names_every_registered_architecture():
    from typing import get_args

    from brainseg.config import ArchName

    assert set(get_args(ArchName)) == set(ARCHITECTURES)
