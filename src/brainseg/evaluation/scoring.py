"""Score one patient's predicted masks against its ground truth, slice by slice and in 3D.

Conventions (also in the report and docs/evaluation.md): per-patient Dice and IoU pool all
of the patient's slices into one 3D volume. An empty ground truth scores 1 if the prediction
is empty too, else 0 (:mod:`brainseg.metrics`). Slice-level Dice means are taken over
tumour-bearing slices only; empty slices are counted separately as false-positive rates.
HD95 (pixels) is computed per slice where both masks are non-empty.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from brainseg import metrics as M


def score_patient(
    patient: str, stems: list[str], pred: np.ndarray, true: np.ndarray, with_hd95: bool = True
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Return (patient row, slice rows) for masks (S, H, W)."""
    slice_rows = []
    total = M.Counts(0, 0, 0, 0)
    for stem, p, t in zip(stems, pred, true, strict=True):
        c = M.counts(p, t)
        total = total + c
        row = {
            "patient": patient,
            "slice": stem,
            "true_pixels": c.tp + c.fn,
            "pred_pixels": c.tp + c.fp,
            **M.all_metrics(c),
        }
        row["hd95_px"] = M.hd95(p, t) if with_hd95 else float("nan")
        slice_rows.append(row)
    hd = [r["hd95_px"] for r in slice_rows if np.isfinite(r["hd95_px"])]
    patient_row = {
        "patient": patient,
        "slices": len(stems),
        "true_volume_px": total.tp + total.fn,
        "pred_volume_px": total.tp + total.fp,
        **M.all_metrics(total),
        "hd95_px_mean": float(np.mean(hd)) if hd else float("nan"),
        "_counts": total,
    }
    return patient_row, slice_rows


def _mean(values: list[float]) -> float:
    values = [v for v in values if np.isfinite(v)]
    return float(np.mean(values)) if values else float("nan")


def aggregate(patients: list[dict[str, Any]], slices: list[dict[str, Any]]) -> dict[str, Any]:
    """The headline numbers of ``metrics.json``."""
    pooled = M.Counts(0, 0, 0, 0)
    for p in patients:
        pooled = pooled + p["_counts"]
    dice = [p["dice"] for p in patients]
    tumor = [s for s in slices if s["true_pixels"] > 0]
    empty = [s for s in slices if s["true_pixels"] == 0]
    slice_det = M.detection(
        np.array([s["pred_pixels"] > 0 for s in slices]),
        np.array([s["true_pixels"] > 0 for s in slices]),
    )
    patient_det = M.detection(
        np.array([p["pred_volume_px"] > 0 for p in patients]),
        np.array([p["true_volume_px"] > 0 for p in patients]),
    )
    pooled_metrics = M.all_metrics(pooled)
    return {
        "patients": len(patients),
        "slices": len(slices),
        "tumor_slices": len(tumor),
        "dice_per_patient_mean": _mean(dice),
        "dice_per_patient_median": float(np.median(dice)) if dice else float("nan"),
        "dice_per_patient_min": float(np.min(dice)) if dice else float("nan"),
        "iou_per_patient_mean": _mean([p["iou"] for p in patients]),
        "dice": pooled_metrics["dice"],
        "iou": pooled_metrics["iou"],
        "accuracy": pooled_metrics["accuracy"],
        "precision": pooled_metrics["precision"],
        "recall": pooled_metrics["recall"],
        "specificity": pooled_metrics["specificity"],
        "hd95_px_mean": _mean([s["hd95_px"] for s in slices]),
        "dice_tumor_slices_mean": _mean([s["dice"] for s in tumor]),
        "iou_tumor_slices_mean": _mean([s["iou"] for s in tumor]),
        "empty_slice_false_positive_rate": _mean([float(s["pred_pixels"] > 0) for s in empty]),
        "slice_detection_sensitivity": slice_det["sensitivity"],
        "slice_detection_specificity": slice_det["specificity"],
        "patient_detection_sensitivity": patient_det["sensitivity"],
        "patient_detection_specificity": patient_det["specificity"],
    }
