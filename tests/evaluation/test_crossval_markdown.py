"""report.md of a cross-validation, from hand-made metrics: the figures land in their rows."""

from __future__ import annotations

from brainseg.evaluation.crossval_markdown import format_cv_report


def _headline(mean: float) -> dict:
    return {
        "dice_per_patient_mean": mean,
        "dice_per_patient_ci95": [mean - 0.05, mean + 0.05],
        "dice_per_patient_median": mean + 0.01,
        "dice_per_patient_min": float("nan"),
    }


def test_report_rows_from_known_metrics():
    names = ("all_sequences", "flair_only", "int8")
    metrics = {
        "complete": False,
        "patients": 3,
        "patients_total": 6,
        "folds": 2,
        "folds_done": [0],
        "postprocess_chosen_on_oof": "rel:25",
        **{n: _headline(0.8) for n in names},
        **{f"{n}_postprocessed": _headline(0.9) for n in names},
        "flair_only_gap": {"mean": 0.02, "ci95": [0.01, 0.03]},
        "int8_change": {"mean": 0.0, "ci95": [-0.001, 0.001]},
        "by_fold": [
            {"fold": 0, "patients": 3, "dice_per_patient_mean": 0.9, "flair_only_mean": 0.7}
        ],
        "worst_five": [{"patient": "P1", "fold": 0, "dice": 0.25}],
        "ablation": [
            {
                "postprocess": "none",
                "dice_per_patient_mean": 0.8,
                "dice_per_patient_median": 0.81,
                "dice": 0.85,
                "empty_slice_false_positive_rate": 0.02,
            }
        ],
        "thresholds": [
            {"threshold": t, "postprocess": "rel:25", "dice_per_patient_mean": m}
            for t, m in ((0.4, 0.89), (0.5, 0.9))
        ],
    }
    report = format_cv_report(metrics)
    assert "**Partial:** 3 of 6 patients" in report
    assert "| three sequences | chosen | 0.900 | 0.850–0.950 | 0.910 | n/a |" in report
    assert "| FLAIR only | none | 0.800 | 0.750–0.850 | 0.810 | n/a |" in report
    assert "paired): 0.020 (95% CI 0.010–0.030)" in report
    assert "fold 0 0.900 / 0.700 (3 patients)" in report
    assert "Worst five: P1 (fold 0) 0.250" in report
    assert "| none | 0.800 | 0.810 | 0.850 | 0.020 |" in report
    assert "Threshold (with `rel:25`; 0.5 is used): 0.4 0.890, 0.5 0.900" in report
    assert "](worst_five.png)" in report
    rebuilt = format_cv_report(metrics, pictures=False)
    assert "worst_five.png" not in rebuilt and "the pictures need the predictions" in rebuilt
