"""Two cross-validations compared patient by patient: is a recipe change (a lever) real?

Reads each one's ``report/per_patient.csv`` (written by ``brainseg cv``) and pairs the
out-of-fold patients they share. A paired difference with a bootstrap interval over patients
is what decides; two means with overlapping intervals cannot (docs/cross-validation.md). The
worst five are given for each cross-validation by its own ranking, because scoring one
model on another's worst patients favours it (regression to the mean).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np

from brainseg.errors import BrainsegError
from brainseg.evaluation.crossval import bootstrap_interval
from brainseg.evaluation.cv_layout import CVFolder

SCORES = (("dice", "three sequences"), ("dice_flair_only", "FLAIR only"))
WORST = 5
MOVERS = 3


def _report_dir(path: Path) -> Path:
    """A cross-validation folder (its ``report/``), a report folder, or a per_patient.csv."""
    if path.is_file():
        return path.parent
    if (path / "per_patient.csv").is_file():
        return path
    report = CVFolder(path).report()
    if (report / "per_patient.csv").is_file():
        return report
    raise BrainsegError(f"{path}: no report/per_patient.csv; run 'brainseg cv report {path}'")


def read_per_patient(path: str | Path) -> tuple[dict[str, dict[str, Any]], str]:
    """``({patient: {"fold", "dice", "dice_flair_only"}}, post-processing)`` of one report."""
    report = _report_dir(Path(path))
    rows = {}
    with open(report / "per_patient.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            try:
                rows[row["patient"]] = {
                    "fold": int(row["fold"]),
                    **{key: float(row[key]) for key, _ in SCORES},
                }
            except (KeyError, ValueError):
                raise BrainsegError(
                    f"{report / 'per_patient.csv'}: not a cross-validation per-patient table "
                    "(needs patient, fold, dice, dice_flair_only)"
                ) from None
    metrics = report / "metrics.json"
    postprocess = "?"
    if metrics.is_file():
        postprocess = json.loads(metrics.read_text()).get("postprocess_chosen_on_oof", "?")
    return rows, postprocess


def compare_reports(base: str | Path, other: str | Path, seed: int = 0) -> dict[str, Any]:
    """Paired per-patient comparison of ``other`` against ``base`` on the patients both hold
    out; refused when a shared patient sits in different folds (different fold assignments
    are no paired comparison)."""
    rows_a, post_a = read_per_patient(base)
    rows_b, post_b = read_per_patient(other)
    shared = sorted(set(rows_a) & set(rows_b))
    if not shared:
        raise BrainsegError(f"{base} and {other} share no out-of-fold patient")
    moved = [p for p in shared if rows_a[p]["fold"] != rows_b[p]["fold"]]
    if moved:
        raise BrainsegError(
            f"{other}: {len(moved)} patients sit in other folds than in {base} (e.g. {moved[0]}); "
            "compare cross-validations made with the same --folds and --seed"
        )
    result: dict[str, Any] = {
        "base": str(base),
        "other": str(other),
        "patients": len(shared),
        "unpaired": {
            "base": len(set(rows_a) - set(rows_b)),
            "other": len(set(rows_b) - set(rows_a)),
        },
        "folds": sorted({rows_a[p]["fold"] for p in shared}),
        "postprocess": {"base": post_a, "other": post_b},
        "scores": {},
    }
    for key, label in SCORES:
        a = np.array([rows_a[p][key] for p in shared])
        b = np.array([rows_b[p][key] for p in shared])
        diff = b - a
        order_a, order_b, order_diff = np.argsort(a), np.argsort(b), np.argsort(diff)
        result["scores"][key] = {
            "label": label,
            "base_mean": float(a.mean()),
            "other_mean": float(b.mean()),
            "difference": float(diff.mean()),
            "difference_ci95": list(bootstrap_interval(diff, seed)),
            "better": int((diff > 0.01).sum()),
            "worse": int((diff < -0.01).sum()),
            "base_worst_five": float(a[order_a[:WORST]].mean()),
            "other_worst_five": float(b[order_b[:WORST]].mean()),
            "base_min": float(a.min()),
            "other_min": float(b.min()),
            "largest_gains": [
                (shared[i], float(a[i]), float(b[i])) for i in order_diff[::-1][:MOVERS]
            ],
            "largest_losses": [(shared[i], float(a[i]), float(b[i])) for i in order_diff[:MOVERS]],
        }
    return result


# How far retraining alone moved one fold's mean (v3a, fold 0 of the LGG data: seed 43
# against seed 42, paired +0.034 with a patient interval of +0.011 to +0.062;
# docs/cross-validation.md, "Run-to-run spread"). A patient interval does not include it.
RETRAINING_SPREAD_ONE_FOLD = 0.034


def retraining_caution(folds: int) -> str:
    """What the patient interval leaves out: the spread of retraining the same recipe,
    about ``RETRAINING_SPREAD_ONE_FOLD`` on one fold and less, by the square root of their
    number, over several."""
    spread = RETRAINING_SPREAD_ONE_FOLD / max(folds, 1) ** 0.5
    return (
        "The interval is over patients only, not over retraining: the same recipe retrained "
        f"with another seed moved one fold's mean by {RETRAINING_SPREAD_ONE_FOLD:.3f} "
        f"(docs/cross-validation.md), about {spread:.3f} over {folds} fold(s). A difference "
        "smaller than that is not evidence, whatever its interval."
    )


def format_comparison(result: dict[str, Any]) -> str:
    """The comparison as Markdown: one row per input, then the patients that moved most."""
    lines = [
        f"# {result['other']} against {result['base']}",
        "",
        f"{result['patients']} out-of-fold patients in both (folds {result['folds']}; left out, "
        f"held by one only: {result['unpaired']['base']} of base, {result['unpaired']['other']} "
        "of other); each "
        f"with the post-processing its own report chose (base `{result['postprocess']['base']}`, "
        f"other `{result['postprocess']['other']}`). Difference = other minus base, paired per "
        "patient, bootstrap 95% interval over patients. Worst five: each one's own five worst "
        "patients.",
        "",
        retraining_caution(len(result["folds"])),
        "",
        "| input | base | other | difference | 95% CI | better / worse by > 0.01 | worst five "
        "(base / other) | min (base / other) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for score in result["scores"].values():
        low, high = score["difference_ci95"]
        lines.append(
            f"| {score['label']} | {score['base_mean']:.4f} | {score['other_mean']:.4f} | "
            f"{score['difference']:+.4f} | {low:+.4f} to {high:+.4f} | {score['better']} / "
            f"{score['worse']} | {score['base_worst_five']:.3f} / {score['other_worst_five']:.3f} "
            f"| {score['base_min']:.3f} / {score['other_min']:.3f} |"
        )
    for score in result["scores"].values():
        lines += ["", f"{score['label']}, largest changes (base -> other):"]
        for title in ("largest_gains", "largest_losses"):
            moves = ", ".join(f"{p} {a:.3f} -> {b:.3f}" for p, a, b in score[title])
            lines.append(f"- {title.replace('_', ' ')}: {moves}")
    return "\n".join(lines) + "\n"
