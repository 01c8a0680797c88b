"""The cross-validation report: every patient scored once, by the fold model that never saw it.

From ``OUT/fold<k>/oof/<patient>.npz`` (written by ``brainseg cv``) it writes ``OUT/report/``:
``metrics.json`` (mean, median, minimum and a bootstrap 95% interval of the per-patient 3D
Dice, with all sequences, with the FLAIR alone and through each fold's INT8 export),
``per_patient.csv`` (with each patient's fold), ``ablation.csv`` (post-processing on the
pooled out-of-fold predictions, where nnU-Net chooses it too; the threshold sweep is in
``metrics.json``), ``report.md`` (:mod:`brainseg.evaluation.crossval_markdown`) and the HTML
report's pictures.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from brainseg.data.volumes import load_clean_volumes
from brainseg.errors import BrainsegError
from brainseg.evaluation.crossval_markdown import format_cv_report
from brainseg.evaluation.cv_layout import CVFolder
from brainseg.evaluation.evaluate import (
    PATIENT_COLUMNS,
    ablation_table,
    finite_json,
    rows_to_csv,
    score_variants,
)
from brainseg.evaluation.lesions import lesion_detection
from brainseg.fileio import atomic_write, write_json, write_text
from brainseg.postprocess import ABLATION, apply_postprocess

OOF_SCALE = 255.0
THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7)
SHIPPED_POSTPROCESS = "small+rel:25"  # what the shipped model uses: always in the ablation
BOOTSTRAP_DRAWS = 10_000


def bootstrap_interval(values: np.ndarray, seed: int = 0, draws: int = BOOTSTRAP_DRAWS):
    """95% percentile-bootstrap interval of the mean, resampling patients."""
    values = np.asarray(values, np.float64)
    if len(values) < 2:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), (draws, len(values)))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(low), float(high)


OOF_KEYS = ("prob", "prob_flair", "prob_int8")


def save_oof(
    path: Path, probs: np.ndarray, probs_flair: np.ndarray, probs_int8: np.ndarray
) -> None:
    """One held-out patient's probabilities (S, H, W): all sequences, FLAIR alone, and all
    sequences through the INT8 export; uint8 (probability x 255), compressed."""

    def quantise(p: np.ndarray) -> np.ndarray:
        return np.round(np.clip(p, 0, 1) * OOF_SCALE).astype(np.uint8)

    arrays = dict(zip(OOF_KEYS, map(quantise, (probs, probs_flair, probs_int8)), strict=True))
    atomic_write(path, lambda handle: np.savez_compressed(handle, **arrays))


def oof_complete(path: Path) -> bool:
    """Whether a saved out-of-fold file holds every prediction of this version."""
    try:
        with np.load(path) as saved:
            return all(key in saved for key in OOF_KEYS)
    except (OSError, ValueError):
        return False


def read_oof(cv: CVFolder, folds: int, oof: str) -> dict[str, tuple[int, list[np.ndarray]]]:
    """``{patient: (fold, [probabilities per OOF_KEYS])}`` of the folds done, read from
    ``OUT/fold<k>/<oof>/`` (``brainseg cv run`` keeps them in ``stage<n>/oof``)."""
    found = {}
    for k in range(folds):
        for path in sorted(cv.oof(k, oof).glob("*.npz")):
            if not oof_complete(path):
                continue
            with np.load(path) as saved:
                found[path.stem] = (
                    k,
                    [saved[key].astype(np.float32) / OOF_SCALE for key in OOF_KEYS],
                )
    return found


def _summary(agg: dict[str, Any], dice: np.ndarray, seed: int) -> dict[str, Any]:
    low, high = bootstrap_interval(dice, seed)
    return {
        "dice_per_patient_mean": agg["dice_per_patient_mean"],
        "dice_per_patient_ci95": [low, high],
        "dice_per_patient_median": agg["dice_per_patient_median"],
        "dice_per_patient_min": agg["dice_per_patient_min"],
        "dice_pooled": agg["dice"],
        "empty_slice_false_positive_rate": agg["empty_slice_false_positive_rate"],
    }


def _threshold_sweep(volumes, probs: dict, best: str) -> list[dict[str, Any]]:
    """Dice per patient at each threshold of THRESHOLDS, with the chosen post-processing."""
    sweep = []
    for t in THRESHOLDS:
        masks = [probs[v.patient] >= t for v in volumes]
        agg = score_variants(volumes, masks, [best], best)[0][best][2]
        sweep.append(
            {
                "threshold": t,
                "postprocess": best,
                "dice_per_patient_mean": agg["dice_per_patient_mean"],
                "dice_per_patient_median": agg["dice_per_patient_median"],
            }
        )
    return sweep


def _dice_of(results: dict, spec: str) -> np.ndarray:
    return np.array([r["dice"] for r in results[spec][0]])


def _by_fold(rows: list[dict], done: list[int]) -> list[dict[str, Any]]:
    by_fold = []
    for k in done:
        mine = [r for r in rows if r["fold"] == k]
        by_fold.append(
            {
                "fold": k,
                "patients": len(mine),
                "dice_per_patient_mean": float(np.mean([r["dice"] for r in mine])),
                "flair_only_mean": float(np.mean([r["dice_flair_only"] for r in mine])),
            }
        )
    return by_fold


def _change(values: np.ndarray, seed: int) -> dict[str, Any]:
    return {"mean": float(values.mean()), "ci95": list(bootstrap_interval(values, seed))}


def write_cv_report(
    data: str | Path,
    cv: CVFolder,
    split: dict[str, Any],
    seed: int = 42,
    oof_dir: str = "oof",
    report_dir: str = "report",
) -> dict[str, Any]:
    """Score the pooled out-of-fold predictions (``OUT/fold<k>/<oof_dir>``); write
    ``OUT/<report_dir>``; return its metrics."""
    folds = len(split["folds"])
    oof = read_oof(cv, folds, oof_dir)
    if not oof:
        raise BrainsegError(f"{cv.root}: no out-of-fold predictions yet; train a fold first")
    every = sorted(p for fold in split["folds"] for p in fold["val"])
    done = sorted({k for k, _ in oof.values()})
    volumes = load_clean_volumes(data, patients=sorted(oof))
    raw, raw_flair, raw_int8 = (
        [oof[v.patient][1][i] >= 0.5 for v in volumes] for i in range(len(OOF_KEYS))
    )
    variants = list(dict.fromkeys(["none", *ABLATION, SHIPPED_POSTPROCESS]))
    results, _ = score_variants(volumes, raw, variants, "none")
    best = max(variants, key=lambda s: results[s][2]["dice_per_patient_mean"])
    results_flair, _ = score_variants(volumes, raw_flair, ["none", best], "none")
    results_int8, _ = score_variants(volumes, raw_int8, ["none", best], "none")
    headline = {
        name + suffix: _summary(res[spec][2], _dice_of(res, spec), seed)
        for name, res in (
            ("all_sequences", results),
            ("flair_only", results_flair),
            ("int8", results_int8),
        )
        for suffix, spec in (("", "none"), ("_postprocessed", best))
    }
    rows = [
        {**row, "fold": oof[row["patient"]][0], "dice_flair_only": flair_row["dice"]}
        for row, flair_row in zip(results[best][0], results_flair[best][0], strict=True)
    ]
    worst = sorted(rows, key=lambda r: r["dice"])[:5]
    metrics = {
        "complete": len(oof) == len(every),
        "folds": folds,
        "folds_done": done,
        "patients": len(oof),
        "patients_total": len(every),
        "predictions": f"fold<k>/{oof_dir}",
        "report_dir": report_dir,
        "threshold": 0.5,
        "postprocess_chosen_on_oof": best,
        **headline,
        "flair_only_gap": _change(_dice_of(results, best) - _dice_of(results_flair, best), seed),
        "int8_change": _change(_dice_of(results_int8, best) - _dice_of(results, best), seed),
        "by_fold": _by_fold(rows, done),
        "worst_five": [
            {k: r[k] for k in ("patient", "fold", "dice", "true_volume_px")} for r in worst
        ],
        "ablation": ablation_table(results),
        "thresholds": _threshold_sweep(volumes, {p: oof[p][1][0] for p in oof}, best),
    }
    chosen = {v.patient: apply_postprocess(m, best) for v, m in zip(volumes, raw, strict=True)}
    flair_all = {
        v.patient: apply_postprocess(m, best) for v, m in zip(volumes, raw_flair, strict=True)
    }
    metrics["lesion_detection"] = lesion_detection(volumes, chosen)
    metrics["lesion_detection_flair_only"] = lesion_detection(volumes, flair_all)
    flair = {r["patient"]: flair_all[r["patient"]] for r in worst}
    figures = {"seed": seed, "worst": worst, "volumes": volumes, "chosen": chosen, "flair": flair}
    _write_report(cv.report(report_dir), metrics, rows, results[best], figures)
    return metrics


def _write_report(report: Path, metrics, rows, chosen_result, figures: dict) -> None:
    """``metrics.json``, the CSVs, ``report.md``, the HTML report and the worst five."""
    from brainseg.report.cases import case_rows_figure
    from brainseg.report.html import write_report

    report.mkdir(parents=True, exist_ok=True)
    write_json(report / "metrics.json", finite_json(metrics))
    write_text(
        report / "per_patient.csv", rows_to_csv(rows, ["fold", *PATIENT_COLUMNS, "dice_flair_only"])
    )
    write_text(
        report / "ablation.csv", rows_to_csv(metrics["ablation"], list(metrics["ablation"][0]))
    )
    write_text(report / "report.md", format_cv_report(metrics))
    best, folds = metrics["postprocess_chosen_on_oof"], metrics["folds"]
    html_metrics = {
        **chosen_result[2],
        "subset": f"out-of-fold ({len(metrics['folds_done'])} of {folds} folds)",
        "postprocess": best,
        "tta": False,
        "model": {"name": f"{folds}-fold cross-validation in {report.parent}"},
        "ablation": metrics["ablation"],
    }
    volumes, chosen = figures["volumes"], figures["chosen"]
    write_report(report, html_metrics, chosen_result[0], volumes, chosen, None, figures["seed"])
    worst_png = report / "worst_five.png"
    case_rows_figure(figures["worst"], volumes, chosen, figures["flair"], worst_png)
