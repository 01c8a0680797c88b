"""Time-to-Dice: validation per-patient Dice against wall-clock minutes for candidate
defaults (width, resolution), each trained from scratch with ``brainseg train`` on the
committed split and the shipped recipe (configs/lgg.yaml), one after another on this machine.

Every candidate gets about the same wall-clock budget: its epoch count is set from its own
throughput, measured here by a one-epoch probe run, so that its cosine schedule ends inside the
budget. Epochs are shortened to ``--batches`` batches so that the curve has enough points.
Not part of ``make bench`` by default (it takes ``len(candidates) x --minutes``).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
from pathlib import Path

import yaml
from common import BRAINSEG, OUT, ROOT, need_real_data, run_measured, save

CANDIDATES = {
    "f16_r128 (default)": {"model": {"features": 16}, "data": {"resolution": 128}},
    "f16_r256": {"model": {"features": 16}, "data": {"resolution": 256}},
    "f32_r128": {"model": {"features": 32}, "data": {"resolution": 128}},
}
SPLIT = ROOT / "splits" / "lgg_seed42.json"


def _config(tmp: Path, name: str, overrides: dict, epochs: int, batches: int) -> Path:
    config = yaml.safe_load((ROOT / "configs" / "lgg.yaml").read_text())
    for section, values in overrides.items():
        config.setdefault(section, {}).update(values)
    config["train"].update({"epochs": epochs, "max_train_batches": batches})
    path = tmp / f"{name.split()[0]}_{epochs}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _train(data: Path, tmp: Path, name: str, overrides: dict, epochs: int, batches: int):
    run = tmp / f"run_{name.split()[0]}_{epochs}"
    config = _config(tmp, name, overrides, epochs, batches)
    command = BRAINSEG + ["train", "--data", str(data), "--out", str(run), "--config", str(config)]
    wall, _, _ = run_measured(command + ["--split", str(SPLIT)])
    with open(run / "history.csv") as handle:
        rows = list(csv.DictReader(handle))
    timing = json.loads((run / "timing.json").read_text())
    return wall, rows, timing


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=12.0, help="budget per candidate")
    parser.add_argument("--batches", type=int, default=24, help="batches per (short) epoch")
    parser.add_argument("--only", nargs="*", help="candidate names to run (default: all)")
    args = parser.parse_args()
    data = need_real_data()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, overrides in CANDIDATES.items():
            if args.only and name.split()[0] not in args.only:
                continue
            # Probe: one epoch of 6 batches gives seconds per batch and per validation.
            _, rows, probe = _train(data, Path(tmp), name, overrides, 1, 6)
            per_batch = probe["train_seconds"] / 6
            validation = float(rows[0]["elapsed_s"]) - probe["train_seconds"]
            per_epoch = per_batch * args.batches + validation
            epochs = max(2, int(args.minutes * 60 / per_epoch))
            wall, rows, timing = _train(data, Path(tmp), name, overrides, epochs, args.batches)
            results[name] = {
                "epochs": epochs,
                "batches_per_epoch": args.batches,
                "train_images_per_second": timing["train_images_per_second"],
                "wall_minutes": round(wall / 60, 2),
                "best_val_dice_patient": max(float(r["val_dice_patient"]) for r in rows),
                "final_val_dice_patient": float(rows[-1]["val_dice_patient"]),
                "curve": [
                    [round(float(r["elapsed_s"]) / 60, 2), round(float(r["val_dice_patient"]), 4)]
                    for r in rows
                ],
            }
            print(name, {k: v for k, v in results[name].items() if k != "curve"}, flush=True)
    save("time_to_dice", {"minutes_per_candidate": args.minutes, "candidates": results})
    _plot(results, OUT / "time_to_dice.png")


def _plot(results: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4))
    for name, result in results.items():
        minutes, dice = zip(*result["curve"], strict=True)
        ax.plot(
            minutes, dice, "o-", ms=3, label=f"{name}, {result['train_images_per_second']} img/s"
        )
    ax.set_xlabel("wall-clock minutes (2 CPU cores)")
    ax.set_ylabel("validation per-patient Dice")
    ax.set_title("Time to Dice, same budget per candidate")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=120)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "benchmarks"))
    main()
