"""The expected-Dice calibration: fitted on fold records, measured out of fold, shipped in
the model bundle and carried through its ONNX and INT8 exports into every prediction."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from brainseg.cli import main
from brainseg.evaluation.calibration import (
    calibrate,
    calibration_cases,
    cross_fitted,
    write_calibration,
)
from brainseg.evaluation.cv_records import write_records
from brainseg.inference.predictor import Predictor

SPEC = "small+rel:25"


def fake_records(patients: int = 40, folds: int = 4, seed: int = 0) -> dict:
    """Records whose Dice follows the soft Dice (worse with the FLAIR alone), with noise."""
    rng = np.random.default_rng(seed)
    records = {}
    for i in range(patients):
        inputs = {}
        for name in ("all", "flair"):
            soft = float(rng.uniform(0.3, 0.98))
            dice = float(np.clip(soft - 0.05 * (name == "flair") + rng.normal(0, 0.03), 0, 1))
            signals = {
                "soft_dice": soft,
                "log_volume": float(rng.uniform(2, 4.5)),
                "components": float(rng.integers(1, 4)),
                "uncertain": float(rng.uniform(0, 0.5)),
                "flair_only": float(name == "flair"),
            }
            inputs[name] = {SPEC: {"dice": dice, "signals": signals}}
        records[f"P{i:02d}"] = {"fold": i % folds, "true_volume_px": 1000, "inputs": inputs}
    return records


def test_calibration_out_of_fold_ranks_and_flags_the_bad_cases():
    records = fake_records()
    cases = calibration_cases(records, SPEC)
    assert len(cases) == 80 and {c["input"] for c in cases} == {"all", "flair"}
    expected = cross_fitted(cases)
    assert expected.shape == (80,) and np.all((0 <= expected) & (expected <= 1))
    result = calibrate(records, SPEC, "fake")
    both = result["out_of_fold"]["both"]
    assert both["spearman"] > 0.9 and both["mae"] < 0.06
    assert both["bad_flagged"] == both["bad_cases"] > 0  # the threshold flags every one
    assert both["good_flagged_share"] < 0.2
    assert result["out_of_fold"]["all"]["cases"] == result["out_of_fold"]["flair"]["cases"] == 40
    held_out = result["out_of_fold"]["threshold_held_out"]  # each fold's threshold unseen
    assert held_out["both"]["cases"] == 80 and held_out["both"]["spearman"] == both["spearman"]
    assert held_out["both"]["bad_cases"] == both["bad_cases"]
    assert held_out["both"]["bad_flagged"] <= both["bad_cases"]
    assert held_out["all"]["flagged"] + held_out["flair"]["flagged"] == held_out["both"]["flagged"]
    calibration = result["calibration"]
    weights = dict(zip(calibration["signals"], calibration["weights"], strict=True))
    assert weights["soft_dice"] > 0.5  # the signal the Dice follows carries the weight


def test_one_fold_cannot_be_measured_out_of_fold():
    with pytest.raises(Exception, match="two folds or more"):
        calibrate(fake_records(folds=1), SPEC, "fake")


@pytest.fixture(scope="module")
def calibration_json(tmp_path_factory):
    folder = tmp_path_factory.mktemp("calibration")
    write_records(folder / "records", fake_records(), [0.5])
    assert main(["cv", "calibrate", str(folder / "records"), "--out", str(folder)]) == 0
    report = json.loads((folder / "report.json").read_text())
    assert report["out_of_fold"]["both"]["cases"] == 80
    assert (folder / "calibration.png").read_bytes()[:4] == b"\x89PNG"
    return folder / "calibration.json"


def test_calibration_travels_in_the_bundle_onnx_and_int8(
    calibration_json, tiny_bundle, synth_root, tmp_path
):
    bundle = tmp_path / "calibrated.pt"
    args = ["bundle", str(tiny_bundle), "--out", str(bundle)]
    assert main([*args, "--calibration", str(calibration_json)]) == 0
    int8 = tmp_path / "calibrated.int8.onnx"
    export = ["export", "--onnx", str(int8), "--model", str(bundle), "--int8"]
    assert main([*export, "--data", str(synth_root)]) == 0
    saved = json.loads(calibration_json.read_text())
    for model, engine in ((bundle, "torch"), (bundle, "onnx"), (int8, "auto")):
        predictor = Predictor(model, engine=engine)
        assert predictor.calibration is not None, engine
        assert predictor.calibration.to_dict() == saved, engine
    uncalibrated = Predictor(tiny_bundle, engine="onnx")
    assert uncalibrated.calibration is None


def test_predict_writes_expected_dice_and_review(calibration_json, tiny_bundle, tmp_path):
    import nibabel as nib

    bundle = tmp_path / "calibrated.pt"
    args = ["bundle", str(tiny_bundle), "--out", str(bundle)]
    assert main([*args, "--calibration", str(calibration_json)]) == 0
    rng = np.random.default_rng(0)
    volume = rng.uniform(0, 100, (64, 64, 6)).astype(np.float32)
    nii = tmp_path / "in" / "case_flair.nii.gz"
    nii.parent.mkdir()
    nib.save(nib.Nifti1Image(volume, np.diag([1.0, 1.0, 3.0, 1.0])), nii)
    for model, expect_values in ((bundle, True), (tiny_bundle, False)):
        out = tmp_path / f"out_{expect_values}"
        assert main(["predict", str(nii), "--out", str(out), "--model", str(model)]) in (0, 2)
        rows = list(csv.DictReader(open(out / "predictions.csv")))
        assert len(rows) == 1
        if expect_values:
            assert 0 <= float(rows[0]["expected_dice"]) <= 1
            assert rows[0]["review"] in ("True", "False")
        else:
            assert rows[0]["expected_dice"] == "" and rows[0]["review"] == ""


def test_a_bad_calibration_file_is_one_line(tiny_bundle, tmp_path, capsys):
    bad = tmp_path / "calibration.json"
    bad.write_text('{"weights": [1]}')
    code = main(
        ["bundle", str(tiny_bundle), "--out", str(tmp_path / "b.pt"), "--calibration", str(bad)]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and str(bad) in err[0] and "calibration" in err[0]


def test_the_service_answers_expected_dice_and_review(calibration_json, tiny_bundle, tmp_path):

    import nibabel as nib
    from fastapi.testclient import TestClient

    from brainseg.service.app import create_app

    bundle = tmp_path / "calibrated.pt"
    args = ["bundle", str(tiny_bundle), "--out", str(bundle)]
    assert main([*args, "--calibration", str(calibration_json)]) == 0
    data = np.random.default_rng(0).uniform(0, 100, (64, 64, 6)).astype(np.float32)
    upload = {"file": ("v.nii", nib.Nifti1Image(data, np.diag([0.9, 0.9, 3.0, 1])).to_bytes())}
    for model, calibrated in ((bundle, True), (tiny_bundle, False)):
        app = create_app(predictor=Predictor(model, engine="onnx"))
        with TestClient(app) as client:
            body = client.post("/v1/segment/volume?format=json", files=upload).json()
            response = client.post("/v1/segment/volume", files=upload)
        if calibrated:
            assert 0 <= body["expected_dice"] <= 1 and isinstance(body["review"], bool)
            assert float(response.headers["X-Expected-Dice"]) == body["expected_dice"]
            assert response.headers["X-Review"] == str(body["review"]).lower()
        else:
            assert body["expected_dice"] is None and body["review"] is None
            assert response.headers["X-Expected-Dice"] == ""


def test_the_committed_v3a_records_of_version_2_still_calibrate_to_their_figures(tmp_path):
    """Records of version 2 (no extent signals) are read and fitted on the signals they
    carry, giving the figures committed beside them."""
    records = Path(__file__).parents[2] / "cv_records" / "lgg_v3a"
    committed = json.loads((records / "calibration" / "report.json").read_text())
    result = write_calibration(records, tmp_path, SPEC)
    assert result["out_of_fold"] == committed["out_of_fold"]
    assert result["out_of_fold"]["both"]["spearman"] == 0.74
    assert result["calibration"]["signals"] == committed["calibration"]["signals"]
    assert len(result["calibration"]["signals"]) == 5
    assert result["calibration"]["review_below"] == 0.818
    assert result["out_of_fold"]["threshold_held_out"]["both"]["bad_flagged"] == 18  # of 19


def test_a_calibration_only_describes_masks_of_its_own_post_processing(
    calibration_json, tiny_bundle, tmp_path, capsys
):
    assert json.loads(calibration_json.read_text())["postprocess"] == SPEC
    bundle = tmp_path / "calibrated.pt"
    args = [
        "bundle",
        str(tiny_bundle),
        "--out",
        str(bundle),
        "--calibration",
        str(calibration_json),
    ]
    assert main(args) == 0  # the bundle takes the calibration's post-processing
    assert Predictor(bundle, engine="onnx").postprocess == SPEC
    capsys.readouterr()
    assert main([*args, "--postprocess", "lcc"]) == 1  # another one is refused, in one line
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "post-processed with small+rel:25" in err[0] and "lcc" in err[0]
    # overridden at predict time, the mask is not the one it describes: no expected Dice
    assert Predictor(bundle, engine="onnx", postprocess="lcc").calibration is None
    volume = np.random.default_rng(0).uniform(0, 255, (4, 64, 64, 3)).astype(np.uint8)
    from brainseg.io.volume import Volume

    calibrated = Predictor(bundle, engine="onnx")
    assert calibrated.analyse(Volume.from_slices(volume), postprocess="none").quality == {
        "expected_dice": "",
        "review": "",
    }


def test_the_committed_rerun_records_calibrate_on_seven_signals_to_their_figures(tmp_path):
    """v3a's retrained records (versions 3 and 4, all 80 patients) carry the extent signals:
    their calibration uses all seven and gives the committed out-of-fold figures."""
    records = Path(__file__).parents[2] / "cv_records" / "lgg_v3a_rerun"
    committed = json.loads((records / "calibration" / "report.json").read_text())
    result = write_calibration(records, tmp_path, SPEC)
    assert result["out_of_fold"] == committed["out_of_fold"]
    assert len(result["calibration"]["signals"]) == 7
    both = result["out_of_fold"]["both"]
    assert both["cases"] == 160 and both["spearman"] == 0.812
    assert both["bad_flagged"] == both["bad_cases"] == 21 and both["good_flagged_share"] == 0.111
    assert result["out_of_fold"]["threshold_held_out"]["both"]["bad_flagged"] == 21


def test_the_committed_second_cycle_records_calibrate_to_their_figures(tmp_path):
    """v3b's records (all 80 patients): the committed calibration is what they fit, and its
    out-of-fold figures are those of docs/cross-validation.md (good ones flagged over 20%)."""
    records = Path(__file__).parents[2] / "cv_records" / "lgg_v3b"
    committed = json.loads((records / "calibration" / "report.json").read_text())
    result = write_calibration(records, tmp_path, SPEC)
    assert result["out_of_fold"] == committed["out_of_fold"]
    both = result["out_of_fold"]["both"]
    assert both["cases"] == 160 and both["spearman"] == 0.802 and both["mae"] == 0.06
    assert both["bad_flagged"] == both["bad_cases"] == 18 and both["good_flagged_share"] == 0.259
    assert result["out_of_fold"]["threshold_held_out"]["both"]["bad_flagged"] == 17
