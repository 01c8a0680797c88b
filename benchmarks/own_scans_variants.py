"""Users' own scans, measured: Kaggle patients the model never saw, written as NIfTI in the
ways researchers store them, segmented with ``brainseg predict`` and scored in 3D against
their masks (world space). Prints one table row per variant (docs/own-scans.md).

    python benchmarks/own_scans_variants.py --data ../shared/data/lgg/kaggle_3m \
        --exclude splits/lgg_seed42_final.json --out bench_out/own_scans

``--exclude``: a split whose train patients the model was fit on; the others are scored.
``--brainseg``: the command to run (e.g. an older checkout's), default this one's.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import nibabel.orientations as nio
import numpy as np

FRAME = np.array([[-0.9, 0, 0, 115.0], [0, -0.9, 0, 115.0], [0, 0, 3.0, -30.0], [0, 0, 0, 1]])


def _nifti(data: np.ndarray) -> nib.Nifti1Image:
    """(S, H, W[, C]) slices in the training frame -> NIfTI (X, Y, Z[, C])."""
    axes = (2, 1, 0, 3) if data.ndim == 4 else (2, 1, 0)
    return nib.Nifti1Image(np.ascontiguousarray(data.transpose(axes)), FRAME)


def variants(images: np.ndarray) -> dict[str, nib.Nifti1Image]:
    flair = images[..., 1].astype(np.float32)
    inside = flair > 0
    zscored = np.where(inside, (flair - flair[inside].mean()) / flair[inside].std(), 0)
    canonical = _nifti(flair * 9.1 + 30)
    return {
        "three sequences (4D)": _nifti(images.astype(np.float32) * 9.1 + 30),
        "FLAIR alone": canonical,
        "FLAIR stored RAS": canonical.as_reoriented(np.array([[0, -1], [1, -1], [2, 1]], float)),
        "FLAIR stored sagittally": canonical.as_reoriented(
            np.array([[2, 1], [1, -1], [0, 1]], float)
        ),
        "FLAIR z-scored": _nifti(zscored.astype(np.float32)),
    }


def world(path: Path) -> np.ndarray:
    image = nib.load(path)
    to_lps = nio.ornt_transform(nio.io_orientation(image.affine), nio.axcodes2ornt("LPS"))
    return np.asarray(image.as_reoriented(to_lps).dataobj).astype(bool).transpose(2, 1, 0)


def dice(a: np.ndarray, b: np.ndarray) -> float:
    total = a.sum() + b.sum()
    return 1.0 if total == 0 else float(2 * (a & b).sum() / total)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--exclude", help="split JSON: skip its train patients")
    parser.add_argument("--out", required=True)
    parser.add_argument("--brainseg", default=f"{sys.executable} -m brainseg")
    parser.add_argument("--model", help="model file (default: the shipped model)")
    args = parser.parse_args()
    from brainseg.data.volumes import load_clean_volumes

    seen = set(json.loads(Path(args.exclude).read_text())["train"]) if args.exclude else set()
    names = sorted(p.name for p in Path(args.data).iterdir() if p.is_dir() and p.name not in seen)
    patients = load_clean_volumes(args.data, patients=names)
    out = Path(args.out)
    table: dict[str, list[float]] = {}
    for index, (name, _) in enumerate(variants(patients[0].images).items()):
        folder = out / "in" / f"v{index}"
        folder.mkdir(parents=True, exist_ok=True)
        for patient in patients:
            nib.save(variants(patient.images)[name], folder / f"{patient.patient}.nii.gz")
        result = out / "pred" / f"v{index}"
        command = [*args.brainseg.split(), "predict", str(folder), "--out", str(result)]
        command += ["--model", args.model] if args.model else []
        subprocess.run(command, check=False, capture_output=True)
        scores = []
        for patient in patients:
            path = result / f"{patient.patient}_pred.nii.gz"
            truth = patient.masks.astype(bool)
            scores.append(dice(world(path), truth) if path.exists() else 0.0)
        table[name] = scores
        s = np.array(scores)
        print(
            f"| {name} | {s.mean():.3f} | {np.median(s):.3f} | {s.min():.3f} | "
            f"{int((s < 0.3).sum())} |",
            flush=True,
        )
    (out / "scores.json").write_text(json.dumps({"patients": names, "dice": table}, indent=1))


if __name__ == "__main__":
    main()
