"""``brainseg predict``: masks for new scans, with no ground truth needed.

Outputs: ``<rel>/<stem>_pred.png`` (uint8, 0 and 255, at the input's size), optionally
``<stem>_overlay.png``, ``<name>_pred.nii.gz`` for NIfTI, and ``predictions.csv`` with one row
per input. A bad input costs one stderr line; the others are still processed.
"""

from __future__ import annotations

import csv
import io
import sys
import time
from pathlib import Path

import numpy as np

from brainseg.data.imageio import ImageReadError, as_rgb, read_image
from brainseg.errors import BrainsegError
from brainseg.fileio import write_bytes, write_text
from brainseg.inference.inputs import WorkItem, collect
from brainseg.inference.nifti import load_nifti, nifti_stem, save_mask_nifti, voxel_mm3
from brainseg.inference.predictor import Predictor

CSV_COLUMNS = [
    "input",
    "output",
    "kind",
    "slices",
    "lesion_pixels",
    "lesion_present",
    "lesion_mm3",
    "seconds",
]


def png_bytes(array: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def _check_out(out: Path, inputs: list[str]) -> None:
    resolved = out.resolve()
    for raw in inputs:
        source = Path(raw).resolve()
        if source.is_dir() and resolved == source:
            raise BrainsegError(f"{out}: output folder is the input folder; choose another --out")
        if source.is_file() and resolved == source:
            raise BrainsegError(f"{out}: output folder is an input file")


def _safe_target(target: Path, inputs: set[Path]) -> Path:
    if target.resolve() in inputs:
        raise ImageReadError(f"output {target} would overwrite an input")
    return target


class Runner:
    def __init__(self, predictor: Predictor, out: Path, overlay: bool, inputs: set[Path]):
        self.predictor, self.out, self.overlay, self.inputs = predictor, out, overlay, inputs

    def run(self, item: WorkItem) -> list[dict]:
        if item.kind == "nifti":
            return [self._nifti(item)]
        return self._slices(item)

    def _write_png(self, rel: Path, stem: str, image: np.ndarray, mask: np.ndarray) -> Path:
        target = _safe_target(self.out / rel / f"{stem}_pred.png", self.inputs)
        write_bytes(target, png_bytes(mask.astype(np.uint8) * 255))
        if self.overlay:
            from brainseg.report.figures import overlay

            over = overlay(image[..., 1], None, mask)
            write_bytes(self.out / rel / f"{stem}_overlay.png", png_bytes(over))
        return target

    def _slices(self, item: WorkItem) -> list[dict]:
        start = time.perf_counter()
        images, files, rows = [], [], []
        for file in item.files:
            try:
                images.append(as_rgb(read_image(file)))
                files.append(file)
            except ImageReadError as exc:
                print(f"{file}: {exc}", file=sys.stderr)
                rows.append({"input": str(file), "error": str(exc)})
        shapes = {img.shape for img in images}
        groups = (
            [list(range(len(images)))] if len(shapes) == 1 else [[i] for i in range(len(images))]
        )
        if item.kind == "image":
            groups = [[0]] if images else []
        for group in groups:
            volume = np.stack([images[i] for i in group])
            masks = self.predictor.segment_volume(volume)
            for i, mask in zip(group, masks, strict=True):
                target = self._write_png(item.rel, files[i].stem, images[i], mask)
                pixels = int(mask.sum())
                rows.append(
                    {
                        "input": str(files[i]),
                        "output": str(target),
                        "kind": "image",
                        "slices": 1,
                        "lesion_pixels": pixels,
                        "lesion_present": pixels > 0,
                        "lesion_mm3": "",
                        "seconds": 0.0,
                    }
                )
        elapsed = time.perf_counter() - start
        done = [r for r in rows if "error" not in r]
        for r in done:
            r["seconds"] = round(elapsed / max(len(done), 1), 4)
        return rows

    def _nifti(self, item: WorkItem) -> dict:
        start = time.perf_counter()
        try:
            slices, reference = load_nifti(item.source)
        except BrainsegError as exc:
            message = str(exc).split(": ", 1)[-1]
            print(f"{item.source}: {message}", file=sys.stderr)
            return {"input": str(item.source), "error": message}
        masks = self.predictor.segment_volume(slices)
        target = _safe_target(
            self.out / item.rel / f"{nifti_stem(item.source)}_pred.nii.gz", self.inputs
        )
        save_mask_nifti(masks, reference, target)
        voxels = int(masks.sum())
        mm3 = voxel_mm3(reference)
        return {
            "input": str(item.source),
            "output": str(target),
            "kind": "nifti",
            "slices": len(masks),
            "lesion_pixels": voxels,
            "lesion_present": voxels > 0,
            "lesion_mm3": round(voxels * mm3, 3) if mm3 else "",
            "seconds": round(time.perf_counter() - start, 4),
        }


def _import_in_background(module: str) -> None:
    """Start importing ``module`` (0.4 s for scipy.ndimage) on a thread, so that it overlaps
    reading and inference instead of adding to them; a later import waits for it."""
    import importlib
    import threading

    threading.Thread(target=importlib.import_module, args=(module,), daemon=True).start()


def predict(
    inputs: list[str],
    out: str | Path,
    model: str | None = None,
    engine: str = "auto",
    tta: bool | None = None,
    postprocess: str | None = None,
    threshold: float | None = None,
    batch_size: int = 32,
    device: str = "cpu",
    overlay: bool = False,
) -> int:
    """Run the whole command; return the exit code (2 if any input failed)."""
    if postprocess != "none":
        _import_in_background("scipy.ndimage")
    out = Path(out)
    _check_out(out, inputs)
    items, problems = collect(inputs)
    for path, reason in problems:
        print(f"{path}: {reason}", file=sys.stderr)
    if not items:
        raise BrainsegError("no usable inputs")
    predictor = Predictor(
        model,
        engine=engine,
        tta=tta,
        batch_size=batch_size,
        device=device,
        threshold=threshold,
        postprocess=postprocess,
    )
    input_files = {f.resolve() for item in items for f in item.files}
    runner = Runner(predictor, out, overlay, input_files)
    rows = []
    iterator = items
    if sys.stderr.isatty() and len(items) > 1:
        from tqdm import tqdm

        iterator = tqdm(items, desc="predict", unit="input")
    for item in iterator:
        try:
            rows += runner.run(item)
        except (BrainsegError, ImageReadError) as exc:
            print(f"{item.source}: {exc}", file=sys.stderr)
            rows.append({"input": str(item.source), "error": str(exc)})
        except Exception as exc:  # one bad input never stops the others
            message = f"could not be segmented ({type(exc).__name__}: {exc})"
            print(f"{item.source}: {message}", file=sys.stderr)
            rows.append({"input": str(item.source), "error": message})
    good = [r for r in rows if "error" not in r]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS + ["error"], extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    write_text(out / "predictions.csv", buffer.getvalue())
    failed = len(rows) - len(good) + len(problems)
    print(
        f"{out}: {len(good)} prediction(s) written, {failed} input(s) failed; "
        f"summary in {out / 'predictions.csv'}"
    )
    return 2 if failed else 0
