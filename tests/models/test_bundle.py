"""Bundles made of several models: a logit-averaging ensemble or a weight average."""

import numpy as np
import pytest
import torch

from brainseg.cli import main
from brainseg.config import load_config
from brainseg.inference.predictor import Predictor
from brainseg.models import create_model
from brainseg.models.files import load_model_file, load_network, save_bundle


def _random_bundle(path, seed: int, resolution: int = 64):
    torch.manual_seed(seed)
    config = load_config(
        None, {"data": {"resolution": resolution}, "model": {"features": 4, "depth": 2}}
    )
    model = create_model(config.model)
    save_bundle(config, model.state_dict(), {"name": f"m{seed}", "version": "test"}, path)
    return path


@pytest.fixture
def two_bundles(tmp_path):
    return _random_bundle(tmp_path / "a.pt", 1), _random_bundle(tmp_path / "b.pt", 2)


def _logits(bundle, x):
    net, _, _ = load_network(bundle)
    with torch.no_grad():
        return net(x)


def test_ensemble_bundle_averages_member_logits(two_bundles, tmp_path):
    a, b = two_bundles
    out = tmp_path / "ens.pt"
    assert main(["bundle", str(a), str(b), "--out", str(out), "--name", "ens"]) == 0
    config, state, meta = load_model_file(out)
    assert config.model.members == 2 and meta["name"] == "ens"
    x = torch.rand(2, 3, 64, 64)
    expected = (_logits(a, x) + _logits(b, x)) / 2
    torch.testing.assert_close(_logits(out, x), expected, atol=1e-5, rtol=1e-4)


def test_average_bundle_averages_weights(two_bundles, tmp_path):
    a, b = two_bundles
    out = tmp_path / "soup.pt"
    assert main(["bundle", str(a), str(b), "--out", str(out), "--combine", "average"]) == 0
    config, state, _ = load_model_file(out)
    _, state_a, _ = load_model_file(a)
    _, state_b, _ = load_model_file(b)
    assert config.model.members == 1
    key = "head.weight"
    expected = (state_a[key].float() + state_b[key].float()) / 2
    torch.testing.assert_close(state[key].float(), expected, atol=1e-3, rtol=1e-3)


def test_ensemble_runs_through_onnx_like_torch(two_bundles, tmp_path, synth_root):
    from brainseg.data.volumes import load_clean_volumes

    out = tmp_path / "ens.pt"
    assert main(["bundle", *map(str, two_bundles), "--out", str(out)]) == 0
    volume = load_clean_volumes(synth_root)[0]
    torch_probs = Predictor(out, engine="torch").predict_volume(volume.images)
    onnx_probs = Predictor(out, engine="onnx").predict_volume(volume.images)
    assert np.abs(torch_probs - onnx_probs).max() < 1e-3


def test_ensemble_of_two_resolutions_predicts_the_mean_of_its_members(tmp_path, synth_root):
    """A 32-px and a 64-px model: each member sees the input at its own size, and the
    ensemble's probabilities are the mean of what each member alone predicts."""
    from brainseg.data.volumes import load_clean_volumes

    small, large = _random_bundle(tmp_path / "s.pt", 1, 32), _random_bundle(tmp_path / "l.pt", 2)
    out = tmp_path / "ens.pt"
    assert main(["bundle", str(small), str(large), "--out", str(out)]) == 0
    config, _, _ = load_model_file(out)
    assert config.model.member_resolutions == (32, 64)
    assert config.data.resolution == 64
    images = load_clean_volumes(synth_root)[0].images
    alone = [Predictor(m, engine="torch").predict_volume(images) for m in (small, large)]
    expected = (alone[0] + alone[1]) / 2
    for engine in ("torch", "onnx"):
        probs = Predictor(out, engine=engine).predict_volume(images)
        # the members alone see area-averaged input rounded to integers, as training stored it
        assert np.abs(probs - expected).max() < 0.01, engine
    int8 = tmp_path / "ens.int8.onnx"
    export = ["export", "--onnx", str(int8), "--model", str(out), "--int8"]
    assert main([*export, "--data", str(synth_root)]) == 0
    quantized = Predictor(int8).predict_volume(images)
    assert ((quantized >= 0.5) == (expected >= 0.5)).mean() > 0.97
    soup = ["bundle", str(small), str(large), "--out", str(tmp_path / "x.pt")]
    assert main([*soup, "--combine", "average"]) != 0
    assert not (tmp_path / "x.pt").exists()


def test_gated_ensemble_bundle_through_torch_onnx_and_int8(tmp_path, synth_root):
    """``--gate``: with the first member everywhere under the gate (its head's bias
    lowered), the others never run and the ensemble predicts half the first member's
    probabilities; with the gate under every slice's maximum it is the plain mean."""
    from brainseg.data.volumes import load_clean_volumes

    small, large = _random_bundle(tmp_path / "s.pt", 1, 32), _random_bundle(tmp_path / "l.pt", 2)
    config, state, meta = load_model_file(small)
    quiet = save_bundle(config, {**state, "head.bias": state["head.bias"] - 6}, meta, small)
    images = load_clean_volumes(synth_root)[0].images
    alone = [Predictor(m, engine="torch").predict_volume(images) for m in (quiet, large)]
    assert alone[0].max() < 0.02
    for gate, expected in ((0.02, alone[0] / 2), (0.001, (alone[0] + alone[1]) / 2)):
        out = tmp_path / f"gated{gate}.pt"
        assert main(["bundle", str(quiet), str(large), "--out", str(out), "--gate", str(gate)]) == 0
        assert load_model_file(out)[0].model.member_gate == gate
        for engine in ("torch", "onnx"):
            probs = Predictor(out, engine=engine).predict_volume(images)
            assert np.abs(probs - expected).max() < 0.01, (gate, engine)
    int8 = tmp_path / "gated.int8.onnx"
    export = ["export", "--onnx", str(int8), "--model", str(out), "--int8"]
    assert main([*export, "--data", str(synth_root)]) == 0
    assert ((Predictor(int8).predict_volume(images) >= 0.5) == (expected >= 0.5)).mean() > 0.97
    single = ["bundle", str(large), "--out", str(tmp_path / "x.pt"), "--gate", "0.01"]
    assert main(single) != 0 and not (tmp_path / "x.pt").exists()


def test_all_members_runs_a_gated_ensemble_without_its_gate(tmp_path, synth_root, caplog):
    """``--all-members``: a gate that no slice passes is lifted in torch and in the fp32 ONNX
    export (its constant rewritten), so the ensemble predicts the plain mean of its members
    again; the same rewrite leaves an INT8 file's numbers as they were; on a single model it
    warns."""
    from brainseg.data.volumes import load_clean_volumes

    small, large = _random_bundle(tmp_path / "s.pt", 1, 32), _random_bundle(tmp_path / "l.pt", 2)
    config, state, meta = load_model_file(small)
    quiet = save_bundle(config, {**state, "head.bias": state["head.bias"] - 6}, meta, small)
    images = load_clean_volumes(synth_root)[0].images
    alone = [Predictor(m, engine="torch").predict_volume(images) for m in (quiet, large)]
    mean = (alone[0] + alone[1]) / 2
    gated = tmp_path / "gated.pt"
    assert main(["bundle", str(quiet), str(large), "--out", str(gated), "--gate", "0.02"]) == 0
    for engine in ("torch", "onnx"):
        predictor = Predictor(gated, engine=engine, all_members=True)
        assert predictor.describe()["member_gate"] is None
        assert np.abs(predictor.predict_volume(images) - mean).max() < 0.01, engine
    # INT8: the gate (0.001, open on every slice, so calibration saw both members) lifted
    # by rewriting one constant; the members' weights and ranges are the file's own
    open_gate = tmp_path / "open.pt"
    assert main(["bundle", str(quiet), str(large), "--out", str(open_gate), "--gate", "0.001"]) == 0
    int8 = tmp_path / "open.int8.onnx"
    export = ["export", "--onnx", str(int8), "--model", str(open_gate), "--int8"]
    assert main([*export, "--data", str(synth_root)]) == 0
    kept, lifted = Predictor(int8), Predictor(int8, all_members=True)
    assert kept.describe()["member_gate"] == 0.001 and lifted.describe()["member_gate"] is None
    np.testing.assert_array_equal(lifted.predict_volume(images), kept.predict_volume(images))
    assert ((lifted.predict_volume(images) >= 0.5) == (mean >= 0.5)).mean() > 0.97
    with caplog.at_level("WARNING", logger="brainseg"):
        Predictor(large, engine="torch", all_members=True)
    assert "not an ensemble" in caplog.text


def test_int8_calibrates_every_member_even_where_the_gate_never_opens(tmp_path, synth_root):
    """A gated ensemble is calibrated with its gate lifted: here no calibration slice passes
    the gate, yet the INT8 file run on every slice (``--all-members``) matches torch
    (calibrated behind the gate, the second member's ranges were empty: 0.26 off), and the
    gated INT8 file keeps its gate."""
    from brainseg.data.volumes import load_clean_volumes

    small, large = _random_bundle(tmp_path / "s.pt", 1, 32), _random_bundle(tmp_path / "l.pt", 2)
    config, state, meta = load_model_file(small)
    quiet = save_bundle(config, {**state, "head.bias": state["head.bias"] - 6}, meta, small)
    closed = tmp_path / "closed.pt"
    assert main(["bundle", str(quiet), str(large), "--out", str(closed), "--gate", "0.02"]) == 0
    int8 = tmp_path / "closed.int8.onnx"
    export = ["export", "--onnx", str(int8), "--model", str(closed), "--int8"]
    assert main([*export, "--data", str(synth_root)]) == 0
    images = load_clean_volumes(synth_root)[0].images
    assert Predictor(int8).describe()["member_gate"] == 0.02
    for all_members in (False, True):
        quantized = Predictor(int8, all_members=all_members).predict_volume(images)
        exact = Predictor(closed, engine="torch", all_members=all_members).predict_volume(images)
        assert np.abs(quantized - exact).max() < 0.01, all_members


def test_combining_different_architectures_is_one_clear_error(two_bundles, tmp_path, capsys):
    torch.manual_seed(0)
    config = load_config(None, {"data": {"resolution": 64}, "model": {"features": 8, "depth": 2}})
    other = tmp_path / "wide.pt"
    save_bundle(config, create_model(config.model).state_dict(), {}, other)
    code = main(["bundle", str(two_bundles[0]), str(other), "--out", str(tmp_path / "x.pt")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0 and len(err) == 1 and "wide.pt" in err[0] and "Traceback" not in err[0]
    assert not (tmp_path / "x.pt").exists()


def test_batchnorm_statistics_beyond_fp16_range_survive_the_bundle(tmp_path):
    """fp16 storage would turn a running variance of 1e5 into inf (seen in a bf16 CPU run)."""
    torch.manual_seed(0)
    config = load_config(None, {"data": {"resolution": 64}, "model": {"features": 4, "depth": 2}})
    model = create_model(config.model).eval()
    state = model.state_dict()
    var_key = next(k for k in state if k.endswith("running_var"))
    state[var_key].fill_(1e5)
    state[var_key.replace("running_var", "running_mean")].fill_(300.0)
    model.load_state_dict(state)
    path = save_bundle(config, state, {"name": "big-var", "version": "test"}, tmp_path / "m.pt")
    stored = load_model_file(path)[1]
    assert stored[var_key].dtype == torch.float32 and float(stored[var_key].max()) == 1e5
    assert any(v.dtype == torch.float16 and v.dim() == 4 for v in stored.values())
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        expected = model(x)
    got = _logits(path, x)
    assert torch.isfinite(got).all() and torch.allclose(got, expected, atol=2e-2)


def test_card_metadata_and_its_checks(tmp_path):
    from brainseg.models.bundle import card_metadata, card_problems
    from brainseg.models.files import file_sha256

    weights = tmp_path / "brainseg_lgg.int8.onnx"
    weights.write_bytes(b"weights")
    card = tmp_path / "MODEL_CARD.md"
    listed = f"  - path: {weights.name}\n    sha256: {file_sha256(weights)}\n"
    card.write_text(f"---\nversion: '2.0'\nfiles:\n{listed}---\n# card\n")
    assert card_metadata(card)["files"][0]["path"] == weights.name
    assert card_problems(card) == []  # no bundle in this folder: no version to compare
    weights.write_bytes(b"retrained")
    (tmp_path / "brainseg_lgg.extra.onnx").write_bytes(b"x")
    problems = card_problems(card)
    assert len(problems) == 2
    assert "the card says" in problems[0] and "not listed" in problems[1]
    card.write_text("# a card without metadata\n")
    assert card_metadata(card) == {}
