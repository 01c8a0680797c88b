"""What /openapi.json says about the service's responses, so that it tells the truth
(checked with schemathesis in tests/service/test_schema.py): every error is a ``Problem``
with one ``detail`` line, PNG and file answers are declared, uploaded files are non-empty."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel


class Problem(BaseModel):
    """Every error response: one line saying what is wrong."""

    detail: str


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": Problem} for code in codes}


PNG = {"content": {"image/png": {"schema": {"type": "string", "format": "binary"}}}}
UPLOAD_ERRORS = errors(400, 413, 415, 422)  # 400: malformed multipart body


BINARY = {"schema": {"type": "string", "format": "binary"}}
VOLUME_FILES = {
    "content": {
        "application/gzip": BINARY,
        "application/zip": BINARY,
        "application/dicom": BINARY,
    }
}


def validation_message(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "request"
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def require_non_empty_files(app: FastAPI) -> None:
    """State in the schema what the endpoints check: an uploaded file is never empty."""
    from fastapi.openapi.utils import get_openapi

    def schema() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            for component in spec.get("components", {}).get("schemas", {}).values():
                properties = component.get("properties", {})
                file_field = properties.get("file")
                if file_field and file_field.get("type") == "string":
                    file_field["minLength"] = 1
                files_field = properties.get("files")
                if files_field and files_field.get("type") == "array":
                    files_field["minItems"] = 1
                    files_field.get("items", {})["minLength"] = 1
            app.openapi_schema = spec
        return app.openapi_schema

    app.openapi = schema
