"""The evaluation report: one self-contained HTML page (PNGs inlined as base64), every
figure also saved beside it, so it opens offline and can be mailed around."""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any

import numpy as np

from brainseg.data.volumes import Patient
from brainseg.fileio import write_text
from brainseg.io.writers import overlay
from brainseg.report.figures import save_figure

CONVENTIONS = (
    "Per-patient Dice and IoU pool all of a patient's slices (3D). An empty ground truth "
    "scores 1 when the prediction is empty too and 0 otherwise. Slice-level Dice means are "
    "over tumour-bearing slices only; empty slices count separately as a false-positive "
    "rate. IoU is for the tumour class, so it never exceeds Dice. HD95 is in pixels, per "
    "slice where both masks are non-empty. Detection = any lesion pixel present."
)

HEADLINE = [
    ("dice_per_patient_mean", "Dice per patient, mean"),
    ("dice_per_patient_median", "Dice per patient, median"),
    ("dice_per_patient_min", "Dice per patient, min"),
    ("dice", "Dice, pooled"),
    ("iou", "IoU (tumour), pooled"),
    ("dice_tumor_slices_mean", "Dice, mean over tumour slices"),
    ("hd95_px_mean", "HD95 (px), mean"),
    ("accuracy", "Pixel accuracy"),
    ("precision", "Precision"),
    ("recall", "Recall (sensitivity)"),
    ("specificity", "Specificity"),
    ("slice_detection_sensitivity", "Slice detection sensitivity"),
    ("slice_detection_specificity", "Slice detection specificity"),
    ("empty_slice_false_positive_rate", "False-positive rate on empty slices"),
]


def _dice_plot(rows: list[dict], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dice = np.array([r["dice"] for r in rows])
    fig, ax = plt.subplots(figsize=(6, 3.2))
    ax.boxplot(dice, vert=False, widths=0.5, showfliers=False)
    jitter = np.random.default_rng(0).uniform(-0.12, 0.12, len(dice))
    ax.scatter(dice, 1 + jitter, s=18, alpha=0.8, zorder=3)
    ax.axvline(dice.mean(), color="tab:red", ls="--", label=f"mean {dice.mean():.3f}")
    ax.axvline(np.median(dice), color="tab:green", ls=":", label=f"median {np.median(dice):.3f}")
    ax.set(xlim=(0, 1), xlabel="Dice per patient (3D)", yticks=[])
    ax.legend(loc="upper left", fontsize=8)
    save_figure(fig, out)


def _slice_grid(
    volumes: list[Patient], preds: dict[str, np.ndarray], out: Path, seed: int, count: int = 6
) -> None:
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(seed)
    tumour = [(v, i) for v in volumes for i in np.flatnonzero(v.tumor_slices)]
    other = [(v, i) for v in volumes for i in np.flatnonzero(~v.tumor_slices)]
    picks = []
    for pool, n in ((tumour, count - count // 3), (other, count // 3)):
        if pool:
            picks += [pool[i] for i in rng.choice(len(pool), min(n, len(pool)), replace=False)]
    fig, axes = plt.subplots(len(picks), 4, figsize=(10, 2.6 * len(picks)), squeeze=False)
    for row, (v, i) in zip(axes, picks, strict=True):
        pred = preds[v.patient][i]
        panels = [
            v.images[i][..., 1],
            v.masks[i],
            pred,
            overlay(v.images[i][..., 1], v.masks[i], pred),
        ]
        for ax, panel, title in zip(
            row, panels, ["MRI (FLAIR)", "ground truth", "prediction", "overlay"], strict=True
        ):
            ax.imshow(panel, cmap="gray")
            ax.set_title(
                f"{title}" + (f"\n{v.stems[i]}" if title.startswith("MRI") else ""), fontsize=8
            )
            ax.axis("off")
    fig.suptitle("Random slices: ground truth green, prediction red, overlap yellow", fontsize=9)
    save_figure(fig, out)


def _best_worst(
    rows: list[dict], volumes: list[Patient], preds: dict[str, np.ndarray], out: Path, k: int = 3
) -> None:
    import matplotlib.pyplot as plt

    ranked = sorted(rows, key=lambda r: r["dice"])
    chosen = ranked[:k] + ranked[-k:] if len(ranked) > 2 * k else ranked
    by_name = {v.patient: v for v in volumes}
    fig, axes = plt.subplots(1, len(chosen), figsize=(2.6 * len(chosen), 3), squeeze=False)
    for ax, row in zip(axes[0], chosen, strict=True):
        v = by_name[row["patient"]]
        i = int(np.argmax(v.masks.reshape(len(v.stems), -1).sum(1)))
        ax.imshow(overlay(v.images[i][..., 1], v.masks[i], preds[v.patient][i]))
        ax.set_title(f"{row['patient']}\nDice {row['dice']:.3f}", fontsize=7)
        ax.axis("off")
    fig.suptitle("Worst and best patients (largest-lesion slice)", fontsize=9)
    save_figure(fig, out)


def _img(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(path.stem)}">'


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "n/a" if not np.isfinite(value) else f"{value:.4f}"
    return html.escape(str(value)) if value is not None else "n/a"


def write_report(
    out: Path,
    metrics: dict[str, Any],
    rows: list[dict],
    volumes: list[Patient],
    preds: dict[str, np.ndarray],
    run_dir: Path | None,
    seed: int = 0,
) -> Path:
    figures = []
    _dice_plot(rows, out / "dice_per_patient.png")
    figures.append(("Per-patient Dice", out / "dice_per_patient.png"))
    if run_dir is not None and (run_dir / "history.csv").exists():
        from brainseg.report.curves import plot_history, read_history

        plot_history(read_history(run_dir / "history.csv"), out / "training_curves.png")
        figures.append(("Training curves", out / "training_curves.png"))
    _slice_grid(volumes, preds, out / "random_slices.png", seed)
    figures.append(("Random slices", out / "random_slices.png"))
    _best_worst(rows, volumes, preds, out / "best_worst.png")
    figures.append(("Worst and best patients", out / "best_worst.png"))

    table = "".join(
        f"<tr><td>{label}</td><td>{_fmt(metrics.get(key))}</td></tr>" for key, label in HEADLINE
    )
    ablation = "".join(
        f"<tr><td>{html.escape(r['postprocess'])}</td>"
        + "".join(
            f"<td>{_fmt(r[k])}</td>"
            for k in (
                "dice_per_patient_mean",
                "dice_per_patient_median",
                "dice",
                "dice_tumor_slices_mean",
                "empty_slice_false_positive_rate",
            )
        )
        + "</tr>"
        for r in metrics.get("ablation", [])
    )
    patients = "".join(
        f"<tr><td>{html.escape(r['patient'])}</td><td>{r['slices']}</td>"
        f"<td>{r['true_volume_px']}</td><td>{r['pred_volume_px']}</td><td>{_fmt(r['dice'])}</td>"
        f"<td>{_fmt(r['iou'])}</td></tr>"
        for r in sorted(rows, key=lambda r: r["dice"])
    )
    sections = "".join(f"<h2>{html.escape(t)}</h2>{_img(p)}" for t, p in figures)
    model = html.escape(", ".join(f"{k}: {v}" for k, v in metrics.get("model", {}).items()))
    page = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>brainseg evaluation report</title><style>
body{{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}}
table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ccc;padding:4px 10px}}
th{{background:#f2f2f2}}img{{max-width:100%}}.note{{color:#555;font-size:0.9em}}
</style></head><body>
<h1>brainseg evaluation report</h1>
<p>{metrics["patients"]} patients, {metrics["slices"]} slices ({metrics["tumor_slices"]} with
tumour), subset <b>{html.escape(str(metrics.get("subset")))}</b>, post-processing
<b>{html.escape(metrics["postprocess"])}</b>, TTA {metrics.get("tta")}.</p>
<p class="note">Model: {model}</p>
<h2>Metrics</h2><table>{table}</table>
<p class="note">{CONVENTIONS}</p>
{sections}
<h2>Post-processing ablation</h2>
<table><tr><th>post-processing</th><th>Dice/patient mean</th><th>median</th><th>pooled Dice</th>
<th>tumour-slice Dice</th><th>FP rate, empty slices</th></tr>{ablation}</table>
<p class="note">Choose the default on validation patients, never on test.</p>
<h2>Patients (worst first)</h2>
<table><tr><th>patient</th><th>slices</th><th>true px</th><th>pred px</th><th>Dice</th>
<th>IoU</th></tr>{patients}</table>
</body></html>
"""
    write_text(out / "report.html", page)
    return out / "report.html"
