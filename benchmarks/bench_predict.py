"""Inference per patient: a whole ``brainseg predict`` process against a plain script.

The plain script (written below, on purpose plain) loads the same checkpoint into the U-Net,
reads each slice with Pillow, divides by 255 and runs one slice at a time, eager fp32, at
256x256 as the reference implementation does. Both run as whole processes over the same
three real patients; the median of several runs is reported, with peak RSS.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from common import BRAINSEG, ROOT, median_of, need_real_data, run_measured, save

PLAIN = r"""
import sys, time
from pathlib import Path
import numpy as np, torch
from PIL import Image
from brainseg.models.files import load_network
model, _, _ = load_network(sys.argv[1] if sys.argv[1] != "-" else None)
out = Path(sys.argv[2])
for folder in sys.argv[3:]:
    for path in sorted(Path(folder).glob("*.tif")):
        if path.stem.endswith("_mask"):
            continue
        x = torch.from_numpy(np.asarray(Image.open(path), np.float32) / 255).permute(2, 0, 1)[None]
        with torch.no_grad():
            mask = (torch.sigmoid(model(x))[0, 0] > 0.5).numpy()
        Image.fromarray(mask.astype(np.uint8) * 255).save(out / f"{path.stem}_pred.png")
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="-", help="model file (default: the shipped one)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    data = need_real_data()
    patients = [str(p) for p in sorted(data.iterdir()) if p.is_dir()][:3]
    slices = sum(len(list(Path(p).glob("*_mask.tif"))) for p in patients)
    model_args = [] if args.model == "-" else ["--model", args.model]
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "plain.py"
        script.write_text(PLAIN)
        onnx = Path(tmp) / "model.onnx"
        run_measured(BRAINSEG + ["export", "--onnx", str(onnx)] + model_args)
        run_measured(BRAINSEG + ["predict", patients[0], "--out", f"{tmp}/warm"] + model_args)
        commands = {
            "plain_script": [sys.executable, str(script), args.model, tmp, *patients],
            "brainseg_torch": BRAINSEG
            + ["predict", *patients, "--out", f"{tmp}/t", "--engine", "torch"]
            + model_args,
            "brainseg_onnx": BRAINSEG
            + ["predict", *patients, "--out", f"{tmp}/o", "--model", str(onnx), "--engine", "onnx"],
            # the default path: for the shipped model its INT8 ONNX file (engine auto)
            "brainseg_default": BRAINSEG + ["predict", *patients, "--out", f"{tmp}/q"] + model_args,
        }
        for name, command in commands.items():
            runs = [run_measured(command) for _ in range(args.repeat)]
            results[name] = {
                "seconds": round(median_of([r[0] for r in runs]), 2),
                "per_patient_s": round(median_of([r[0] for r in runs]) / 3, 2),
                "peak_rss_mib": round(max(r[1] for r in runs)),
            }
    base = results["plain_script"]["seconds"]
    for name in ("brainseg_torch", "brainseg_onnx", "brainseg_default"):
        results[name]["speedup_vs_plain"] = round(base / results[name]["seconds"], 2)
    save("predict", {"patients": 3, "slices": slices, **results})


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "benchmarks"))
    main()
