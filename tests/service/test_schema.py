"""The API contract tells the truth: schemathesis, a standard OpenAPI fuzzer, generates
requests from the live server's /openapi.json and checks every response against it with
``--checks all`` (status codes, content types, bodies, and that valid data is accepted and
invalid data rejected)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from brainseg.inference.predictor import Predictor
from brainseg.service.app import create_app


def _schemathesis() -> list[str]:
    exe = Path(sys.executable).with_name("schemathesis")
    return [str(exe)] if exe.exists() else [shutil.which("schemathesis") or "schemathesis"]


def test_schemathesis_finds_no_failures(server):
    result = subprocess.run(
        [
            *_schemathesis(),
            "run",
            f"{server}/openapi.json",
            "--checks",
            "all",
            "--max-examples",
            "30",
            "--workers",
            "1",
            "--seed",
            "1",
            "--suppress-health-check",
            "all",
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=Path(__file__).resolve().parents[2],  # reads schemathesis.toml
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "No issues found" in result.stdout or "passed" in result.stdout


def test_schema_documents_errors_and_png(tiny_bundle):
    app = create_app(predictor=Predictor(tiny_bundle, engine="torch"))
    spec = app.openapi()
    segment = spec["paths"]["/v1/segment"]["post"]["responses"]
    assert "image/png" in segment["200"]["content"]
    assert segment["422"]["content"]["application/json"]["schema"]["$ref"].endswith("/Problem")
    example = spec["paths"]["/v1/examples/{index}.png"]["get"]["responses"]
    assert "image/png" in example["200"]["content"] and "404" in example
