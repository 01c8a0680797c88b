"""Users' own scans, measured: Kaggle patients the model never saw, written as NIfTI in the
ways researchers store them, segmented with ``brainseg predict`` and scored in 3D against
their masks (world space). Prints one table row per variant (docs/own-scans.md).

    python tools/own_scans_variants.py --data ../shared/data/lgg/kaggle_3m \
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


def _one_mm(values: np.ndarray, order: int) -> np.ndarray:
    """(S, 256, 256[, C]) at 0.9 mm -> (S, 240, 240[, C]) at 1 mm, centred (a BraTS grid)."""
    from scipy.ndimage import zoom

    factors = (1, 0.9, 0.9) + (1,) * (values.ndim - 3)
    small = zoom(values.astype(np.float32), factors, order=order)
    pad = [(0, 0), (5, 5), (5, 5)] + [(0, 0)] * (values.ndim - 3)
    return np.pad(small[:, :230, :230], pad)


def _volume(slices: np.ndarray, affine: np.ndarray) -> nib.Nifti1Image:
    """(S, H, W) slices -> a 3D NIfTI (X, Y, Z) with this affine."""
    return nib.Nifti1Image(np.ascontiguousarray(slices.transpose(2, 1, 0)), affine)


ONE_MM = np.array([[-1.0, 0, 0, 120.0], [0, -1.0, 0, 120.0], [0, 0, 3.0, -30.0], [0, 0, 0, 1]])


def variants(images: np.ndarray, masks: np.ndarray) -> dict[str, tuple]:
    """name -> (NIfTI image, or {sequence: image} for a case folder; truth mask (S, H, W)
    on that image's grid in LPS order)."""
    from brainseg.preprocessing.brainmask import brain_mask

    flair = images[..., 1].astype(np.float32)
    inside = flair > 0
    zscored = np.where(inside, (flair - flair[inside].mean()) / flair[inside].std(), 0)
    canonical = _nifti(flair * 9.1 + 30)
    brain = brain_mask(flair, 0.9)[..., None]  # skull-stripped, background 0 as BraTS has it
    stripped = np.where(brain, images.astype(np.float32) * 9.1 + 30, 0).astype(np.float32)
    truth = masks.astype(bool)
    stripped_1mm = np.where(_one_mm(brain[..., 0], 0)[..., None] > 0, _one_mm(stripped, 1), 0)
    truth_1mm = _one_mm(masks.astype(np.float32), 0) > 0.5
    brain_1mm = _one_mm(brain[..., 0], 0) > 0
    t1c = stripped_1mm[..., 2]
    t1c_z = np.where(brain_1mm, (t1c - t1c[brain_1mm].mean()) / t1c[brain_1mm].std(), 0)
    one_mm = {
        # a BraTS case folder as brats_dev holds it: <case>_flair + a z-scored <case>_t1ce,
        # no pre-contrast T1, skull-stripped on the 1 mm grid
        "BraTS-style case folder (FLAIR + z-scored T1ce)": (
            {
                "flair": _volume(stripped_1mm[..., 1], ONE_MM),
                "t1ce": _volume(t1c_z.astype(np.float32), ONE_MM),
            },
            truth_1mm,
        ),
        "1 mm grid, skull-stripped": (
            nib.Nifti1Image(stripped_1mm.transpose(2, 1, 0, 3), ONE_MM),
            truth_1mm,
        ),
        "1 mm grid, skull-stripped, FLAIR alone": (
            _volume(stripped_1mm[..., 1], ONE_MM),
            truth_1mm,
        ),
    }
    same = {
        "three sequences (4D)": _nifti(images.astype(np.float32) * 9.1 + 30),
        "FLAIR alone": canonical,
        "FLAIR stored RAS": canonical.as_reoriented(np.array([[0, -1], [1, -1], [2, 1]], float)),
        "FLAIR stored sagittally": canonical.as_reoriented(
            np.array([[2, 1], [1, -1], [0, 1]], float)
        ),
        "FLAIR z-scored": _nifti(zscored.astype(np.float32)),
        "three sequences, skull-stripped": _nifti(stripped),
        "FLAIR alone, skull-stripped": _nifti(stripped[..., 1]),
    }
    return {name: (image, truth) for name, image in same.items()} | one_mm


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
    parser.add_argument("--only", nargs="*", help="run the variants whose names contain these")
    parser.add_argument("--framing", choices=["spacing", "extent"], help="override the model's")
    args = parser.parse_args()
    from brainseg.data.volumes import load_clean_volumes

    if args.framing:  # the same weights with another framing, as a bundle of its own
        from brainseg.models.files import load_model_file, save_bundle

        config, state, meta = load_model_file(args.model)
        data = config.data.model_copy(update={"framing": args.framing})
        config = config.model_copy(update={"data": data})
        args.model = str(save_bundle(config, state, meta, Path(args.out) / "framed.pt"))

    seen = set(json.loads(Path(args.exclude).read_text())["train"]) if args.exclude else set()
    names = sorted(p.name for p in Path(args.data).iterdir() if p.is_dir() and p.name not in seen)
    patients = load_clean_volumes(args.data, patients=names)
    out = Path(args.out)
    table: dict[str, list[float]] = {}
    # The variants' names, from one slice: that slice may hold no brain, whose z-score is
    # 0/0 (numpy's "invalid value" warning); the scored variants use whole volumes.
    with np.errstate(invalid="ignore", divide="ignore"):
        every = list(variants(patients[0].images[:1], patients[0].masks[:1]))
    chosen = [n for n in every if not args.only or any(o in n for o in args.only)]
    truths: dict[tuple[str, str], np.ndarray] = {}
    for patient in patients:  # write each patient's variants once
        for name, (image, truth) in variants(patient.images, patient.masks).items():
            if name in chosen:
                folder = out / "in" / f"v{every.index(name)}"
                if isinstance(image, dict):  # a case folder: <case>/<case>_<sequence>.nii.gz
                    folder = folder / patient.patient
                    files = {f"{patient.patient}_{seq}": im for seq, im in image.items()}
                else:
                    files = {patient.patient: image}
                folder.mkdir(parents=True, exist_ok=True)
                for stem, volume in files.items():
                    nib.save(volume, folder / f"{stem}.nii.gz")
                truths[name, patient.patient] = truth
    for name in chosen:
        folder = out / "in" / f"v{every.index(name)}"
        index = every.index(name)
        result = out / "pred" / f"v{index}"
        command = [*args.brainseg.split(), "predict", str(folder), "--out", str(result)]
        command += ["--model", args.model] if args.model else []
        subprocess.run(command, check=False, capture_output=True)
        scores = []
        for patient in patients:
            path = result / f"{patient.patient}_pred.nii.gz"
            truth = truths[name, patient.patient]
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
