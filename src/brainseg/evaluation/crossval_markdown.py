"""``report.md`` of a cross-validation: the pooled out-of-fold figures as Markdown, from the
metrics that :func:`brainseg.evaluation.crossval.write_cv_report` computes."""

from __future__ import annotations

from typing import Any

import numpy as np


def format_cv_report(metrics: dict[str, Any], pictures: bool = True) -> str:
    """The Markdown summary: headline table, FLAIR-only gap, by fold, worst five,
    post-processing ablation and threshold sweep. ``pictures``: the worst five's picture
    exists (a report rebuilt from records alone has none to link)."""

    def f(x: Any) -> str:
        return "n/a" if x is None or (isinstance(x, float) and not np.isfinite(x)) else f"{x:.3f}"

    lines = ["# Cross-validation report", ""]
    if not metrics["complete"]:
        lines += [
            f"**Partial:** {metrics['patients']} of {metrics['patients_total']} patients "
            f"(folds {metrics['folds_done']} of {metrics['folds']}); not yet an estimate over "
            "all patients.",
            "",
        ]
    if "plan_unknown" in metrics:
        lines += [
            f"**Folds unknown:** {metrics['plan_unknown']}; these {metrics['patients']} "
            "patients are reported as if they were all.",
            "",
        ]
    lines += [
        f"Per-patient 3D Dice over {metrics['patients']} out-of-fold patients, threshold 0.5. "
        f"Post-processing `{metrics['postprocess_chosen_on_oof']}` was chosen on these "
        "out-of-fold predictions (the nnU-Net way); the raw rows involve no choice.",
        "",
        "| input | post-processing | mean | 95% CI (bootstrap) | median | min |",
        "|---|---|---|---|---|---|",
    ]
    for name, label in (
        ("all_sequences", "three sequences"),
        ("all_sequences_postprocessed", "three sequences"),
        ("flair_only", "FLAIR only"),
        ("flair_only_postprocessed", "FLAIR only"),
        ("int8", "three sequences, INT8 export"),
        ("int8_postprocessed", "three sequences, INT8 export"),
    ):
        h = metrics[name]
        pp = "chosen" if name.endswith("postprocessed") else "none"
        low, high = h["dice_per_patient_ci95"]
        lines.append(
            f"| {label} | {pp} | {f(h['dice_per_patient_mean'])} | {f(low)}–{f(high)} | "
            f"{f(h['dice_per_patient_median'])} | {f(h['dice_per_patient_min'])} |"
        )
    gap = metrics["flair_only_gap"]
    lines += [
        "",
        f"FLAIR-only gap (three sequences minus FLAIR only, paired): {f(gap['mean'])} "
        f"(95% CI {f(gap['ci95'][0])}–{f(gap['ci95'][1])}).",
        "",
        f"INT8 export minus fp32, paired: {f(metrics['int8_change']['mean'])} (95% CI "
        f"{f(metrics['int8_change']['ci95'][0])}–{f(metrics['int8_change']['ci95'][1])}).",
        "",
        "By fold (chosen post-processing; three sequences / FLAIR only): "
        + ", ".join(
            f"fold {b['fold']} {f(b['dice_per_patient_mean'])} / {f(b['flair_only_mean'])} "
            f"({b['patients']} patients)"
            for b in metrics["by_fold"]
        ),
        "",
        "Minutes per fold (training of each stage, out-of-fold predictions; total): "
        + (
            ", ".join(
                f"fold {k} "
                + " + ".join(f"{v:.1f}" for key, v in t.items() if key != "total")
                + f" = {t['total']:.1f}"
                for k, t in metrics.get("fold_minutes", {}).items()
            )
            or "not recorded"
        ),
        "",
        "Worst five: "
        + ", ".join(
            f"{w['patient']} (fold {w['fold']}) {f(w['dice'])}" for w in metrics["worst_five"]
        ),
        "",
        "![The worst five, with all sequences and with the FLAIR alone](worst_five.png)"
        if pictures
        else "(Rebuilt from the fold records alone: the pictures need the predictions.)",
        "",
        "| post-processing | mean | median | pooled | FP rate, empty slices |",
        "|---|---|---|---|---|",
    ]
    for r in metrics["ablation"]:
        lines.append(
            f"| {r['postprocess']} | {f(r['dice_per_patient_mean'])} | "
            f"{f(r['dice_per_patient_median'])} | {f(r['dice'])} | "
            f"{f(r['empty_slice_false_positive_rate'])} |"
        )
    if metrics.get("thresholds"):
        lines += [
            "",
            f"Threshold (with `{metrics['thresholds'][0]['postprocess']}`; 0.5 is used): "
            + ", ".join(
                f"{t['threshold']:g} {f(t['dice_per_patient_mean'])}" for t in metrics["thresholds"]
            ),
        ]
    lines += _detection_lines(metrics, f) + _volume_lines(metrics, f)
    return "\n".join(lines) + "\n"


def _detection_lines(metrics: dict[str, Any], f) -> list[str]:
    """Lesion detection by lesion size (``brainseg.evaluation.lesions``), both inputs."""
    if "lesion_detection" not in metrics:
        return []
    lines = [
        "",
        "Lesion detection by size (3D components; found: overlapped by the prediction):",
        "",
        "| lesion size (voxels) | lesions | found | sensitivity | FLAIR only | "
        "false positives per patient | FLAIR only |",
        "|---|---|---|---|---|---|---|",
    ]
    rows = zip(metrics["lesion_detection"], metrics["lesion_detection_flair_only"], strict=True)
    for row, flair in rows:
        lines.append(
            f"| {row['size_voxels']} | {row['lesions']} | {row['found']} | "
            f"{f(row['sensitivity'])} | {f(flair['sensitivity'])} | "
            f"{f(row['false_positives_per_patient'])} | "
            f"{f(flair['false_positives_per_patient'])} |"
        )
    return lines


def _volume_lines(metrics: dict[str, Any], f) -> list[str]:
    """Per-patient Dice by the patient's tumour volume (``lesions.dice_by_tumour_volume``)."""
    if "dice_by_tumour_volume" not in metrics:
        return []
    lines = [
        "",
        "Per-patient Dice by the patient's whole tumour volume (chosen post-processing):",
        "",
        "| tumour (voxels) | patients | mean | min | FLAIR only mean | FLAIR only min |",
        "|---|---|---|---|---|---|",
    ]
    for row in metrics["dice_by_tumour_volume"]:
        lines.append(
            f"| {row['tumour_voxels']} | {row['patients']} | {f(row['dice_mean'])} | "
            f"{f(row['dice_min'])} | {f(row['dice_flair_only_mean'])} | "
            f"{f(row['dice_flair_only_min'])} |"
        )
    return lines
