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
from brainseg.models.onnx import OnnxRunner, export_onnx


def _config(arch: str, members: int = 1) -> dict:
    model = {"arch": arch, "features": 4, "depth": 2, "dropout": 0.0, "members": members}
    return load_config(None, {"data": {"resolution": 64}, "model": model})


@pytest.fixture(params=sorted(ARCHITECTURES))
def arch_bundle(request, tmp_path):
    torch.manual_seed(0)
    config = _config(request.param)
    net = create_model(config["model"]).eval()
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
    assert meta["name"] == config["model"]["arch"]


def test_onnx_export_matches_torch(arch_bundle, tmp_path):
    _, path = arch_bundle
    net, _, _ = load_network(path)
    onnx_path = export_onnx(path, tmp_path / "m.onnx")
    x = np.random.default_rng(0).random((3, 3, 64, 64), dtype=np.float32)
    with torch.no_grad():
        expected = net(torch.from_numpy(x)).numpy()
    runner = OnnxRunner(onnx_path)
    np.testing.assert_allclose(runner(x), expected, atol=1e-3, rtol=1e-3)
    assert runner.config["model"]["arch"] == arch_bundle[0]


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_ensemble_of_any_architecture_averages_members(arch):
    torch.manual_seed(1)
    ensemble = create_model(_config(arch, members=2)["model"]).eval()
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        expected = (ensemble.members[0](x) + ensemble.members[1](x)) / 2
        torch.testing.assert_close(ensemble(x), expected)


def test_unknown_architecture_is_one_clear_error():
    with pytest.raises(BrainsegError, match="model.arch"):
        create_model({"arch": "transformer9000", "features": 4, "depth": 2})
    with pytest.raises(BrainsegError, match="model.arch: must be one of"):
        load_config(None, {"model": {"arch": "transformer9000"}})


def test_sha256_of_a_model_file(tmp_path):
    path = tmp_path / "w.pt"
    path.write_bytes(b"abc")
    assert file_sha256(path) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
