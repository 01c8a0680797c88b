"""Fold records: a cross-validation's results per patient as small text files, so that a
cross-validation can span several stretches of work (and machines) and its report can be
rebuilt from the records alone, without checkpoints, predictions or the data.

``OUT/<report>/records/fold<k>.json`` holds, for each of fold k's held-out patients: its
lesion volume, and for each input (``all`` sequences, ``flair`` alone, ``int8`` export) and
each post-processing candidate its Dice, its confusion counts, its slice counts (tumour
slices and their summed Dice, empty slices with a false positive) and its lesions found,
missed and falsely predicted (sizes in voxels), and the signals of its expected quality
(:func:`brainseg.confidence.case_signals`, which a calibration is fitted on); and the Dice of
all sequences at each threshold of the sweep. Each fold's record also holds its time: the
training wall time of each stage and the time its out-of-fold predictions took. Each record also
says which cross-validation it belongs to (version 4: its number of folds and of patients),
so that a report from some of its folds says it is partial. Commit a
finished fold's record (for instance under ``cv_records/<recipe>/``); ``brainseg cv report
--records DIR`` rebuilds metrics.json and report.md from whichever folds are there.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from brainseg import metrics as M
from brainseg.confidence import case_signals
from brainseg.errors import BrainsegError
from brainseg.evaluation.lesions import detection_by_size, patient_lesions
from brainseg.evaluation.scoring import score_patient
from brainseg.fileio import write_json
from brainseg.postprocess import ABLATION, apply_postprocess
from brainseg.preprocessing.pipeline import FLAIR_CHANNEL

RECORD_VERSION = 4
# version 2 lacks the extent signals (ring_bright, contrast); versions 2 and 3 lack the plan
# (the cross-validation's number of folds and patients)
READABLE_VERSIONS = (2, 3, 4)
INPUTS = ("all", "flair", "int8")  # in the order of crossval.OOF_KEYS
SWEEP_SPECS = ("none", "small+rel:25")


def _scores(pred: np.ndarray, prob: np.ndarray, volume, flair_only: bool) -> dict[str, Any]:
    row, slices = score_patient(volume.patient, volume.stems, pred, volume.masks, False)
    counts = row["_counts"]
    tumour = [s["dice"] for s in slices if s["true_pixels"] > 0]
    empty = [s for s in slices if s["true_pixels"] == 0]
    return {
        "dice": row["dice"],
        "tp": counts.tp,
        "fp": counts.fp,
        "fn": counts.fn,
        "tumor_slices": len(tumour),
        "tumor_slice_dice_sum": float(sum(tumour)),
        "empty_slices": len(empty),
        "empty_fp_slices": sum(1 for s in empty if s["pred_pixels"] > 0),
        **patient_lesions(pred, volume.masks),
        "signals": case_signals(prob, pred, flair_only, volume.images[..., FLAIR_CHANNEL]),
    }


def patient_record(volume, fold: int, probs: list[np.ndarray], specs, thresholds) -> dict:
    """One held-out patient's record, from its out-of-fold probabilities per input."""
    record: dict[str, Any] = {"fold": fold, "true_volume_px": int(volume.masks.sum())}
    record["inputs"] = {
        name: {
            spec: _scores(apply_postprocess(p >= 0.5, spec), p, volume, name == "flair")
            for spec in specs
        }
        for name, p in zip(INPUTS, probs, strict=True)
    }
    record["thresholds"] = {
        spec: [
            M.dice(M.counts(apply_postprocess(probs[0] >= t, spec), volume.masks))
            for t in thresholds
        ]
        for spec in SWEEP_SPECS
    }
    return record


def write_records(
    folder: Path,
    records: dict[str, dict],
    thresholds,
    timings: dict[int, dict] | None = None,
    plan: dict[str, int] | None = None,
) -> None:
    """One ``fold<k>.json`` per fold that has patients, with its time where known and the
    cross-validation's ``plan`` (``{"folds": n, "patients": total}``)."""
    for k in sorted({r["fold"] for r in records.values()}):
        mine = {p: r for p, r in sorted(records.items()) if r["fold"] == k}
        record = {"version": RECORD_VERSION, "fold": k, "thresholds": list(thresholds)}
        record["time"] = (timings or {}).get(k, {})
        record["plan"] = plan or {}
        write_json(folder / f"fold{k}.json", record | {"patients": mine})


def read_records(
    folder: Path,
) -> tuple[dict[str, dict], list[float], dict[int, dict], dict[str, int]]:
    """Every patient of the fold records in ``folder``, the thresholds they swept, each
    fold's time, and the cross-validation's plan (folds and patients; empty when no record
    says it). Records of different plans are refused."""
    records, thresholds, timings, plans = {}, [], {}, {}
    for path in sorted(Path(folder).glob("fold*.json")):
        try:
            saved = json.loads(path.read_text())
            if saved["version"] not in READABLE_VERSIONS:
                raise BrainsegError(f"{path}: fold record version {saved['version']}")
            records |= saved["patients"]
            thresholds = saved["thresholds"]
            timings[int(saved["fold"])] = saved.get("time", {})
            if saved.get("plan"):
                plans[path.name] = {k: int(v) for k, v in saved["plan"].items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            raise BrainsegError(f"{path}: not a readable fold record") from None
    if not records:
        raise BrainsegError(f"{folder}: no fold records (fold<k>.json)")
    if len({tuple(sorted(p.items())) for p in plans.values()}) > 1:
        said = "; ".join(
            f"{name}: {p['folds']} folds, {p['patients']} patients" for name, p in plans.items()
        )
        raise BrainsegError(f"{folder}: fold records of different cross-validations ({said})")
    return records, thresholds, timings, next(iter(plans.values()), {})


def aggregate_records(scores: list[dict[str, Any]]) -> dict[str, Any]:
    """The headline numbers that ``scoring.aggregate`` gives, from patients' records."""
    dice = [s["dice"] for s in scores]
    pooled = M.Counts(*(sum(s[k] for s in scores) for k in ("tp", "fp", "fn")), 0)
    tumour = sum(s["tumor_slices"] for s in scores)
    empty = sum(s["empty_slices"] for s in scores)
    return {
        "dice_per_patient_mean": float(np.mean(dice)),
        "dice_per_patient_median": float(np.median(dice)),
        "dice_per_patient_min": float(np.min(dice)),
        "dice": M.dice(pooled),
        "dice_tumor_slices_mean": (
            sum(s["tumor_slice_dice_sum"] for s in scores) / tumour if tumour else float("nan")
        ),
        "empty_slice_false_positive_rate": (
            sum(s["empty_fp_slices"] for s in scores) / empty if empty else float("nan")
        ),
    }


def detection(scores: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return detection_by_size(
        [{k: s[k] for k in ("found", "missed", "false_positives")} for s in scores]
    )


ABLATION_SPECS = tuple(dict.fromkeys(["none", *ABLATION, "small+rel:25"]))
