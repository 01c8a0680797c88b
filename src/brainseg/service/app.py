"""The FastAPI app: health, slice and volume segmentation, examples and the viewer page.

The model is loaded once (lifespan). CPU-bound work (decoding, inference, encoding) runs in
worker threads, capped at ``workers`` at a time, so the event loop stays responsive. Every
failure is a 4xx with ``{"detail": ...}``; nothing is written outside a private temp folder.
"""

from __future__ import annotations

import base64
import io
import time
import zipfile
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import numpy as np
from fastapi import FastAPI, File, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, Response

from brainseg import __version__
from brainseg.inference.nifti import mask_nifti_bytes
from brainseg.service.uploads import UploadError, decode_image, decode_nifti, decode_zip, sniff

STATIC = Path(__file__).resolve().parent / "static"
EXAMPLES = 4


def _png(array: np.ndarray) -> bytes:
    from brainseg.inference.predict import png_bytes

    return png_bytes(array)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _example_slice(index: int) -> np.ndarray:
    """A deterministic synthetic slice with a lesion (the viewer's bundled examples)."""
    from brainseg.data.synthetic import synth_patient

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

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception):  # last resort, no traceback out
        return JSONResponse({"detail": "internal error while processing the request"}, 500)

    async def read_upload(file: UploadFile) -> bytes:
        data = await file.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise UploadError(f"upload exceeds {max_upload_mb:g} MB", status=413)
        if not data:
            raise UploadError("empty upload")
        return data

    def _run_model(slices: np.ndarray) -> np.ndarray:
        try:
            return state["predictor"].segment_volume(slices)
        except Exception as exc:  # e.g. shapes the model cannot take: the input's fault
            raise UploadError(f"image could not be segmented ({type(exc).__name__})") from None

    def segment_slice(data: bytes) -> dict[str, Any]:
        from brainseg.report.figures import overlay

        start = time.perf_counter()
        image = decode_image(data)
        mask = _run_model(image[None])[0]
        pixels = int(mask.sum())
        mask_png = _png(mask.astype(np.uint8) * 255)
        return {
            "lesion_present": pixels > 0,
            "lesion_pixels": pixels,
            "area_fraction": pixels / mask.size,
            "width": int(mask.shape[1]),
            "height": int(mask.shape[0]),
            "mask_png": mask_png,
            "overlay_png": _png(overlay(image[..., 1], None, mask)),
            "image_png": _png(image[..., 1]),
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

    @app.post("/v1/segment", summary="Segment one slice (tif, png or jpg; RGB or FLAIR)")
    async def segment(
        file: UploadFile = File(...), format: str = Query("json", pattern="^(json|png)$")
    ):
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

    def segment_volume(data: bytes, want_json: bool) -> tuple[dict[str, Any], bytes, str]:
        kind = sniff(data)
        start = time.perf_counter()
        if kind in ("nii", "nii.gz"):
            slices, reference = decode_nifti(data)
            names = [f"slice_{k + 1}" for k in range(len(slices))]
        elif kind == "zip":
            names, slices = decode_zip(data)
            reference = None
        else:
            raise UploadError("expected a NIfTI volume (.nii, .nii.gz) or a zip of slices", 415)
        masks = _run_model(slices)
        voxels = int(masks.sum())
        from brainseg.inference.nifti import voxel_mm3

        mm3 = voxel_mm3(reference) if reference is not None else None
        summary = {
            "kind": "nifti" if reference is not None else "zip",
            "slices": len(masks),
            "lesion_voxels": voxels,
            "lesion_present": voxels > 0,
            "lesion_mm3": round(voxels * mm3, 3) if mm3 else None,
            "per_slice_pixels": [int(m.sum()) for m in masks],
            "timing_ms": round((time.perf_counter() - start) * 1000, 1),
        }
        if want_json:
            summary["images_png"] = [_b64(_png(s[..., 1])) for s in slices]
            summary["masks_png"] = [_b64(_png(m.astype(np.uint8) * 255)) for m in masks]
            return summary, b"", ""
        if reference is not None:
            return summary, mask_nifti_bytes(masks, reference), "application/gzip"
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, mask in zip(names, masks, strict=True):
                archive.writestr(f"{name}_pred.png", _png(mask.astype(np.uint8) * 255))
        return summary, buffer.getvalue(), "application/zip"

    @app.post(
        "/v1/segment/volume", summary="Segment a NIfTI volume or a zip of one patient's slices"
    )
    async def volume(
        file: UploadFile = File(...), format: str = Query("file", pattern="^(file|json)$")
    ):
        data = await read_upload(file)
        summary, payload, media = await anyio.to_thread.run_sync(
            segment_volume, data, format == "json", limiter=limiter
        )
        if format == "json":
            return summary
        headers = {
            "X-Lesion-Voxels": str(summary["lesion_voxels"]),
            "X-Lesion-Present": str(summary["lesion_present"]).lower(),
            "X-Slices": str(summary["slices"]),
            "X-Lesion-mm3": "" if summary["lesion_mm3"] is None else str(summary["lesion_mm3"]),
            "Content-Disposition": "attachment; filename="
            + ("mask.nii.gz" if media == "application/gzip" else "masks.zip"),
        }
        return Response(payload, media_type=media, headers=headers)

    @app.get("/v1/examples")
    async def examples() -> dict[str, Any]:
        return {"examples": [f"/v1/examples/{i}.png" for i in range(EXAMPLES)]}

    @app.get("/v1/examples/{index}.png")
    async def example(index: int):
        if not 0 <= index < EXAMPLES:
            raise UploadError("no such example", status=404)
        data = await anyio.to_thread.run_sync(lambda: _png(_example_slice(index)))
        return Response(data, media_type="image/png")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def viewer() -> HTMLResponse:
        return HTMLResponse((STATIC / "index.html").read_text())

    return app
