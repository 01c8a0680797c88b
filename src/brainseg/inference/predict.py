"""``brainseg predict``: masks for new scans, with no ground truth needed.

Inputs are found and decoded by the I/O layer (``brainseg.io.inputs``). Outputs:
``<rel>/<stem>_pred.png`` per slice (uint8, 0 and 255, at the input's size), optionally
``<stem>_overlay.png``; ``<name>_pred.nii.gz`` for a volume or case, on its own grid, with
``<name>_seg.dcm`` (DICOM-SEG) for DICOM and ``<name>_prob.nii.gz`` with
``--save-probabilities``; and ``predictions.csv`` with one row per slice or case (QC, lesion
volume, model identity, timings). A bad input costs one stderr line; the others are still
processed. A defect in brainseg itself is reported as such, with its traceback in the log.
Cluster runs split the cases with ``--num-parts/--part-id`` and resume with
``--skip-existing`` (``brainseg.inference.batch``).
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

import numpy as np

from brainseg.errors import INTERNAL_ERROR, BrainsegError, NothingToDoError
from brainseg.fileio import csv_text, write_bytes, write_text
from brainseg.inference import outputs
from brainseg.inference.batch import Batch, kill_switch
from brainseg.inference.predictor import InferenceOptions, Predictor, Segmentation
from brainseg.io.inputs import case_item, find_inputs, read_item
from brainseg.io.readers import InputItem
from brainseg.io.volume import Volume
from brainseg.io.writers import probability_nifti_bytes

log = logging.getLogger("brainseg")

CSV_COLUMNS = [
    "input",
    "output",
    "kind",
    "slices",
    "lesion_pixels",
    "lesion_present",
    "lesion_mm3",
    "lesion_ml",
    # expected quality (brainseg.confidence), where the model carries a calibration
    "expected_dice",
    "review",
    "seconds",
    "model",
    "model_version",
    "model_sha256",
    # quality control (brainseg.preprocessing.quality)
    "sequences",
    "orientation",
    "acquisition",
    "resliced",
    "resampled",
    "spacing_mm",
    "frame_mm",
    "intensity",
    "warnings",
    "notes",
]


def _check_out(out: Path, inputs: list[str]) -> None:
    resolved = out.resolve()
    for raw in inputs:
        source = Path(raw).resolve()
        if source.is_dir() and resolved == source:
            raise BrainsegError(f"{out}: output folder is the input folder; choose another --out")
        if source.is_file() and resolved == source:
            raise BrainsegError(f"{out}: output folder is an input file")


class Runner:
    """Segments work items one by one and writes their outputs."""

    def __init__(
        self,
        predictor: Predictor,
        out: Path,
        overlay: bool,
        inputs: set[Path],
        probabilities: bool = False,
    ):
        self.predictor, self.out, self.overlay, self.inputs = predictor, out, overlay, inputs
        self.probabilities = probabilities

    def outputs(self, item: InputItem) -> list[Path]:
        """The files a finished item has (atomic writes: present means complete)."""
        folder = self.out / item.rel
        if item.kind == "image":
            return [folder / f"{f.stem}_pred.png" for f in item.files]
        paths = [folder / f"{item.name}_pred.nii.gz"]
        if item.kind == "dicom":
            paths.append(folder / f"{item.name}_seg.dcm")
        if self.probabilities:
            paths.append(folder / f"{item.name}_prob.nii.gz")
        return paths

    def _target(self, target: Path) -> Path:
        if target.resolve() in self.inputs:
            raise BrainsegError(f"output {target} would overwrite an input")
        return target

    def run(self, item: InputItem) -> list[dict]:
        start = time.perf_counter()
        volumes, problems = read_item(item)
        rows: list[dict] = []
        for file, reason in problems:
            print(f"{file}: {reason}", file=sys.stderr)
            rows.append({"input": file, "error": reason})
        for volume in volumes:
            result = self.predictor.analyse(volume, probabilities=self.probabilities)
            if result.qc["warnings"]:
                print(f"{volume.source}: warning: {result.qc['warnings']}", file=sys.stderr)
            if volume.geometry:
                row = self._write_volume(item, volume, result)
                if row.get("error"):  # one output failed; the others are written
                    print(f"{item.source}: {row['error']}", file=sys.stderr)
                rows.append(row)
            else:
                quality = expected(result) if len(result.masks) > 1 else {}
                slice_rows = self._write_slices(item, volume, result.masks)
                rows += [r | result.qc | quality for r in slice_rows]
        done = [r for r in rows if r.get("output")]
        slices = sum(r["slices"] for r in done)
        for r in done:
            r["seconds"] = round((time.perf_counter() - start) * r["slices"] / max(slices, 1), 4)
        return rows

    def _write_slices(self, item: InputItem, volume: Volume, masks: np.ndarray) -> list[dict]:
        rows = []
        folder = self.out / item.rel
        files = {f.stem: f for f in item.files}
        flair = self.predictor.preprocessor.slices(volume)[..., 1] if self.overlay else None
        for k, (name, mask) in enumerate(zip(volume.slice_names, masks, strict=True)):
            target = self._target(folder / f"{name}_pred.png")
            write_bytes(target, outputs.mask_png(mask))
            if flair is not None:
                write_bytes(folder / f"{name}_overlay.png", outputs.overlay_png(flair[k], mask))
            source = {"input": str(files.get(name, item.source)), "output": str(target)}
            rows.append(source | {"kind": "image"} | outputs.lesion_summary(mask[None], volume))
        return rows

    def _write_volume(self, item: InputItem, volume: Volume, result: Segmentation) -> dict:
        """The case's files, and its row (QC included). A DICOM-SEG that cannot be written
        is the row's error; the NIfTI mask is still written and reported."""
        masks = result.masks
        target = self._target(self.outputs(item)[0])
        write_bytes(target, outputs.nifti_mask(masks, volume))
        if result.probabilities is not None:
            prob = self._target(self.out / item.rel / f"{item.name}_prob.nii.gz")
            write_bytes(prob, probability_nifti_bytes(result.probabilities, volume))
        source = {"input": volume.source, "output": str(target), "kind": item.kind}
        row = result.qc | source | outputs.lesion_summary(masks, volume) | expected(result)
        if item.kind == "dicom":
            row |= self._write_seg(item, volume, masks, row["notes"])
        return row

    def _write_seg(self, item: InputItem, volume: Volume, masks: np.ndarray, notes: str) -> dict:
        """The DICOM-SEG: the row's notes with what its header needed, or the row's error."""
        seg = self._target(self.out / item.rel / f"{item.name}_seg.dcm")
        try:
            data, added = outputs.dicom_seg(masks, volume, self.predictor.describe())
            write_bytes(seg, data)
        except Exception as exc:  # the mask stands; say why its SEG does not
            log.exception("DICOM-SEG of %s failed", item.source)
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            return {"error": f"DICOM-SEG not written: {reason}"}
        return {"notes": outputs.joined_notes(notes, *added)}


def expected(result: Segmentation) -> dict:
    """A volume's ``expected_dice`` and ``review`` columns (empty without a calibration). The
    slices of one folder are one volume: each slice's row carries the volume's values."""
    return {key: result.quality.get(key, "") for key in ("expected_dice", "review")}


def _import_in_background(module: str) -> None:
    """Start importing ``module`` (scipy.ndimage takes a while) on a thread, so that it overlaps
    reading and inference instead of adding to them; a later import waits for it."""
    import importlib
    import threading

    threading.Thread(target=importlib.import_module, args=(module,), daemon=True).start()


def _rows_csv(rows: list[dict], header: bool = True) -> str:
    return csv_text(rows, CSV_COLUMNS + ["error"], header, significant=None)


def _append(path: Path, rows: list[dict]) -> None:
    """Progress: each finished case's rows go to the summary at once, so a killed job's
    summary keeps them for ``--skip-existing`` (a torn last line is dropped on reading)."""
    import os

    with open(path, "a", newline="") as f:
        f.write(_rows_csv(rows, header=False))
        f.flush()
        os.fsync(f.fileno())


def _work_items(inputs: list[str], case: dict | None, flair_series: str | None):
    """The work items of the command's inputs (and of a case named file by file); each
    problem and notice is one line on stderr as it is found."""
    notices: list = []
    items, problems = find_inputs(inputs, flair_series, notices)
    if case and case.get("flair"):
        item, bad = case_item(case["flair"], case.get("t1"), case.get("t1c"))
        items += [item] if item is not None else []
        problems += bad
    for path, reason in problems:
        print(f"{path}: {reason}", file=sys.stderr)
    for path, reason in notices:
        print(f"{path}: warning: {reason}", file=sys.stderr)
    return items, problems


def predict(
    inputs: list[str],
    out: str | Path,
    model: str | None = None,
    options: InferenceOptions | None = None,
    overlay: bool = False,
    case: dict[str, str | None] | None = None,
    batch: Batch | None = None,
    save_probabilities: bool = False,
    flair_series: str | None = None,
) -> int:
    """Run the whole command; return the exit code (2 if any input or output failed).
    ``options`` say how the model runs; ``case`` names the files of one case explicitly
    (``flair``, ``t1``, ``t1c``); ``batch`` selects this job's part of the cases and whether
    finished ones are skipped."""
    options = options or InferenceOptions()
    if options.postprocess != "none":
        _import_in_background("scipy.ndimage")
    out = Path(out)
    batch = batch or Batch()
    _check_out(out, inputs)
    items, problems = _work_items(inputs, case, flair_series)
    items = batch.part(items)
    if not items and not problems:
        print(f"{out}: part {batch.part_id} of {batch.num_parts} holds no cases")
        return 0
    if not items:
        raise NothingToDoError("no usable inputs")
    predictor = Predictor(model, options)
    identity = predictor.model_identity()
    input_files = {f.resolve() for item in items for f in item.files}
    runner = Runner(predictor, out, overlay, input_files, save_probabilities)
    summary = out / batch.csv_name
    rows, todo = batch.skip_finished(items, runner.outputs, summary)
    write_text(summary, _rows_csv(rows))  # the header and the cases kept from before
    rows += _run_all(runner, todo, identity, summary)
    write_text(summary, _rows_csv(rows))  # the whole summary, rewritten atomically
    return _final_line(out, summary, rows, len(problems), skipped=len(items) - len(todo))


def _run_all(runner: Runner, todo: list[InputItem], identity: dict, summary: Path) -> list[dict]:
    """Each case's rows, appended to the summary as it finishes. A bad input costs one
    line and the others go on; so does a defect of ours, with its traceback in the log."""
    rows: list[dict] = []
    iterator = todo
    if sys.stderr.isatty() and len(todo) > 1:
        from tqdm import tqdm

        iterator = tqdm(todo, desc="predict", unit="input")
    for done, item in enumerate(iterator):
        kill_switch(done)
        before = len(rows)
        try:
            rows += [row | identity for row in runner.run(item)]
        except BrainsegError as exc:  # the input's fault: one line, go on
            line = str(exc) if str(exc).startswith(str(item.source)) else f"{item.source}: {exc}"
            print(line, file=sys.stderr)
            rows.append({"input": str(item.source), "error": str(exc)})
        except Exception:  # our defect: say so, keep the traceback, go on with the others
            log.exception("predict failed on %s", item.source)
            print(f"{item.source}: {INTERNAL_ERROR}", file=sys.stderr)
            rows.append({"input": str(item.source), "error": INTERNAL_ERROR})
        _append(summary, rows[before:])
    return rows


def _final_line(out: Path, summary: Path, rows: list[dict], problems: int, skipped: int) -> int:
    """The command's last line, and its exit code: 2 if any input or output failed."""
    written = [r for r in rows if r.get("output")]
    failed = len([r for r in rows if not r.get("output")]) + problems
    outputs_failed = len([r for r in written if r.get("error")])
    print(
        f"{out}: {len(written)} prediction(s) written"
        + (f" ({skipped} case(s) already done, skipped)" if skipped else "")
        + (f", {outputs_failed} with an output not written" if outputs_failed else "")
        + f", {failed} input(s) failed; summary in {summary}"
    )
    return 2 if failed or outputs_failed else 0
