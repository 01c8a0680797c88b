"""Predict with a K-member ensemble against the single shipped model, same run, same patients.

K copies of the shipped bundle, each member's weights perturbed a little (identical members
would be folded into one by the ONNX tooling), make a logit-averaging ensemble, exported to
INT8 ONNX like the shipped model (``brainseg export --int8``, calibrated on training
patients), then whole ``brainseg predict`` processes over the same real patients (those
nearest to the dataset's typical 36 slices) alternate between the two. ``--bundle FILE``
measures a given ensemble (such as the 128 + 256 px pair) instead of the copies. Reports seconds
per patient and the ratio; whether an ensemble of the fold models may be shipped depends on
it staying at or under 1 s per patient (about 36 slices).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from common import BRAINSEG, ROOT, median_of, need_real_data, run_measured, save


def perturbed_copies(bundle: Path, count: int, folder: Path) -> list[Path]:
    """``count`` bundles with the weights of ``bundle`` times (1 + 1e-3 noise)."""
    import torch

    from brainseg.models.files import load_model_file, save_bundle

    config, state, meta = load_model_file(bundle)
    paths = []
    for i in range(count):
        generator = torch.Generator().manual_seed(i)
        noisy = {
            k: v * (1 + 1e-3 * torch.randn(v.shape, generator=generator)).to(v.dtype)
            if v.is_floating_point()
            else v
            for k, v in state.items()
        }
        paths.append(folder / f"member{i}.pt")
        save_bundle(config, noisy, meta, paths[-1])
    return paths


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=5)
    parser.add_argument("--patients", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--bundle",
        type=Path,
        help="an ensemble bundle to measure (e.g. fold models of two recipes) instead of "
        "--members perturbed copies of the shipped model",
    )
    args = parser.parse_args()
    data = need_real_data()
    counts = {p: len(list(p.glob("*_mask.tif"))) for p in sorted(data.iterdir()) if p.is_dir()}
    folders = sorted(counts, key=lambda p: (abs(counts[p] - 36), p.name))[: args.patients]
    slices = sum(len(list(p.glob("*_mask.tif"))) for p in folders)
    shipped = ROOT / "src" / "brainseg" / "weights" / "brainseg_lgg.pt"
    split = ROOT / "splits" / "lgg_seed42_final.json"
    results: dict[str, list[float]] = {"single_int8": [], "ensemble_int8": []}
    with tempfile.TemporaryDirectory() as tmp:
        ensemble, onnx = Path(tmp) / "ensemble.pt", Path(tmp) / "ensemble.int8.onnx"
        if args.bundle:
            ensemble = args.bundle
        else:
            members = perturbed_copies(shipped, args.members, Path(tmp))
            run_measured(BRAINSEG + ["bundle", *map(str, members), "--out", str(ensemble)])
        run_measured(
            BRAINSEG
            + ["export", "--onnx", str(onnx), "--int8", "--model", str(ensemble)]
            + ["--data", str(data), "--split", str(split)]
        )
        commands = {
            "single_int8": BRAINSEG + ["predict", *map(str, folders), "--out", f"{tmp}/s"],
            "ensemble_int8": BRAINSEG
            + ["predict", *map(str, folders), "--out", f"{tmp}/e", "--model", str(onnx)],
        }
        for command in commands.values():  # warm the page cache and the ONNX session files
            run_measured(command)
        for _ in range(args.repeat):
            for name, command in commands.items():
                results[name].append(run_measured(command)[0])
        size_mb = onnx.stat().st_size / 1e6
    single, many = median_of(results["single_int8"]), median_of(results["ensemble_int8"])
    save(
        "ensemble",
        {
            "patients": len(folders),
            "slices": slices,
            "members": str(args.bundle) if args.bundle else args.members,
            "single_int8_per_patient_s": round(single / len(folders), 3),
            "ensemble_int8_per_patient_s": round(many / len(folders), 3),
            "ratio": round(many / single, 2),
            "ensemble_int8_onnx_mb": round(size_mb, 1),
        },
    )


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "benchmarks"))
    main()
