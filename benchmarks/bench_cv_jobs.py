"""``brainseg cv --jobs``: folds side by side against one after another, in one run.

The same short cross-validation (real data in ../shared, the default config, ``--epochs``
epochs of ``--batches`` batches, the chosen folds trained and scored out of fold) runs with
``--jobs 1`` (the baseline: one fold after another, every core for each) and with
``--jobs`` = the number of folds, alternating, each in a fresh folder; the ratio is the
median wall time of the first over the second.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from common import BRAINSEG, median_of, need_real_data, run_measured, save

from brainseg.cores import available_cores


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--folds", type=int, default=2, help="folds trained (of 5)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batches", type=int, default=30, help="train batches per epoch")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    data = need_real_data()
    folds = [arg for k in range(args.folds) for arg in ("--fold", str(k))]
    walls: dict[int, list[float]] = {1: [], args.folds: []}
    for _ in range(args.repeat):
        for jobs in walls:
            with tempfile.TemporaryDirectory() as tmp:
                wall, _, _ = run_measured(
                    BRAINSEG
                    + ["cv", "run", "--data", str(data), "--out", str(Path(tmp) / "cv"), *folds]
                    + ["--epochs", str(args.epochs), "--jobs", str(jobs)]
                    + ["--set", f"train.max_train_batches={args.batches}"]
                )
            walls[jobs].append(wall)
    sequential, parallel = median_of(walls[1]), median_of(walls[args.folds])
    save(
        "cv_jobs",
        {
            "cores": len(available_cores()),
            "folds": args.folds,
            "epochs": args.epochs,
            "train_batches_per_epoch": args.batches,
            "wall_seconds": {f"jobs_{j}": [round(w, 1) for w in ws] for j, ws in walls.items()},
            "ratio_sequential_over_parallel": round(sequential / parallel, 2),
        },
    )


if __name__ == "__main__":
    main()
