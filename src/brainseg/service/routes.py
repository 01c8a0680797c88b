"""The service's endpoints, as one FastAPI ``APIRouter``. What they share (the predictor,
the upload limit, the worker-thread limiter) is the app's ``app.state.service``, given to
each endpoint by ``Depends(service)``. CPU-bound work (decoding, inference, encoding) runs in
worker threads, capped at the configured number at a time, so the event loop stays
responsive. Inputs follow the rules of ``brainseg predict``; the answers are built by
``brainseg.inference.outputs``, as predict's files are."""

from __future__ import annotations

import base64
import io
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import numpy as np
from fastapi import APIRouter, Depends, File, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from brainseg import __version__
from brainseg.inference import outputs
from brainseg.io.volume import Volume
from brainseg.io.writers import png_bytes
from brainseg.service.schema import PNG, UPLOAD_ERRORS, VOLUME_FILES, errors
from brainseg.service.uploads import UploadError, decode_case, decode_image, decode_volume

STATIC = Path(__file__).resolve().parent / "static"
EXAMPLES = 4
router = APIRouter()


@dataclass
class Service:
    """What every endpoint shares: the model, the upload limit and the worker limiter."""

    predictor: Any
    max_upload_mb: float
    limiter: anyio.CapacityLimiter

    @property
    def max_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)

    async def run(self, function, *args):
        """``function(*args)`` in a worker thread, at most ``workers`` at a time."""
        return await anyio.to_thread.run_sync(function, *args, limiter=self.limiter)

    async def read(self, file: UploadFile) -> bytes:
        data = await file.read(self.max_bytes + 1)
        if len(data) > self.max_bytes:
            raise UploadError(f"upload exceeds {self.max_upload_mb:g} MB", status=413)
        if not data:
            raise UploadError("empty upload")
        return data


def service(request: Request) -> Service:
    return request.app.state.service


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _example_slice(index: int) -> np.ndarray:
    """A deterministic synthetic slice with a lesion (the viewer's bundled examples)."""
    from brainseg.phantom import synth_patient

    rng = np.random.default_rng(1000 + index)
    images, masks = synth_patient(rng, 9, 256)
    k = int(np.argmax(masks.reshape(9, -1).sum(1)))
    return images[k]


def _flair_slices(predictor, volume: Volume) -> np.ndarray:
    return predictor.preprocessor.slices(volume)[..., 1]


def segment_slice(predictor, data: bytes) -> dict[str, Any]:
    """One slice: its mask, overlay and FLAIR as PNG, and the lesion's size."""
    start = time.perf_counter()
    volume = decode_image(data)
    mask = predictor.segment(volume)[0]
    flair = _flair_slices(predictor, volume)[0]
    pixels = int(mask.sum())
    return {
        "lesion_present": pixels > 0,
        "lesion_pixels": pixels,
        "area_fraction": pixels / mask.size,
        "width": int(mask.shape[1]),
        "height": int(mask.shape[0]),
        "mask_png": outputs.mask_png(mask),
        "overlay_png": outputs.overlay_png(flair, mask),
        "image_png": png_bytes(flair),
        "timing_ms": round((time.perf_counter() - start) * 1000, 1),
    }


def _summary(first: Volume, masks: list, qc: dict, problems: list, quality: dict) -> dict[str, Any]:
    """The JSON summary of segmented volumes: kind, size of the lesion, expected quality
    (null without a calibration), problems, QC."""
    lesion = outputs.lesion_summary(masks, first)
    kind = "dicom" if first.slice_files else "nifti" if first.geometry else "zip"
    return {
        "kind": kind,
        "slices": lesion["slices"],
        "lesion_voxels": lesion["lesion_pixels"],
        "lesion_present": lesion["lesion_present"],
        "lesion_mm3": lesion["lesion_mm3"] if lesion["lesion_mm3"] != "" else None,
        "per_slice_pixels": [int(s.sum()) for m in masks for s in m],
        "expected_dice": quality.get("expected_dice") if quality.get("review") != "" else None,
        "review": quality.get("review") if quality.get("review") != "" else None,
        "problems": [f"{name}: {reason}" for name, reason in problems],
        "qc": qc,
    }


def segment_volumes(
    predictor, volumes: list[Volume], problems: list, answer: str, start: float
) -> tuple[dict[str, Any], bytes, str]:
    """The volumes' summary (QC included), and the answer's bytes and media type."""
    first = volumes[0]
    if answer == "dicom-seg" and not first.slice_files:
        raise UploadError("format=dicom-seg needs a DICOM upload (a zipped series)")
    results = [predictor.analyse(volume) for volume in volumes]
    masks = [result.masks for result in results]
    quality = results[0].quality if len(masks[0]) > 1 or first.geometry else {}
    summary = _summary(first, masks, results[0].qc, problems, quality)
    summary["timing_ms"] = round((time.perf_counter() - start) * 1000, 1)
    if answer == "dicom-seg":
        seg, notes = outputs.dicom_seg(masks[0], first, predictor.describe())
        summary["qc"] = summary["qc"] | {
            "notes": outputs.joined_notes(summary["qc"]["notes"], *notes)
        }
        return summary, seg, "application/dicom"
    if answer == "json":
        flair = [_flair_slices(predictor, volume) for volume in volumes]
        summary["images_png"] = [_b64(png_bytes(s)) for slices in flair for s in slices]
        summary["masks_png"] = [_b64(outputs.mask_png(s)) for m in masks for s in m]
        return summary, b"", ""
    if first.geometry:
        return summary, outputs.nifti_mask(masks[0], first), "application/gzip"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for volume, volume_masks in zip(volumes, masks, strict=True):
            for name, mask in zip(volume.slice_names, volume_masks, strict=True):
                archive.writestr(f"{name}_pred.png", outputs.mask_png(mask))
    return summary, buffer.getvalue(), "application/zip"


def _volume_response(summary: dict[str, Any], payload: bytes, media: str, answer: str):
    if answer == "json":
        return summary
    name = {"application/gzip": "mask.nii.gz", "application/dicom": "seg.dcm"}.get(
        media, "masks.zip"
    )
    headers = {
        "X-Lesion-Voxels": str(summary["lesion_voxels"]),
        "X-Lesion-Present": str(summary["lesion_present"]).lower(),
        "X-Slices": str(summary["slices"]),
        "X-Expected-Dice": ""
        if summary["expected_dice"] is None
        else str(summary["expected_dice"]),
        "X-Review": "" if summary["review"] is None else str(summary["review"]).lower(),
        "X-Lesion-mm3": "" if summary["lesion_mm3"] is None else str(summary["lesion_mm3"]),
        "X-Problems": str(len(summary["problems"])),
        "Content-Disposition": f"attachment; filename={name}",
    }
    return Response(payload, media_type=media, headers=headers)


@router.get("/health")
async def health(state: Service = Depends(service)) -> dict[str, Any]:
    info = state.predictor.describe() if state.predictor else {}
    return {
        "status": "ok",
        "model": info.get("name"),
        "model_version": info.get("version"),
        "brainseg_version": __version__,
        "device": "cpu",
        "engine": info.get("engine"),
    }


@router.post(
    "/v1/segment",
    summary="Segment one slice (tif, png or jpg; RGB or FLAIR)",
    responses={200: PNG, **UPLOAD_ERRORS},
)
async def segment(
    file: UploadFile = File(..., description="the slice (not empty)"),
    format: str = Query("json", pattern="^(json|png)$"),
    state: Service = Depends(service),
) -> dict[str, Any]:
    data = await state.read(file)
    result = await state.run(segment_slice, state.predictor, data)
    if format == "png":
        headers = {"X-Lesion-Pixels": str(result["lesion_pixels"])}
        return Response(result["mask_png"], media_type="image/png", headers=headers)
    for key in ("mask_png", "overlay_png", "image_png"):
        result[key] = _b64(result[key])
    return result


def _segment_upload(predictor, data: bytes, answer: str):
    start = time.perf_counter()
    volumes, problems = decode_volume(data)
    return segment_volumes(predictor, volumes, problems, answer, start)


def _segment_case(predictor, uploads: list[tuple[str, bytes]], answer: str):
    start = time.perf_counter()
    return segment_volumes(predictor, [decode_case(uploads)], [], answer, start)


@router.post(
    "/v1/segment/volume",
    summary="Segment a NIfTI volume, a zipped DICOM series or a zip of one patient's "
    "slices; format=dicom-seg answers a DICOM upload with a DICOM-SEG",
    responses={200: VOLUME_FILES, **UPLOAD_ERRORS},
)
async def volume(
    file: UploadFile = File(
        ..., description="NIfTI, zipped DICOM series or zip of slices (not empty)"
    ),
    format: str = Query("file", pattern="^(file|json|dicom-seg)$"),
    state: Service = Depends(service),
) -> dict[str, Any]:
    data = await state.read(file)
    answer = await state.run(_segment_upload, state.predictor, data, format)
    return _volume_response(*answer, format)


@router.post(
    "/v1/segment/case",
    summary="Segment one case: NIfTI files named by sequence (FLAIR required), any orientation",
    responses={200: VOLUME_FILES, **UPLOAD_ERRORS},
)
async def case(
    files: list[UploadFile] = File(
        ...,
        description="the case's NIfTI files, named like predict's case folders: *_flair "
        "(required; a lone unnamed file is taken as the FLAIR), *_t1, *_t1ce; labels "
        "and other sequences are skipped",
    ),
    format: str = Query("file", pattern="^(file|json)$"),
    state: Service = Depends(service),
) -> dict[str, Any]:
    uploads = [(upload.filename or "", await state.read(upload)) for upload in files]
    if sum(len(data) for _, data in uploads) > state.max_bytes:
        raise UploadError(f"upload exceeds {state.max_upload_mb:g} MB", status=413)
    answer = await state.run(_segment_case, state.predictor, uploads, format)
    return _volume_response(*answer, format)


@router.get("/v1/examples")
async def examples() -> dict[str, Any]:
    return {"examples": [f"/v1/examples/{i}.png" for i in range(EXAMPLES)]}


@router.get(
    "/v1/examples/{index}.png",
    responses={200: PNG, **errors(404, 422)},
    response_class=Response,
)
async def example(index: int):
    if not 0 <= index < EXAMPLES:
        raise UploadError("no such example", status=404)
    data = await anyio.to_thread.run_sync(lambda: png_bytes(_example_slice(index)))
    return Response(data, media_type="image/png")


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def viewer() -> HTMLResponse:
    return HTMLResponse((STATIC / "index.html").read_text())
