"""``brainseg evaluate``: run a model (or read existing masks), score, ablate, report."""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

from brainseg.data.splits import load_split, subset_items
from brainseg.data.volumes import Patient, load_clean_volumes
from brainseg.errors import BrainsegError, DataProblemsError, Problem
from brainseg.evaluation.lesions import lesion_detection
from brainseg.evaluation.scoring import aggregate, score_patient
from brainseg.fileio import csv_text, write_json, write_text
from brainseg.inference.predictor import InferenceOptions
from brainseg.io.images import ImageReadError, read_image
from brainseg.postprocess import ABLATION, apply_postprocess
from brainseg.preprocessing.pipeline import FLAIR_CHANNEL

PATIENT_COLUMNS = [
    "patient",
    "slices",
    "true_volume_px",
    "pred_volume_px",
    "dice",
    "iou",
    "accuracy",
    "precision",
    "recall",
    "specificity",
    "hd95_px_mean",
    "expected_dice",
    "review",
]
SLICE_COLUMNS = [
    "patient",
    "slice",
    "true_pixels",
    "pred_pixels",
    "dice",
    "iou",
    "accuracy",
    "precision",
    "recall",
    "specificity",
    "hd95_px",
]


def read_predictions(pred_dir: Path, volume: Patient) -> np.ndarray:
    """Masks written in the predict layout: ``PRED_DIR/<patient>/<stem>_pred.png``."""
    masks, problems = [], []
    for stem, true in zip(volume.stems, volume.masks, strict=True):
        path = pred_dir / volume.patient / f"{stem}_pred.png"
        try:
            mask = read_image(path)
        except ImageReadError as exc:
            problems.append(Problem(str(path), str(exc)))
            continue
        except FileNotFoundError:
            problems.append(Problem(str(path), "prediction missing"))
            continue
        if mask.ndim == 3:
            mask = mask[..., 0]
        if mask.shape != true.shape:
            problems.append(Problem(str(path), f"size {mask.shape} != {true.shape}"))
            continue
        masks.append(mask > 127 if mask.max(initial=0) > 1 else mask > 0)
    if problems:
        raise DataProblemsError(problems)
    return np.stack(masks)


def rows_to_csv(rows: list[dict], columns: list[str]) -> str:
    """CSV text of the rows' chosen columns, floats to 6 significant digits."""
    return csv_text(rows, columns)


def finite_json(obj: Any) -> Any:
    """``obj`` with NaN and infinities as None, so that metrics.json is strict JSON."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: finite_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite_json(v) for v in obj]
    return obj


def score_variants(
    volumes: list[Patient], raw: list[np.ndarray], variants: list[str], chosen: str
) -> tuple[dict[str, tuple[list, list, dict]], dict[str, np.ndarray]]:
    """Score every post-processing variant of the raw masks: ``{spec: (patient rows, slice
    rows, aggregate)}``, and the chosen variant's masks per patient (for the pictures)."""
    results = {}
    chosen_preds: dict[str, np.ndarray] = {}
    for spec in variants:
        rows, slice_rows = [], []
        for volume, masks in zip(volumes, raw, strict=True):
            pred = apply_postprocess(masks, spec)
            if spec == chosen:
                chosen_preds[volume.patient] = pred
            p_row, s_rows = score_patient(
                volume.patient, volume.stems, pred, volume.masks, with_hd95=spec == chosen
            )
            rows.append(p_row)
            slice_rows += s_rows
        results[spec] = (rows, slice_rows, aggregate(rows, slice_rows))
    return results, chosen_preds


def ablation_table(results: dict[str, tuple[list, list, dict]]) -> list[dict[str, Any]]:
    """One row of headline numbers per post-processing variant."""
    keys = (
        "dice_per_patient_mean",
        "dice_per_patient_median",
        "dice",
        "dice_tumor_slices_mean",
        "empty_slice_false_positive_rate",
    )
    return [
        {"postprocess": spec, **{k: agg[k] for k in keys}} for spec, (_, _, agg) in results.items()
    ]


def expected_quality_figures(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """How the model's expected Dice did on these patients (``calibration.figures``)."""
    from brainseg.evaluation.calibration import figures

    expected = np.array([r["expected_dice"] for r in rows], float)
    dice = np.array([r["dice"] for r in rows], float)
    flagged = np.array([r["review"] for r in rows], bool)
    return figures(expected, dice, flagged)


def evaluate(
    data: str | Path,
    out: str | Path,
    model: str | None = None,
    predictions: str | None = None,
    split: str | None = None,
    subset: str = "test",
    options: InferenceOptions | None = None,
    ablation: bool = True,
    report: bool = True,
    seed: int = 0,
) -> dict[str, Any]:
    """Score predictions on the chosen patients (the model's, run with ``options``, or
    ``predictions`` read from files); write metrics, CSVs and the report."""
    options = options or InferenceOptions()
    out = Path(out)
    patients = None
    if split is not None:
        split_data = load_split(split)
        if split_data.get("by") == "slice":
            print("warning: slice-level split; patients overlap between subsets", file=sys.stderr)
            patients = sorted({i.split("/")[0] for i in subset_items(split_data, subset)})
        else:
            patients = subset_items(split_data, subset)
    volumes = load_clean_volumes(data, patients=patients)
    if not volumes:
        raise BrainsegError(f"{data}: no patients to evaluate")
    predictor = None
    if predictions is None:
        from brainseg.inference.predictor import Predictor

        predictor = Predictor(model, options)
        chosen = predictor.postprocess
        raw, qualities = [], []
        for volume in volumes:
            prob = predictor.predict(volume.image_volume())
            raw.append(prob >= predictor.threshold)
            final = apply_postprocess(raw[-1], chosen) if predictor.calibration else raw[-1]
            flair = volume.images[..., FLAIR_CHANNEL]
            qualities.append(predictor.expected_quality(prob, final, False, flair))
        model_info = predictor.describe()
    else:
        chosen = options.postprocess or "none"
        raw = [read_predictions(Path(predictions), v) for v in volumes]
        model_info = {"name": f"predictions from {predictions}"}

    variants = list(dict.fromkeys(([*ABLATION] if ablation else []) + [chosen]))
    results, chosen_preds = score_variants(volumes, raw, variants, chosen)
    patient_rows, slice_rows, summary = results[chosen]
    if predictor is not None:
        for row, quality in zip(patient_rows, qualities, strict=True):
            row |= {"expected_dice": quality["expected_dice"], "review": quality["review"]}
        if predictor.calibration is not None:
            summary["expected_quality"] = expected_quality_figures(patient_rows)
    ablation_rows = ablation_table(results)
    metrics = {
        **summary,
        "subset": subset if split else "all",
        "postprocess": chosen,
        "tta": bool(predictor.tta) if predictor else False,
        "model": model_info,
        "ablation": ablation_rows,
        "lesion_detection": lesion_detection(volumes, chosen_preds),
    }
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "metrics.json", finite_json(metrics))
    write_text(out / "per_patient.csv", rows_to_csv(patient_rows, PATIENT_COLUMNS))
    write_text(out / "per_slice.csv", rows_to_csv(slice_rows, SLICE_COLUMNS))
    if report:
        from brainseg.report.html import write_report

        run_dir = Path(model).parent if model and Path(model).suffix == ".ckpt" else None
        write_report(out, metrics, patient_rows, volumes, chosen_preds, run_dir, seed)
    return metrics
