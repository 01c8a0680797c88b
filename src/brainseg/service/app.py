"""The FastAPI app: the endpoints of ``brainseg.service.routes`` with what they share in
``app.state.service``, the upload-size limit, and the error handlers.

The model is loaded once (lifespan). A problem with the upload is a 4xx with
``{"detail": "..."}``; anything else is a defect: a 500, and its traceback goes to the log.
Every response is described in ``/openapi.json``.
"""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from typing import Any

import anyio
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from brainseg import __version__
from brainseg.errors import BrainsegError
from brainseg.service.routes import Service, router
from brainseg.service.schema import require_non_empty_files, validation_message
from brainseg.service.uploads import UploadError

log = logging.getLogger("brainseg.service")


def create_app(
    model: str | None = None, max_upload_mb: float = 64.0, workers: int = 1, predictor: Any = None
) -> FastAPI:
    """The service for ``model`` (None: the shipped one), or for a ``predictor`` already
    built (``brainseg serve`` builds it first, so that a bad model fails at once)."""
    state = Service(predictor, max_upload_mb, anyio.CapacityLimiter(max(1, workers)))

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if state.predictor is None:
            from brainseg.inference.predictor import Predictor

            state.predictor = Predictor(model)
        yield

    app = FastAPI(
        title="brainseg",
        version=__version__,
        lifespan=lifespan,
        description="Segment lower-grade glioma FLAIR abnormalities in brain MRI.",
    )
    app.state.service = state
    app.include_router(router)
    app.middleware("http")(_limit_upload_size)
    app.add_exception_handler(UploadError, _upload_error)
    app.add_exception_handler(BrainsegError, _input_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(Exception, _defect)
    require_non_empty_files(app)
    return app


async def _limit_upload_size(request: Request, call_next):
    state: Service = request.app.state.service
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > state.max_bytes + 64 * 1024:
        return JSONResponse({"detail": f"upload exceeds {state.max_upload_mb:g} MB"}, 413)
    return await call_next(request)


async def _upload_error(request: Request, exc: UploadError):
    return JSONResponse({"detail": str(exc)}, status_code=exc.status)


async def _input_error(request: Request, exc: BrainsegError):
    return JSONResponse({"detail": str(exc)}, status_code=422)


async def _invalid_request(request: Request, exc: RequestValidationError):
    return JSONResponse({"detail": validation_message(exc)}, status_code=422)


async def _defect(request: Request, exc: Exception):
    log.error("internal error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse({"detail": "internal error; it has been logged"}, 500)
