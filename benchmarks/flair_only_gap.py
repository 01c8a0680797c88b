"""The FLAIR-only gap of one model on held-out patients: per-patient 3D Dice with all three
sequences and with the FLAIR copied into every channel (what predict does for a FLAIR-only
case), threshold 0.5, no post-processing, the same scoring as ``brainseg cv``'s
out-of-fold predictions. Used to screen recipe changes on one fold before a whole
cross-validation (docs/cross-validation.md).

    python benchmarks/flair_only_gap.py --data ../shared/data/lgg/kaggle_3m \
        --split cv/v2/fold0/split.json --model cv/v2/fold0/stage4/last.ckpt

The patients scored are the split's ``val`` (a ``brainseg cv`` fold's held-out patients).
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from brainseg import metrics
from brainseg.data.volumes import load_clean_volumes
from brainseg.evaluation.evaluate import rows_to_csv
from brainseg.fileio import write_text
from brainseg.inference.predictor import Predictor


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--split", required=True, help="split JSON; its val patients are scored")
    parser.add_argument("--model", required=True, help="checkpoint or bundle")
    parser.add_argument("--tta", action="store_true", help="horizontal-flip TTA")
    parser.add_argument("--csv", help="also write the per-patient Dice to this CSV")
    args = parser.parse_args()
    held_out = json.loads(open(args.split).read())["val"]
    predictor = Predictor(args.model, engine="torch", tta=args.tta)
    rows, patients = [], []
    for volume in load_clean_volumes(args.data, patients=held_out):
        dice = [
            metrics.dice(metrics.counts(predictor.predict(v) >= 0.5, volume.masks > 0))
            for v in (volume.image_volume(), volume.flair_only_volume())
        ]
        rows.append(dice)
        patients.append(volume.patient)
        print(f"{volume.patient}  three sequences {dice[0]:.3f}  FLAIR only {dice[1]:.3f}")
    table = np.array(rows)
    if args.csv:
        columns = ["patient", "dice", "dice_flair_only"]
        per_patient = [
            dict(zip(columns, (p, *d), strict=True)) for p, d in zip(patients, rows, strict=True)
        ]
        write_text(args.csv, rows_to_csv(per_patient, columns))
    print(
        f"{len(rows)} patients: three sequences {table[:, 0].mean():.4f}, FLAIR only "
        f"{table[:, 1].mean():.4f}, gap {table[:, 0].mean() - table[:, 1].mean():.4f}"
    )


if __name__ == "__main__":
    main()
