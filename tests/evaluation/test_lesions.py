"""Lesion-level detection: known lesions found, missed and false positives per size bin."""

from __future__ import annotations

import math

import numpy as np

from brainseg.evaluation.lesions import detection_by_size, dice_by_tumour_volume, patient_lesions


def test_known_lesions_and_false_positives():
    true = np.zeros((4, 64, 64), bool)
    true[0:2, 0:10, 0:10] = True  # 200 voxels: found (one voxel of overlap is enough)
    true[2:4, 50:60, 50:60] = True  # 200 voxels: missed
    true[:, 20:40, 20:40] = True  # 1,600 voxels: found
    pred = np.zeros_like(true)
    pred[0, 9, 9] = True
    pred[:, 25:30, 25:30] = True
    pred[0, 60:63, 0:3] = True  # 9 voxels touching no lesion: a false positive
    lesions = patient_lesions(pred, true)
    assert sorted(lesions["found"]) == [200, 1600] and lesions["missed"] == [200]
    assert lesions["false_positives"] == [9]
    rows = detection_by_size([lesions, {"found": [], "missed": [], "false_positives": []}])
    small, medium = rows[0], rows[1]
    assert (small["lesions"], small["found"], small["sensitivity"]) == (2, 1, 0.5)
    assert (medium["lesions"], medium["found"], medium["sensitivity"]) == (1, 1, 1.0)
    assert small["false_positives"] == 1 and small["false_positives_per_patient"] == 0.5
    assert math.isnan(rows[3]["sensitivity"]) and rows[3]["lesions"] == 0


def test_diagonal_neighbours_are_one_lesion():
    true = np.zeros((2, 8, 8), bool)
    true[0, 2, 2] = true[1, 3, 3] = True  # 26-connected across slices
    assert patient_lesions(np.zeros_like(true), true)["missed"] == [2]


def test_dice_by_tumour_volume_groups_patients_by_their_whole_tumour():
    rows = [
        {"true_volume_px": 900, "dice": 0.2, "dice_flair_only": 0.1},
        {"true_volume_px": 2_000, "dice": 0.6, "dice_flair_only": 0.4},
        {"true_volume_px": 4_999, "dice": 0.8, "dice_flair_only": 0.6},
        {"true_volume_px": 30_000, "dice": 0.9, "dice_flair_only": 0.85},
    ]
    table = dice_by_tumour_volume(rows)
    assert [r["patients"] for r in table] == [1, 2, 0, 1]
    assert table[1]["dice_mean"] == 0.7 and table[1]["dice_min"] == 0.6
    assert math.isclose(table[1]["dice_flair_only_mean"], 0.5)
    assert math.isnan(table[2]["dice_mean"]) and table[3]["dice_flair_only_min"] == 0.85
