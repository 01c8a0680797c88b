"""Fuzzing: hundreds of mangled inputs through inspect, predict and the service.

Every input gets a one-line error naming it, or a correct result; good files among them are
still processed; exit codes reflect failures; nothing hangs (bounded by pytest's timeout
below) and no traceback escapes. Oversized images are refused before decoding.
"""

from __future__ import annotations

import io
import random
import struct
import zlib
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import tifffile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from brainseg.cli import main


def _png(array) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def _tif(array) -> bytes:
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, array)
    return buffer.getvalue()


def _huge_png_header(width=100_000, height=100_000) -> bytes:
    """A valid PNG signature and IHDR claiming an enormous image, with no real pixels."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", 13) + b"IHDR" + ihdr
    chunk += struct.pack(">I", zlib.crc32(b"IHDR" + ihdr) & 0xFFFFFFFF)
    return b"\x89PNG\r\n\x1a\n" + chunk + b"\x00\x00\x00\x00IEND\xaeB`\x82"


def _nifti(data, affine=None) -> bytes:
    return nib.Nifti1Image(data, np.eye(4) if affine is None else affine).to_bytes()


def mangled_inputs(seed: int = 0, count: int = 240) -> list[tuple[str, bytes]]:
    """(file name, bytes) pairs covering every kind of damage the issue lists."""
    rng = random.Random(seed)
    nprng = np.random.default_rng(seed)
    good_rgb = nprng.integers(0, 255, (64, 64, 3), dtype=np.uint8)
    png, tif = _png(good_rgb), _tif(good_rgb)
    fixed = [
        ("empty.png", b""),
        ("empty.tif", b""),
        ("empty.nii.gz", b""),
        ("text.tif", b"hello world"),
        ("text.png", b"not a png at all"),
        ("wrong_magic.png", b"GIF89a" + png[6:]),
        ("wrong_magic.tif", b"XX*\x00" + tif[4:]),
        ("huge.png", _huge_png_header()),
        ("huge.tif", _tif(np.zeros((1, 1), np.uint8))[:0] + _huge_tif()),
        ("sixteen.png", _png(nprng.integers(0, 65535, (64, 64), dtype=np.uint16))),
        ("sixteen.tif", _tif(nprng.integers(0, 65535, (64, 64, 3), dtype=np.uint16))),
        ("rgba.png", _png(nprng.integers(0, 255, (64, 64, 4), dtype=np.uint8))),
        ("one.png", _png(np.zeros((1, 1, 3), np.uint8))),
        ("one_gray.tif", _tif(np.zeros((1, 1), np.uint8))),
        ("float.tif", _tif(nprng.random((32, 32)).astype(np.float32))),
        ("nan_img.tif", _tif(np.full((16, 16), np.nan, np.float32))),
        ("nan_vol.nii", _nifti(np.full((8, 8, 4), np.nan, np.float32))),
        ("zero_axis.nii", _nifti(np.zeros((8, 0, 4), np.float32))),
        ("two_d.nii", _nifti(np.zeros((8, 8), np.float32))),
        ("five_seq.nii", _nifti(np.zeros((8, 8, 3, 5), np.float32))),
        ("tiny.nii", _nifti(nprng.random((16, 16, 2)).astype(np.float32))),
        ("bad.nii.gz", b"\x1f\x8b" + bytes(rng.getrandbits(8) for _ in range(200))),
    ]
    items = list(fixed)
    sources = [("png", png), ("tif", tif), ("nii", _nifti(nprng.random((32, 32, 3))))]
    while len(items) < count:
        kind, data = rng.choice(sources)
        action = rng.choice(["truncate", "flip", "random", "flip_many"])
        if action == "truncate":
            data = data[: rng.randrange(1, len(data))]
        elif action == "random":
            data = bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 3000)))
        else:
            blob = bytearray(data)
            for _ in range(1 if action == "flip" else rng.randrange(2, 50)):
                blob[rng.randrange(len(blob))] ^= 1 << rng.randrange(8)
            data = bytes(blob)
        items.append((f"fuzz_{len(items):03d}_{action}.{kind}", data))
    return items


def _huge_tif() -> bytes:
    """A TIFF whose IFD claims 200000 x 200000 pixels but holds almost nothing."""
    buffer = io.BytesIO()
    with tifffile.TiffWriter(buffer) as writer:
        writer.write(np.zeros((8, 8), np.uint8))
    data = bytearray(buffer.getvalue())
    # patch ImageWidth (256) and ImageLength (257) entries of the first IFD
    offset = struct.unpack("<I", data[4:8])[0]
    entries = struct.unpack("<H", data[offset : offset + 2])[0]
    for i in range(entries):
        base = offset + 2 + 12 * i
        tag, typ = struct.unpack("<HH", data[base : base + 4])
        if tag in (256, 257):
            if typ == 3:
                struct.pack_into("<H", data, base + 8, 60000)
            else:
                struct.pack_into("<I", data, base + 8, 200000)
    return bytes(data)


@pytest.fixture(scope="module")
def fuzz_folder(tmp_path_factory, synth_root):
    folder = tmp_path_factory.mktemp("fuzz")
    for name, data in mangled_inputs():
        (folder / name).write_bytes(data)
    good = sorted(next(p for p in synth_root.iterdir() if p.is_dir()).glob("*.tif"))
    goods = [p for p in good if not p.stem.endswith("_mask")][:4]
    for p in goods:
        (folder / f"good_{p.name}").write_bytes(p.read_bytes())
    return folder, [f"good_{p.stem}" for p in goods]


def test_predict_survives_every_mangled_input(fuzz_folder, tiny_bundle, tmp_path, capsys):
    folder, goods = fuzz_folder
    inputs = sorted(str(p) for p in folder.iterdir())
    code = main(["predict", *inputs, "--out", str(tmp_path / "out"), "--model", str(tiny_bundle)])
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" not in err and "internal error" not in err
    for line in err.strip().splitlines():
        assert line.startswith(str(folder)) or line.startswith("brainseg"), line
    for stem in goods:
        assert (tmp_path / "out" / f"{stem}_pred.png").exists()
    written = {p.name for p in (tmp_path / "out").glob("*_pred.*")}
    errors = [line for line in err.strip().splitlines() if ": warning: " not in line]  # QC
    failed = {Path(line.split(": ", 1)[0]).name for line in errors}
    for path in folder.iterdir():  # each input: a result or a named error, never both/neither
        stem = path.name[: -len(".nii.gz")] if path.name.endswith(".nii.gz") else path.stem
        has_result = f"{stem}_pred.png" in written or f"{stem}_pred.nii.gz" in written
        assert has_result != (path.name in failed), path.name
    for name in ("huge.png", "huge.tif", "empty.png", "text.tif", "zero_axis.nii"):
        assert name in failed


def test_inspect_survives_a_folder_of_junk(fuzz_folder, tmp_path, capsys):
    folder, _ = fuzz_folder
    data = tmp_path / "data" / "P1"
    data.mkdir(parents=True)
    for path in list(folder.glob("*.png"))[:60] + list(folder.glob("*.tif"))[:60]:
        (data / path.name).write_bytes(path.read_bytes())
        mask_name = f"{path.stem}_mask{path.suffix}"
        (data / mask_name).write_bytes(
            _png(np.zeros((64, 64), np.uint8))
            if path.suffix == ".png"
            else _tif(np.zeros((64, 64), np.uint8))
        )
    code = main(["inspect", "--data", str(tmp_path / "data")])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert all(": " in line for line in err.strip().splitlines())


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.binary(min_size=0, max_size=4000))
def test_service_never_answers_5xx(service_client, payload):
    for url in ("/v1/segment", "/v1/segment/volume"):
        response = service_client.post(url, files={"file": ("x", payload)})
        assert response.status_code < 500
        if response.status_code >= 400:
            assert isinstance(response.json()["detail"], str)


def test_service_on_the_mangled_set(service_client):
    for name, data in mangled_inputs(seed=1, count=120):
        url = "/v1/segment/volume" if ".nii" in name else "/v1/segment"
        response = service_client.post(url, files={"file": (name, data)})
        assert response.status_code in (200, 413, 415, 422), (name, response.status_code)


@pytest.fixture(scope="module")
def service_client(tiny_bundle):
    from fastapi.testclient import TestClient

    from brainseg.inference.predictor import Predictor
    from brainseg.service.app import create_app

    with TestClient(
        create_app(predictor=Predictor(tiny_bundle)), raise_server_exceptions=False
    ) as client:
        yield client
