"""Overlap metrics from confusion counts, with the empty-mask rules stated once.

Empty-mask rule: when a metric's denominator is zero (nothing to find and nothing found),
the score is 1 if the prediction is also empty and 0 otherwise. So a patient or slice with
an empty ground truth scores Dice 1 with an empty prediction and 0 with any false positive.

IoU is for the tumour class only, so IoU <= Dice always holds (IoU = D / (2 - D)).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Counts:
    tp: int
    fp: int
    fn: int
    tn: int

    def __add__(self, other: Counts) -> Counts:
        return Counts(
            self.tp + other.tp, self.fp + other.fp, self.fn + other.fn, self.tn + other.tn
        )

    @property
    def total(self) -> int:
        return self.tp + self.fp + self.fn + self.tn


def counts(pred: np.ndarray, true: np.ndarray) -> Counts:
    """Confusion counts of two binary masks of the same shape (any dimension)."""
    pred, true = np.asarray(pred, bool), np.asarray(true, bool)
    if pred.shape != true.shape:
        raise ValueError(f"prediction shape {pred.shape} differs from ground truth {true.shape}")
    tp = int(np.count_nonzero(pred & true))
    fp = int(np.count_nonzero(pred)) - tp
    fn = int(np.count_nonzero(true)) - tp
    return Counts(tp, fp, fn, pred.size - tp - fp - fn)


def _ratio(num: float, den: float, empty_ok: bool) -> float:
    if den == 0:
        return 1.0 if empty_ok else 0.0
    return num / den


def dice(c: Counts) -> float:
    return _ratio(2 * c.tp, 2 * c.tp + c.fp + c.fn, c.fp == 0 and c.fn == 0)


def iou(c: Counts) -> float:
    return _ratio(c.tp, c.tp + c.fp + c.fn, c.fp == 0 and c.fn == 0)


def accuracy(c: Counts) -> float:
    return _ratio(c.tp + c.tn, c.total, True)


def precision(c: Counts) -> float:
    return _ratio(c.tp, c.tp + c.fp, c.fn == 0)


def recall(c: Counts) -> float:
    return _ratio(c.tp, c.tp + c.fn, c.fp == 0)


def specificity(c: Counts) -> float:
    return _ratio(c.tn, c.tn + c.fp, c.fn == 0)


def all_metrics(c: Counts) -> dict[str, float]:
    return {
        "dice": dice(c),
        "iou": iou(c),
        "accuracy": accuracy(c),
        "precision": precision(c),
        "recall": recall(c),
        "specificity": specificity(c),
    }


def hd95(pred: np.ndarray, true: np.ndarray) -> float:
    """95th-percentile Hausdorff distance in pixels (MONAI); NaN unless both are non-empty."""
    pred, true = np.asarray(pred, bool), np.asarray(true, bool)
    if not pred.any() or not true.any():
        return float("nan")
    import torch
    from monai.metrics import compute_hausdorff_distance

    p = torch.from_numpy(pred)[None, None]
    t = torch.from_numpy(true)[None, None]
    with warnings.catch_warnings():  # MONAI deprecation chatter, not the user's business
        warnings.simplefilter("ignore")
        return float(compute_hausdorff_distance(p, t, percentile=95).item())


def detection(pred_any: np.ndarray, true_any: np.ndarray) -> dict[str, float]:
    """Sensitivity and specificity of "any lesion present" (per slice or per patient)."""
    c = counts(pred_any, true_any)
    return {
        "sensitivity": recall(c),
        "specificity": specificity(c),
        "n_positive": int(np.count_nonzero(true_any)),
        "n_negative": int(np.size(true_any) - np.count_nonzero(true_any)),
    }
