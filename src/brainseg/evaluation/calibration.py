"""Fitting the expected-quality calibration (:class:`brainseg.confidence.Calibration`) on a
cross-validation's fold records, and measuring it out of fold.

Each held-out patient gives two cases, its three sequences and its FLAIR alone, each with
the signals its prediction carried and the Dice it got (with the chosen post-processing).
The map is a least-squares linear score of the signals followed by an isotonic regression of
the Dice on that score (scikit-learn). It is measured by cross-fitting: the cases of fold k
get their expected Dice from a calibration fitted on the other folds only, so that every
figure below is out of fold. The review threshold is chosen on those cross-fitted estimates:
the lowest that flags every case under ``BAD_DICE``; the share of good cases (Dice at least
``GOOD_DICE``) it flags is the price, reported beside it. Since that threshold is chosen on
the cases it is then counted on, it flags every bad case by construction; the figures with a
held-out threshold (each fold's cases flagged by the threshold the other folds chose, nested
cross-fitting) are what a scan the model never saw can expect.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from brainseg.confidence import SIGNALS, Calibration
from brainseg.errors import BrainsegError
from brainseg.fileio import write_json

BAD_DICE, GOOD_DICE = 0.6, 0.8
INPUTS = (("all", "three sequences"), ("flair", "FLAIR only"))


def calibration_cases(records: dict[str, dict], spec: str) -> list[dict[str, Any]]:
    """One case per patient and input: its fold, input, signals and Dice."""
    cases = []
    for patient, record in sorted(records.items()):
        for name, _ in INPUTS:
            score = record["inputs"][name][spec]
            if "signals" not in score:
                raise BrainsegError(f"{patient}: its fold record has no signals; rewrite it")
            cases.append(
                {
                    "patient": patient,
                    "fold": record["fold"],
                    "input": name,
                    "signals": score["signals"],
                    "dice": float(score["dice"]),
                }
            )
    return cases


def case_signal_names(cases: list[dict[str, Any]]) -> tuple[str, ...]:
    """The signals every case carries, in ``SIGNALS`` order (records of version 2 carry
    the first five only)."""
    return tuple(n for n in SIGNALS if all(n in c["signals"] for c in cases))


def _matrix(cases: list[dict[str, Any]], names: tuple[str, ...]) -> np.ndarray:
    return np.array([[c["signals"][name] for name in names] for c in cases], np.float64)


def fit_calibration(
    cases: list[dict[str, Any]], review_below: float, fitted_on: str = "", postprocess: str = ""
) -> Calibration:
    """The calibration of these cases (masks post-processed with ``postprocess``): linear
    score, then isotonic map onto their Dice."""
    from sklearn.isotonic import IsotonicRegression
    from sklearn.linear_model import LinearRegression

    names = case_signal_names(cases)
    x, dice = _matrix(cases, names), np.array([c["dice"] for c in cases])
    linear = LinearRegression().fit(x, dice)
    score = linear.predict(x)
    iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(score, dice)
    return Calibration(
        weights=tuple(round(float(w), 6) for w in linear.coef_),
        bias=round(float(linear.intercept_), 6),
        knots_x=tuple(round(float(v), 6) for v in iso.X_thresholds_),
        knots_y=tuple(round(float(v), 6) for v in iso.y_thresholds_),
        review_below=review_below,
        signals=names,
        fitted_on=fitted_on,
        postprocess=postprocess,
    )


def cross_fitted(cases: list[dict[str, Any]]) -> np.ndarray:
    """Each case's expected Dice from a calibration fitted on the other folds' cases."""
    folds = np.array([c["fold"] for c in cases])
    if len(set(folds)) < 2:
        raise BrainsegError("a calibration is measured out of fold: it needs two folds or more")
    expected = np.empty(len(cases))
    for k in sorted(set(folds)):
        fitted = fit_calibration([c for c, f in zip(cases, folds, strict=True) if f != k], 0.0)
        for i in np.flatnonzero(folds == k):
            expected[i] = fitted.expected_dice(cases[i]["signals"])
    return expected


def review_threshold(expected: np.ndarray, dice: np.ndarray) -> float:
    """The lowest threshold that flags every case under ``BAD_DICE`` (expected below it)."""
    bad = expected[dice < BAD_DICE]
    return round(float(bad.max()) + 0.001, 3) if len(bad) else round(BAD_DICE, 3)


def held_out_flags(cases: list[dict[str, Any]], expected: np.ndarray) -> np.ndarray:
    """Each case flagged by the review threshold that the other folds chose on their own
    cross-fitted estimates, so that the threshold has not seen the case (needs three folds)."""
    folds, dice = np.array([c["fold"] for c in cases]), np.array([c["dice"] for c in cases])
    flagged = np.zeros(len(cases), bool)
    for k in sorted(set(folds)):
        inner = np.flatnonzero(folds != k)
        inner_expected = cross_fitted([cases[i] for i in inner])
        threshold = review_threshold(inner_expected, dice[inner])
        flagged[folds == k] = expected[folds == k] < threshold
    return flagged


def figures(expected: np.ndarray, dice: np.ndarray, flagged: np.ndarray) -> dict[str, Any]:
    """Rank correlation, mean absolute error and the review flag's hits and costs."""
    from scipy.stats import spearmanr

    bad, good = dice < BAD_DICE, dice >= GOOD_DICE
    rho = spearmanr(expected, dice).statistic if len(dice) > 2 else float("nan")
    return {
        "cases": len(dice),
        "spearman": round(float(rho), 3),
        "mae": round(float(np.abs(expected - dice).mean()), 3),
        "bad_cases": int(bad.sum()),
        "bad_flagged": int((flagged & bad).sum()),
        "good_cases": int(good.sum()),
        "good_flagged": int((flagged & good).sum()),
        "good_flagged_share": round(float((flagged & good).sum() / max(good.sum(), 1)), 3),
        "flagged": int(flagged.sum()),
    }


def calibrate(records: dict[str, dict], spec: str, source: str) -> dict[str, Any]:
    """The calibration fitted on all cases (the one to ship), with its review threshold
    chosen out of fold, and the out-of-fold figures for both inputs and each alone."""
    cases = calibration_cases(records, spec)
    expected, dice = cross_fitted(cases), np.array([c["dice"] for c in cases])
    threshold = review_threshold(expected, dice)
    inputs = np.array([c["input"] for c in cases])
    measured = {"both": figures(expected, dice, expected < threshold)}
    for name, _ in INPUTS:
        chosen = inputs == name
        measured[name] = figures(expected[chosen], dice[chosen], expected[chosen] < threshold)
    if len(set(c["fold"] for c in cases)) >= 3:
        held_out = held_out_flags(cases, expected)
        measured["threshold_held_out"] = {"both": figures(expected, dice, held_out)} | {
            name: figures(expected[inputs == name], dice[inputs == name], held_out[inputs == name])
            for name, _ in INPUTS
        }
    fitted = fit_calibration(cases, threshold, f"{source}, post-processing {spec}", spec)
    out_of_fold = [
        {**{k: c[k] for k in ("patient", "fold", "input", "dice")}, "expected_dice": float(e)}
        for c, e in zip(cases, expected, strict=True)
    ]
    return {
        "calibration": fitted.to_dict(),
        "out_of_fold": measured,
        "cases": out_of_fold,
    }


def write_calibration(records_dir: str | Path, out: str | Path, spec: str) -> dict[str, Any]:
    """``calibration.json`` (for ``brainseg bundle --calibration``), ``report.json`` (the
    out-of-fold figures and every case) and ``calibration.png`` in ``out``."""
    from brainseg.evaluation.cv_records import read_records
    from brainseg.report.calibration import plot_calibration

    records = read_records(Path(records_dir))[0]
    if spec not in next(iter(records.values()))["inputs"]["all"]:
        raise BrainsegError(f"{records_dir}: the records do not score post-processing {spec}")
    result = calibrate(records, spec, f"{len(records)} patients of {records_dir}")
    out = Path(out)
    write_json(out / "calibration.json", result["calibration"])
    write_json(out / "report.json", result)
    plot_calibration(
        result["cases"], result["calibration"]["review_below"], out / "calibration.png"
    )
    return result
