"""The cross-validation report: every patient scored once, by the fold model that never saw it.

From ``OUT/fold<k>/<stage>/oof/<patient>.npz`` (written by ``brainseg cv run``) it computes
the fold records (:mod:`brainseg.evaluation.cv_records`: per patient, input and
post-processing candidate) and from them alone ``OUT/report/``: ``metrics.json`` (mean,
median, minimum and a bootstrap 95% interval of the per-patient 3D Dice, with all sequences,
with the FLAIR alone and through each fold's INT8 export; lesion detection by size),
``per_patient.csv`` (with each patient's fold), ``ablation.csv`` (post-processing on the
pooled out-of-fold predictions, where nnU-Net chooses it too; the threshold sweep is in
``metrics.json``), ``report.md`` (:mod:`brainseg.evaluation.crossval_markdown`) and the HTML
report's pictures. ``report_from_records`` rebuilds metrics, per_patient.csv and report.md
from committed records alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from brainseg.data.volumes import load_clean_volumes
from brainseg.errors import BrainsegError
from brainseg.evaluation.crossval_markdown import format_cv_report
from brainseg.evaluation.cv_layout import CVFolder
from brainseg.evaluation.cv_records import (
    ABLATION_SPECS,
    SWEEP_SPECS,
    aggregate_records,
    detection,
    patient_record,
    read_records,
    write_records,
)
from brainseg.evaluation.evaluate import PATIENT_COLUMNS, finite_json, rows_to_csv
from brainseg.evaluation.lesions import dice_by_tumour_volume
from brainseg.evaluation.scoring import aggregate, score_patient
from brainseg.fileio import atomic_write, write_json, write_text
from brainseg.postprocess import apply_postprocess

OOF_SCALE = 255.0
THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7)
ABLATION_KEYS = (
    "dice_per_patient_mean",
    "dice_per_patient_median",
    "dice",
    "dice_tumor_slices_mean",
    "empty_slice_false_positive_rate",
)
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


def fold_times(cv: CVFolder, folds: int, oof_dir: str) -> dict[int, dict[str, Any]]:
    """Each fold's minutes: the training wall time of each stage up to the reported one
    (``timing.json``, summed over resumes) and its out-of-fold predictions' time."""
    import json
    import re

    found = re.fullmatch(r"stage(\d+)/oof", oof_dir)
    stage = int(found.group(1)) if found else 0
    times = {}
    for k in range(folds):
        minutes = {}
        for n in range(1, stage + 1):
            path = cv.stage(k, n) / "timing.json"
            if path.exists():
                minutes[f"stage{n}_train"] = json.loads(path.read_text())["wall_seconds"] / 60
        predicted = cv.oof(k, oof_dir) / "timing.json"
        if predicted.exists():
            minutes["oof_predict"] = json.loads(predicted.read_text())["seconds"] / 60
        if minutes:
            times[k] = {key: round(value, 2) for key, value in minutes.items()}
    return times


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


def _threshold_sweep(records: dict, thresholds: list[float], best: str) -> list[dict]:
    """Dice per patient at each swept threshold, with the chosen post-processing where the
    records swept it (else the shipped one)."""
    spec = best if best in SWEEP_SPECS else SHIPPED_POSTPROCESS
    sweep = []
    for i, t in enumerate(thresholds):
        values = [r["thresholds"][spec][i] for r in records.values()]
        sweep.append(
            {
                "threshold": t,
                "postprocess": spec,
                "dice_per_patient_mean": float(np.mean(values)),
                "dice_per_patient_median": float(np.median(values)),
            }
        )
    return sweep


def chosen_rows(records: dict[str, dict], best: str) -> list[dict[str, Any]]:
    """Each patient's fold, Dice with all sequences and with the FLAIR alone after the chosen
    post-processing, and true volume: the rows of ``per_patient.csv``."""
    return [
        {
            "patient": p,
            "fold": records[p]["fold"],
            "dice": records[p]["inputs"]["all"][best]["dice"],
            "dice_flair_only": records[p]["inputs"]["flair"][best]["dice"],
            "true_volume_px": records[p]["true_volume_px"],
        }
        for p in sorted(records)
    ]


def metrics_from_records(
    records: dict[str, dict],
    thresholds: list[float],
    folds: int,
    total: int,
    seed: int,
    timings: dict[int, dict] | None = None,
) -> dict[str, Any]:
    """The report's metrics from fold records alone (``brainseg.evaluation.cv_records``):
    post-processing chosen on the pooled records, headline figures with their intervals,
    gaps, folds, the worst five, the ablation, the sweep, lesion detection by size and Dice by
    tumour volume."""
    patients = sorted(records)

    def scores(inp: str, spec: str) -> list[dict[str, Any]]:
        return [records[p]["inputs"][inp][spec] for p in patients]

    def dice(inp: str, spec: str) -> np.ndarray:
        return np.array([s["dice"] for s in scores(inp, spec)])

    specs = list(records[patients[0]]["inputs"]["all"])
    agg = {spec: aggregate_records(scores("all", spec)) for spec in specs}
    best = max(specs, key=lambda spec: agg[spec]["dice_per_patient_mean"])
    headline = {
        name + suffix: _summary(aggregate_records(scores(inp, spec)), dice(inp, spec), seed)
        for name, inp in (("all_sequences", "all"), ("flair_only", "flair"), ("int8", "int8"))
        for suffix, spec in (("", "none"), ("_postprocessed", best))
    }
    rows = chosen_rows(records, best)
    done = sorted({r["fold"] for r in rows})
    return {
        "complete": len(patients) == total,
        "folds": folds,
        "folds_done": done,
        "patients": len(patients),
        "patients_total": total,
        "threshold": 0.5,
        "postprocess_chosen_on_oof": best,
        **headline,
        "flair_only_gap": _change(dice("all", best) - dice("flair", best), seed),
        "int8_change": _change(dice("int8", best) - dice("all", best), seed),
        "by_fold": _by_fold(rows, done),
        "worst_five": sorted(rows, key=lambda r: r["dice"])[:5],
        "ablation": [
            {"postprocess": spec, **{k: agg[spec][k] for k in ABLATION_KEYS}} for spec in specs
        ],
        "thresholds": _threshold_sweep(records, thresholds, best),
        "lesion_detection": detection(scores("all", best)),
        "lesion_detection_flair_only": detection(scores("flair", best)),
        "dice_by_tumour_volume": dice_by_tumour_volume(rows),
        "fold_minutes": {
            str(k): t | {"total": round(sum(t.values()), 2)}
            for k, t in (timings or {}).items()
            if t
        },
    }


def write_cv_report(
    data: str | Path,
    cv: CVFolder,
    split: dict[str, Any],
    seed: int = 42,
    oof_dir: str = "oof",
    report_dir: str = "report",
) -> dict[str, Any]:
    """Score the pooled out-of-fold predictions (``OUT/fold<k>/<oof_dir>``) into fold
    records (``OUT/<report_dir>/records``), write ``OUT/<report_dir>`` from them with its
    pictures, and return its metrics."""
    folds = len(split["folds"])
    oof = read_oof(cv, folds, oof_dir)
    if not oof:
        raise BrainsegError(f"{cv.root}: no out-of-fold predictions yet; train a fold first")
    total = sum(len(fold["val"]) for fold in split["folds"])
    volumes = load_clean_volumes(data, patients=sorted(oof))
    records = {
        v.patient: patient_record(
            v, oof[v.patient][0], oof[v.patient][1], ABLATION_SPECS, THRESHOLDS
        )
        for v in volumes
    }
    report = cv.report(report_dir)
    timings = fold_times(cv, folds, oof_dir)
    plan = {"folds": folds, "patients": total}
    write_records(report / "records", records, THRESHOLDS, timings, plan)
    metrics = metrics_from_records(records, list(THRESHOLDS), folds, total, seed, timings)
    metrics |= {"predictions": f"fold<k>/{oof_dir}", "report_dir": report_dir}
    best = metrics["postprocess_chosen_on_oof"]
    masks = {
        name: {v.patient: apply_postprocess(oof[v.patient][1][i] >= 0.5, best) for v in volumes}
        for i, name in enumerate(("all", "flair"))
    }
    rows, slices = [], []
    for v in volumes:
        row, slice_rows = score_patient(v.patient, v.stems, masks["all"][v.patient], v.masks)
        flair = records[v.patient]["inputs"]["flair"][best]["dice"]
        rows.append({**row, "fold": oof[v.patient][0], "dice_flair_only": flair})
        slices += slice_rows
    worst = sorted(rows, key=lambda r: r["dice"])[:5]
    figures = {"seed": seed, "worst": worst, "volumes": volumes, "chosen": masks["all"]}
    figures["flair"] = {r["patient"]: masks["flair"][r["patient"]] for r in worst}
    _write_report(report, metrics, rows, (rows, slices, aggregate(rows, slices)), figures)
    return metrics


def report_from_records(folder: str | Path, out: str | Path, seed: int = 42) -> dict:
    """``metrics.json``, ``per_patient.csv`` (so that ``brainseg cv compare`` pairs it) and
    ``report.md`` from the fold records in ``folder`` alone."""
    records, thresholds, timings, plan = read_records(Path(folder))
    folds = plan.get("folds", max(r["fold"] for r in records.values()) + 1)
    total = plan.get("patients", len(records))
    metrics = metrics_from_records(records, thresholds, folds, total, seed, timings)
    if not plan:
        metrics["plan_unknown"] = "records before version 4 do not say how many folds there are"
    metrics |= {"predictions": f"records in {folder}", "report_dir": Path(out).name}
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "metrics.json", finite_json(metrics))
    rows = chosen_rows(records, metrics["postprocess_chosen_on_oof"])
    write_text(out / "per_patient.csv", rows_to_csv(rows, list(rows[0])))
    write_text(out / "report.md", format_cv_report(metrics, pictures=False))
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
