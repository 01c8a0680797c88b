"""``brainseg demo``: the main job end to end on freshly generated synthetic data
(or on a real dataset with ``--data``): synth, split, train, evaluate on test, report."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from brainseg.config import save_config
from brainseg.fileio import write_json

DEMO_OVERRIDES = {
    "data": {"resolution": 128, "oversample_tumor": 0.5},
    "model": {"features": 16, "depth": 4, "dropout": 0.1},
    "train": {"epochs": 16, "batch_size": 16, "lr": 2e-3},
    "augment": {
        "rotation_range": 10.0,
        "zoom_range": 0.05,
        "intensity_scale": 0.2,
        "gamma_range": 0.2,
    },
}


def run_demo(out: str | Path, data: str | Path | None = None, epochs: int | None = None) -> dict:
    from brainseg.config import load_config
    from brainseg.data.discovery import discover
    from brainseg.data.splits import make_split, save_split
    from brainseg.data.synthetic import write_synthetic_dataset
    from brainseg.evaluation.evaluate import evaluate
    from brainseg.training.run import train

    out = Path(out)
    start = time.perf_counter()
    overrides = {k: dict(v) for k, v in DEMO_OVERRIDES.items()}
    if epochs:
        overrides["train"]["epochs"] = epochs
    if data is None:
        data = out / "data"
        if data.exists():
            shutil.rmtree(data)  # our own synthetic data from an earlier demo
        write_synthetic_dataset(data, patients=20, slices=16, seed=0)
        print(f"[1/4] synthetic data: {data} (20 patients x 16 slices)", flush=True)
    else:
        print(f"[1/4] data: {data}", flush=True)
    patients, _ = discover(data)
    split = make_split({p.name: [s.stem for s in p.slices] for p in patients}, seed=42)
    save_split(split, out / "split.json")
    print(
        f"[2/4] patient split: {out / 'split.json'} (train {len(split['train'])}, "
        f"val {len(split['val'])}, test {len(split['test'])})",
        flush=True,
    )
    run = out / "run"
    if run.exists():
        shutil.rmtree(run)  # a demo run is always fresh
    config = load_config(None, overrides)
    save_config(config, out / "demo_config.yaml")
    print(f"[3/4] training: {run}", flush=True)
    train(data, run, out / "demo_config.yaml", split_path=out / "split.json")
    print("[4/4] evaluating the test patients", flush=True)
    metrics = evaluate(
        data,
        out / "eval",
        model=str(run / "best.ckpt"),
        split=str(out / "split.json"),
        subset="test",
    )
    summary = {
        k: metrics[k]
        for k in (
            "patients",
            "slices",
            "dice_per_patient_mean",
            "dice_per_patient_median",
            "dice",
            "iou",
            "dice_tumor_slices_mean",
            "slice_detection_sensitivity",
            "slice_detection_specificity",
        )
    }
    summary["wall_seconds"] = round(time.perf_counter() - start, 1)
    write_json(out / "metrics.json", summary)
    print(
        f"\nDice per patient (test): mean {summary['dice_per_patient_mean']:.3f}, median "
        f"{summary['dice_per_patient_median']:.3f}; pooled Dice {summary['dice']:.3f}"
    )
    print(
        f"metrics:  {out / 'metrics.json'}\nreport:   {out / 'eval' / 'report.html'}\n"
        f"run:      {run} (config.yaml, split.json, history.csv, curves.png, best.ckpt)\n"
        f"took {summary['wall_seconds']:.0f} s"
    )
    return summary
