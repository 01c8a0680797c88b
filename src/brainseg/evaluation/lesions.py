"""Lesion-level detection by lesion size: the failure that matters most to users is a small
lesion missed without a word, which a mean Dice hides.

Each 3D connected component of a patient's ground truth (26-connectivity, as the
post-processing's components) is one lesion; it is **found** when the prediction overlaps it
by at least one voxel. Each predicted component that overlaps no lesion is a **false
positive**. Lesions and false positives are counted per size bin, by their voxel count on
the slices' own grid (a Kaggle slice is 256 x 256 pixels of about 0.9 mm, so 1,000 voxels
are roughly 2.5 ml at 3 mm slices).
"""

from __future__ import annotations

from typing import Any

import numpy as np

# (lowest voxel count, label) of each size bin; a bin runs up to the next one's lowest count
SIZE_BINS = ((0, "< 1,000"), (1_000, "1,000-5,000"), (5_000, "5,000-20,000"))
SIZE_BINS += ((20_000, ">= 20,000"),)


def _components(masks: np.ndarray) -> tuple[np.ndarray, int]:
    from scipy import ndimage

    return ndimage.label(np.asarray(masks, bool), structure=np.ones((3, 3, 3)))


def patient_lesions(pred: np.ndarray, true: np.ndarray) -> dict[str, list[int]]:
    """The sizes of one patient's found and missed lesions, and of its false positives."""
    true_labels, lesions = _components(true)
    pred_labels, predicted = _components(pred)
    sizes = np.bincount(true_labels.ravel(), minlength=lesions + 1)
    hit = np.zeros(lesions + 1, bool)
    hit[np.unique(true_labels[np.asarray(pred, bool)])] = True
    pred_sizes = np.bincount(pred_labels.ravel(), minlength=predicted + 1)
    touching = np.zeros(predicted + 1, bool)
    touching[np.unique(pred_labels[np.asarray(true, bool)])] = True
    return {
        "found": [int(sizes[k]) for k in range(1, lesions + 1) if hit[k]],
        "missed": [int(sizes[k]) for k in range(1, lesions + 1) if not hit[k]],
        "false_positives": [int(pred_sizes[k]) for k in range(1, predicted + 1) if not touching[k]],
    }


def _bin_of(size: int) -> int:
    return max(i for i, (low, _) in enumerate(SIZE_BINS) if size >= low)


def detection_by_size(per_patient: list[dict[str, list[int]]]) -> list[dict[str, Any]]:
    """One row per size bin: lesions, found, sensitivity, false positives and false
    positives per patient (over every patient scored)."""
    rows = []
    for index, (_, label) in enumerate(SIZE_BINS):
        found = sum(1 for p in per_patient for s in p["found"] if _bin_of(s) == index)
        missed = sum(1 for p in per_patient for s in p["missed"] if _bin_of(s) == index)
        false = sum(1 for p in per_patient for s in p["false_positives"] if _bin_of(s) == index)
        lesions = found + missed
        rows.append(
            {
                "size_voxels": label,
                "lesions": lesions,
                "found": found,
                "sensitivity": found / lesions if lesions else float("nan"),
                "false_positives": false,
                "false_positives_per_patient": false / max(len(per_patient), 1),
            }
        )
    return rows


def dice_by_tumour_volume(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per-patient Dice grouped by the patient's whole tumour volume (the size bins above):
    patients, mean and minimum Dice with all sequences and with the FLAIR alone. Where a mean
    Dice is lost: a small lesion found but outlined poorly lowers it without being missed.
    ``rows``: ``true_volume_px``, ``dice`` and ``dice_flair_only`` of each patient."""
    table = []
    for index, (_, label) in enumerate(SIZE_BINS):
        members = [r for r in rows if _bin_of(r["true_volume_px"]) == index]
        both = {key: [r[key] for r in members] for key in ("dice", "dice_flair_only")}
        table.append(
            {
                "tumour_voxels": label,
                "patients": len(members),
                **{
                    f"{key}_{stat}": float(fn(v)) if v else float("nan")
                    for key, v in both.items()
                    for stat, fn in (("mean", np.mean), ("min", np.min))
                },
            }
        )
    return table


def lesion_detection(patients: list[Any], predictions: dict[str, np.ndarray]) -> list[dict]:
    """``detection_by_size`` of the masks ``predictions[patient]`` against each patient's
    ground truth (``patient.masks``)."""
    return detection_by_size([patient_lesions(predictions[p.patient], p.masks) for p in patients])
