"""Known-value tests for every metric, each empty-mask case, and 2D vs 3D pooling."""

import numpy as np
import pytest

from brainseg import metrics as M
from brainseg.evaluation.scoring import aggregate, score_patient


def test_counts_and_values_by_hand():
    pred = np.array([[1, 1, 0, 0], [1, 0, 0, 0]], bool)
    true = np.array([[1, 0, 0, 0], [1, 1, 0, 0]], bool)
    c = M.counts(pred, true)
    assert (c.tp, c.fp, c.fn, c.tn) == (2, 1, 1, 4)
    assert M.dice(c) == pytest.approx(4 / 6)
    assert M.iou(c) == pytest.approx(2 / 4)
    assert M.accuracy(c) == pytest.approx(6 / 8)
    assert M.precision(c) == pytest.approx(2 / 3)
    assert M.recall(c) == pytest.approx(2 / 3)
    assert M.specificity(c) == pytest.approx(4 / 5)


@pytest.mark.parametrize("pred_any, expected", [(False, 1.0), (True, 0.0)])
def test_empty_ground_truth_rule(pred_any, expected):
    true = np.zeros((4, 4), bool)
    pred = np.zeros((4, 4), bool)
    pred[0, 0] = pred_any
    c = M.counts(pred, true)
    assert M.dice(c) == expected and M.iou(c) == expected
    assert M.recall(c) == expected


def test_missed_lesion_scores_zero():
    true = np.zeros((4, 4), bool)
    true[1, 1] = True
    c = M.counts(np.zeros((4, 4), bool), true)
    assert M.dice(c) == 0.0 and M.precision(c) == 0.0 and M.recall(c) == 0.0


def test_iou_never_exceeds_dice():
    rng = np.random.default_rng(0)
    for _ in range(50):
        c = M.counts(rng.random((8, 8)) > 0.5, rng.random((8, 8)) > 0.6)
        assert M.iou(c) <= M.dice(c) + 1e-12


def test_hd95_known_value_and_empty():
    a = np.zeros((20, 20), bool)
    b = np.zeros((20, 20), bool)
    a[5:10, 5:10] = True
    b[5:10, 8:13] = True  # shifted 3 px right
    assert M.hd95(a, b) == pytest.approx(3.0)
    assert np.isnan(M.hd95(a, np.zeros_like(a)))


def test_patient_pooling_differs_from_slice_mean():
    # slice 1: 100 true px, all found. slice 2: 1 true px, missed, 1 fp elsewhere.
    true = np.zeros((2, 20, 20), bool)
    pred = np.zeros((2, 20, 20), bool)
    true[0, :10, :10] = pred[0, :10, :10] = True
    true[1, 15, 15] = True
    pred[1, 0, 0] = True
    patient, slices = score_patient("P", ["s1", "s2"], pred, true)
    assert patient["dice"] == pytest.approx(200 / (200 + 1 + 1))  # pooled 3D
    assert [s["dice"] for s in slices] == [1.0, 0.0]
    summary = aggregate([patient], slices)
    assert summary["dice_tumor_slices_mean"] == pytest.approx(0.5)
    assert summary["dice_per_patient_mean"] == pytest.approx(patient["dice"])
    assert summary["iou"] <= summary["dice"]


def test_detection_and_empty_slice_rate():
    true = np.zeros((3, 8, 8), bool)
    pred = np.zeros((3, 8, 8), bool)
    true[0, 2, 2] = pred[0, 2, 2] = True  # found
    pred[1, 5, 5] = True  # false alarm on an empty slice
    patient, slices = score_patient("P", ["a", "b", "c"], pred, true)
    summary = aggregate([patient], slices)
    assert summary["slice_detection_sensitivity"] == 1.0
    assert summary["slice_detection_specificity"] == 0.5
    assert summary["empty_slice_false_positive_rate"] == 0.5
