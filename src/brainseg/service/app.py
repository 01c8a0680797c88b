"""The FastAPI app: health, slice and volume segmentation, examples and the viewer page.

The model is loaded once (lifespan). CPU-bound work (decoding, inference, encoding) runs in
worker threads, capped at ``workers`` at a time, so the event loop stays responsive. Inputs
are read by the same readers and follow the same rules as ``brainseg predict``. A problem
with the upload is a 4xx with ``{"detail": "..."}``; anything else is a defect: a 500, and
its traceback goes to the log. Every response is described in ``/openapi.json``.
"""

from __future__ import annotations

import base64
import io
import logging
import time
import zipfile
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import numpy as np
from fastapi import FastAPI, File, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response

from brainseg import __version__
from brainseg.errors import BrainsegError
from brainseg.io.volume import Volume
from brainseg.io.writers import mask_nifti_bytes, mask_png_bytes, png_bytes
from brainseg.service.schema import (
    PNG,
    UPLOAD_ERRORS,
    VOLUME_FILES,
    errors,
    require_non_empty_files,
    validation_message,
)
from brainseg.service.uploads import UploadError, decode_case, decode_image, decode_volume

STATIC = Path(__file__).resolve().parent / "static"
EXAMPLES = 4
log = logging.getLogger("brainseg.service")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _joined(*notes: str) -> str:
    """QC notes as one field, as ``predictions.csv`` writes them."""
    return "; ".join(n for n in notes if n)


def _example_slice(index: int) -> np.ndarray:
    """A deterministic synthetic slice with a lesion (the viewer's bundled examples)."""
    from brainseg.phantom import synth_patient

    rng = np.random.default_rng(1000 + index)
    images, masks = synth_patient(rng, 9, 256)
    k = int(np.argmax(masks.reshape(9, -1).sum(1)))
    return images[k]


def create_app(
    model: str | None = None, max_upload_mb: float = 64.0, workers: int = 1, predictor: Any = None
) -> FastAPI:
    max_bytes = int(max_upload_mb * 1024 * 1024)
    limiter = anyio.CapacityLimiter(max(1, workers))
    state: dict[str, Any] = {"predictor": predictor}

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if state["predictor"] is None:
            from brainseg.inference.predictor import Predictor

            state["predictor"] = Predictor(model)
        yield

    app = FastAPI(
        title="brainseg",
        version=__version__,
        lifespan=lifespan,
        description="Segment lower-grade glioma FLAIR abnormalities in brain MRI.",
    )

    @app.middleware("http")
    async def limit_upload_size(request: Request, call_next):
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > max_bytes + 64 * 1024:
            return JSONResponse({"detail": f"upload exceeds {max_upload_mb:g} MB"}, 413)
        return await call_next(request)

    @app.exception_handler(UploadError)
    async def upload_error(request: Request, exc: UploadError):
        return JSONResponse({"detail": str(exc)}, status_code=exc.status)

    @app.exception_handler(BrainsegError)
    async def input_error(request: Request, exc: BrainsegError):
        return JSONResponse({"detail": str(exc)}, status_code=422)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError):
        return JSONResponse({"detail": validation_message(exc)}, status_code=422)

    @app.exception_handler(Exception)
    async def defect(request: Request, exc: Exception):
        log.error("internal error on %s %s", request.method, request.url.path, exc_info=exc)
        return JSONResponse({"detail": "internal error; it has been logged"}, 500)

    async def read_upload(file: UploadFile) -> bytes:
        data = await file.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise UploadError(f"upload exceeds {max_upload_mb:g} MB", status=413)
        if not data:
            raise UploadError("empty upload")
        return data

    def flair_slices(volume: Volume) -> np.ndarray:
        return state["predictor"].preprocessor.slices(volume)[..., 1]

    def segment_slice(data: bytes) -> dict[str, Any]:
        from brainseg.io.writers import overlay

        start = time.perf_counter()
        volume = decode_image(data)
        mask = state["predictor"].segment(volume)[0]
        flair = flair_slices(volume)[0]
        pixels = int(mask.sum())
        return {
            "lesion_present": pixels > 0,
            "lesion_pixels": pixels,
            "area_fraction": pixels / mask.size,
            "width": int(mask.shape[1]),
            "height": int(mask.shape[0]),
            "mask_png": mask_png_bytes(mask),
            "overlay_png": png_bytes(overlay(flair, None, mask)),
            "image_png": png_bytes(flair),
            "timing_ms": round((time.perf_counter() - start) * 1000, 1),
        }

    @app.get("/health")
    async def health() -> dict[str, Any]:
        info = state["predictor"].describe() if state["predictor"] else {}
        return {
            "status": "ok",
            "model": info.get("name"),
            "model_version": info.get("version"),
            "brainseg_version": __version__,
            "device": "cpu",
            "engine": info.get("engine"),
        }

    @app.post(
        "/v1/segment",
        summary="Segment one slice (tif, png or jpg; RGB or FLAIR)",
        responses={200: PNG, **UPLOAD_ERRORS},
    )
    async def segment(
        file: UploadFile = File(..., description="the slice (not empty)"),
        format: str = Query("json", pattern="^(json|png)$"),
    ) -> dict[str, Any]:
        data = await read_upload(file)
        result = await anyio.to_thread.run_sync(segment_slice, data, limiter=limiter)
        if format == "png":
            return Response(
                result["mask_png"],
                media_type="image/png",
                headers={"X-Lesion-Pixels": str(result["lesion_pixels"])},
            )
        for key in ("mask_png", "overlay_png", "image_png"):
            result[key] = _b64(result[key])
        return result

    def segment_volume(data: bytes, answer: str) -> tuple[dict[str, Any], bytes, str]:
        start = time.perf_counter()
        volumes, problems = decode_volume(data)
        return segment_volumes(volumes, problems, answer, start)

    def segment_case(uploads: list[tuple[str, bytes]], answer: str):
        start = time.perf_counter()
        return segment_volumes([decode_case(uploads)], [], answer, start)

    def segment_volumes(
        volumes: list[Volume], problems: list, answer: str, start: float
    ) -> tuple[dict[str, Any], bytes, str]:
        if answer == "dicom-seg" and not volumes[0].slice_files:
            raise UploadError("format=dicom-seg needs a DICOM upload (a zipped series)")
        results = [state["predictor"].analyse(volume) for volume in volumes]
        masks = [result.masks for result in results]
        voxels = sum(int(m.sum()) for m in masks)
        nifti = volumes[0].geometry
        mm3 = volumes[0].voxel_mm3
        dicom = bool(volumes[0].slice_files)
        summary = {
            "kind": "dicom" if dicom else "nifti" if nifti else "zip",
            "slices": sum(len(m) for m in masks),
            "lesion_voxels": voxels,
            "lesion_present": voxels > 0,
            "lesion_mm3": round(voxels * mm3, 3) if mm3 else None,
            "per_slice_pixels": [int(s.sum()) for m in masks for s in m],
            "problems": [f"{name}: {reason}" for name, reason in problems],
            "qc": results[0].qc,
            "timing_ms": round((time.perf_counter() - start) * 1000, 1),
        }
        if answer == "dicom-seg":
            from brainseg.io.dicom_seg import dicom_seg_bytes

            seg, notes = dicom_seg_bytes(
                masks[0], volumes[0].slice_files, state["predictor"].describe()
            )
            summary["qc"] = summary["qc"] | {"notes": _joined(summary["qc"]["notes"], *notes)}
            return summary, seg, "application/dicom"
        if answer == "json":
            summary["images_png"] = [
                _b64(png_bytes(s)) for volume in volumes for s in flair_slices(volume)
            ]
            summary["masks_png"] = [_b64(mask_png_bytes(s)) for m in masks for s in m]
            return summary, b"", ""
        if nifti or dicom:
            return summary, mask_nifti_bytes(masks[0], volumes[0]), "application/gzip"
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for volume, volume_masks in zip(volumes, masks, strict=True):
                for name, mask in zip(volume.slice_names, volume_masks, strict=True):
                    archive.writestr(f"{name}_pred.png", mask_png_bytes(mask))
        return summary, buffer.getvalue(), "application/zip"

    @app.post(
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
    ) -> dict[str, Any]:
        data = await read_upload(file)
        summary, payload, media = await anyio.to_thread.run_sync(
            segment_volume, data, format, limiter=limiter
        )
        return volume_response(summary, payload, media, format)

    @app.post(
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
    ) -> dict[str, Any]:
        uploads = [(upload.filename or "", await read_upload(upload)) for upload in files]
        if sum(len(data) for _, data in uploads) > max_bytes:
            raise UploadError(f"upload exceeds {max_upload_mb:g} MB", status=413)
        summary, payload, media = await anyio.to_thread.run_sync(
            segment_case, uploads, format, limiter=limiter
        )
        return volume_response(summary, payload, media, format)

    def volume_response(summary: dict[str, Any], payload: bytes, media: str, format: str):
        if format == "json":
            return summary
        headers = {
            "X-Lesion-Voxels": str(summary["lesion_voxels"]),
            "X-Lesion-Present": str(summary["lesion_present"]).lower(),
            "X-Slices": str(summary["slices"]),
            "X-Lesion-mm3": "" if summary["lesion_mm3"] is None else str(summary["lesion_mm3"]),
            "X-Problems": str(len(summary["problems"])),
            "Content-Disposition": "attachment; filename="
            + {"application/gzip": "mask.nii.gz", "application/dicom": "seg.dcm"}.get(
                media, "masks.zip"
            ),
        }
        return Response(payload, media_type=media, headers=headers)

    @app.get("/v1/examples")
    async def examples() -> dict[str, Any]:
        return {"examples": [f"/v1/examples/{i}.png" for i in range(EXAMPLES)]}

    @app.get(
        "/v1/examples/{index}.png",
        responses={200: PNG, **errors(404, 422)},
        response_class=Response,
    )
    async def example(index: int):
        if not 0 <= index < EXAMPLES:
            raise UploadError("no such example", status=404)
        data = await anyio.to_thread.run_sync(lambda: png_bytes(_example_slice(index)))
        return Response(data, media_type="image/png")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def viewer() -> HTMLResponse:
        return HTMLResponse((STATIC / "index.html").read_text())

    require_non_empty_files(app)
    return app
