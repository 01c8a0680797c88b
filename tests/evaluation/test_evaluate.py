"""evaluate --predictions against an independent computation; report and CSVs written."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from PIL import Image

from brainseg.cli import main
from brainseg.data.volumes import load_volumes
from tests.conftest import real_data_or_skip


def _write_predictions(volumes, pred_dir, transform):
    truth = {}
    for v in volumes:
        for stem, mask in zip(v.stems, v.masks, strict=True):
            pred = transform(mask.astype(bool))
            path = pred_dir / v.patient / f"{stem}_pred.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(pred.astype(np.uint8) * 255).save(path)
        truth[v.patient] = v.masks.astype(bool)
    return truth


def _independent_dice(pred_dir, volumes):
    """Plain numpy: read every PNG back, pool the patient's voxels, 2|A&B|/(|A|+|B|)."""
    result = {}
    for v in volumes:
        pred = np.stack(
            [np.asarray(Image.open(pred_dir / v.patient / f"{s}_pred.png")) > 127 for s in v.stems]
        )
        true = v.masks > 0
        denom = pred.sum() + true.sum()
        result[v.patient] = 1.0 if denom == 0 else 2 * (pred & true).sum() / denom
    return result


def _shift(mask):
    return np.roll(mask, 3, axis=1)


def _check(root, volumes, tmp_path):
    pred_dir = tmp_path / "pred"
    _write_predictions(volumes, pred_dir, _shift)
    out = tmp_path / "eval"
    assert (
        main(["evaluate", "--data", str(root), "--predictions", str(pred_dir), "--out", str(out)])
        == 0
    )
    metrics = json.loads((out / "metrics.json").read_text())
    expected = _independent_dice(pred_dir, volumes)
    with open(out / "per_patient.csv") as handle:
        rows = {r["patient"]: r for r in csv.DictReader(handle)}
    for patient, dice in expected.items():
        assert float(rows[patient]["dice"]) == pytest.approx(dice, abs=1e-3)
    assert metrics["dice_per_patient_mean"] == pytest.approx(
        np.mean(list(expected.values())), abs=1e-3
    )
    assert metrics["iou"] <= metrics["dice"]
    for key in (
        "patients",
        "slices",
        "dice_per_patient_median",
        "accuracy",
        "precision",
        "recall",
        "specificity",
        "hd95_px_mean",
        "dice_tumor_slices_mean",
        "slice_detection_sensitivity",
        "slice_detection_specificity",
    ):
        assert key in metrics
    for name in (
        "report.html",
        "per_patient.csv",
        "per_slice.csv",
        "dice_per_patient.png",
        "random_slices.png",
        "best_worst.png",
    ):
        assert (out / name).stat().st_size > 200, name
    html = (out / "report.html").read_text()
    assert "data:image/png;base64" in html and "http" not in html.split("<body>")[1]
    assert [r["postprocess"] for r in metrics["ablation"]][0] == "none"
    return metrics


def test_evaluate_predictions_synthetic(synth_root, tmp_path):
    volumes, _ = load_volumes(synth_root)
    metrics = _check(synth_root, volumes, tmp_path)
    assert metrics["patients"] == 8 and metrics["slices"] == 64


def test_missing_prediction_is_named(synth_root, tmp_path, capsys):
    volumes, _ = load_volumes(synth_root)
    _write_predictions(volumes, tmp_path / "pred", lambda m: m)
    victim = next((tmp_path / "pred").rglob("*_pred.png"))
    victim.unlink()
    code = main(
        [
            "evaluate",
            "--data",
            str(synth_root),
            "--predictions",
            str(tmp_path / "pred"),
            "--out",
            str(tmp_path / "eval"),
        ]
    )
    assert code == 2 and victim.name in capsys.readouterr().err


def test_evaluate_predictions_real_patients(tmp_path):
    root = real_data_or_skip()
    names = sorted(p.name for p in root.iterdir() if p.is_dir())[:3]
    data = tmp_path / "data"
    data.mkdir()
    for name in names:  # a read-only view of three real patients
        (data / name).symlink_to(root / name)
    volumes, problems = load_volumes(data)
    assert problems == [] and len(volumes) == 3
    _check(data, volumes, tmp_path)


def test_evaluate_with_model_and_split(synth_root, tiny_bundle, tmp_path):
    split = tmp_path / "split.json"
    assert main(["split", "--data", str(synth_root), "--out", str(split)]) == 0
    out = tmp_path / "eval"
    assert (
        main(
            [
                "evaluate",
                "--data",
                str(synth_root),
                "--model",
                str(tiny_bundle),
                "--split",
                str(split),
                "--subset",
                "val",
                "--postprocess",
                "close+lcc",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["subset"] == "val" and metrics["postprocess"] == "close+lcc"
    assert metrics["patients"] == len(json.loads(split.read_text())["val"])


def test_evaluate_threshold_flag(synth_root, tiny_bundle, tmp_path):
    out = tmp_path / "eval"
    args = ["evaluate", "--data", str(synth_root), "--model", str(tiny_bundle), "--out", str(out)]
    assert main([*args, "--subset", "all", "--threshold", "1.01", "--no-ablation"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["model"]["threshold"] == 1.01
    assert metrics["patient_detection_sensitivity"] == 0.0  # nothing is above 1.01
