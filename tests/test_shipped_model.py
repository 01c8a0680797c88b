"""The shipped model: present, small, self-describing, and loaded when no --model is given."""

from pathlib import Path

import numpy as np

from brainseg.cli import main
from brainseg.inference.predictor import Predictor
from brainseg.models.files import SHIPPED_MODEL, load_model_file

ROOT = Path(__file__).resolve().parents[1]


def test_bundle_is_small_and_complete():
    assert SHIPPED_MODEL.exists() and SHIPPED_MODEL.stat().st_size < 10 * 1024 * 1024
    config, state, meta = load_model_file(None)
    assert config.data.normalization == "volume"
    assert config.inference.postprocess == "small+rel:25"
    assert meta["name"] == "brainseg-lgg-unet16"
    # fp16 weights; batch-norm statistics fp32 (fp16 overflows past 65504); nothing non-finite
    for name, tensor in state.items():
        if tensor.dtype.is_floating_point:
            assert bool(tensor.float().isfinite().all()), name
            stats = name.endswith(("running_mean", "running_var"))
            assert str(tensor.dtype) == ("torch.float32" if stats else "torch.float16"), name


def test_card_in_package_matches_the_repository_card():
    packaged = SHIPPED_MODEL.parent / "MODEL_CARD.md"
    assert packaged.read_text() == (ROOT / "MODEL_CARD.md").read_text()


def test_card_lists_every_shipped_file_with_its_sha256_and_the_version():
    from brainseg.models.bundle import card_metadata, card_problems

    # after retraining: update version and sha256 (sha256sum src/brainseg/weights/*) in both cards
    assert card_problems() == []
    metadata = card_metadata()
    assert metadata["model_name"] == load_model_file(None)[2]["name"]
    assert {f["path"] for f in metadata["files"]} == {"brainseg_lgg.pt", "brainseg_lgg.int8.onnx"}
    # every result parses as {type, name, value}: an unquoted comma in a flow-style name
    # would split it into extra keys
    metrics = [m for r in metadata["model-index"][0]["results"] for m in r["metrics"]]
    assert metrics and all(set(m) == {"type", "name", "value"} for m in metrics)
    assert all(isinstance(m["value"], float) and 0 < m["value"] <= 1 for m in metrics)


def test_predict_without_model_uses_the_shipped_one(synth_root, tmp_path, capsys):
    assert main(["models"]) == 0
    assert "brainseg-lgg-unet16" in capsys.readouterr().out
    patient = next(p for p in synth_root.iterdir() if p.is_dir())
    assert main(["predict", str(patient), "--out", str(tmp_path / "out")]) == 0
    assert len(list((tmp_path / "out").glob("*_pred.png"))) == 8
    probs = Predictor().predict_volume(np.zeros((2, 64, 64, 3), np.uint8))
    assert probs.shape == (2, 64, 64) and float(probs.max()) < 0.5


def test_shipped_int8_model_matches_the_bundle_and_is_the_default_engine():
    from brainseg.models.onnx import shipped_int8

    assert shipped_int8() is not None, "re-export weights/brainseg_lgg.int8.onnx (make retrain-lgg)"
    predictor = Predictor(engine="auto")
    version = load_model_file(None)[2]["version"]
    assert predictor.engine == "onnx-int8" and predictor.describe()["version"] == version
