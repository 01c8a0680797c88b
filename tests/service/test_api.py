"""API tests with FastAPI's TestClient: happy paths, every error path, concurrency."""

from __future__ import annotations

import base64
import io
import zipfile
from concurrent.futures import ThreadPoolExecutor

import nibabel as nib
import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from brainseg.data.volumes import load_volumes
from brainseg.inference.predictor import Predictor
from brainseg.service.app import create_app


@pytest.fixture(scope="module")
def predictor(tiny_bundle):
    return Predictor(tiny_bundle)


@pytest.fixture(scope="module")
def client(predictor):
    app = create_app(max_upload_mb=1.0, workers=2, predictor=predictor)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture(scope="module")
def volume(synth_root):
    return load_volumes(synth_root)[0][0]


def _png(array):
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def test_health(client):
    body = client.get("/health").json()
    assert body["status"] == "ok" and body["model"] == "tiny" and body["device"] == "cpu"


def test_segment_json_matches_predictor(client, predictor, volume):
    image = volume.images[4]
    response = client.post("/v1/segment", files={"file": ("x.png", _png(image), "image/png")})
    assert response.status_code == 200
    body = response.json()
    expected = predictor.segment_volume(image[None])[0]
    assert body["lesion_pixels"] == int(expected.sum())
    assert body["area_fraction"] == pytest.approx(expected.mean())
    mask = np.asarray(Image.open(io.BytesIO(base64.b64decode(body["mask_png"]))))
    assert np.array_equal(mask > 0, expected)
    assert base64.b64decode(body["overlay_png"]).startswith(b"\x89PNG")


def test_segment_png_and_flair_only(client, volume):
    flair = volume.images[4][..., 1]
    response = client.post("/v1/segment?format=png", files={"file": ("f.png", _png(flair))})
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    assert np.asarray(Image.open(io.BytesIO(response.content))).shape == (64, 64)


def test_volume_nifti_and_zip(client, volume):
    data = volume.images.transpose(2, 1, 0, 3)
    affine = np.diag([0.9, 0.9, 3.0, 1.0])
    buffer = io.BytesIO()
    buffer.write(nib.Nifti1Image(data, affine).to_bytes())
    response = client.post("/v1/segment/volume", files={"file": ("v.nii", buffer.getvalue())})
    assert response.status_code == 200 and int(response.headers["X-Slices"]) == 8
    result = nib.Nifti1Image.from_bytes(__import__("gzip").decompress(response.content))
    assert result.shape == data.shape[:3] and np.allclose(result.affine, affine)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        for k, image in enumerate(volume.images):
            z.writestr(f"P_{k + 1}.png", _png(image))
            z.writestr(f"P_{k + 1}_mask.png", _png(np.zeros((64, 64), np.uint8)))
    response = client.post("/v1/segment/volume", files={"file": ("p.zip", archive.getvalue())})
    assert response.status_code == 200
    names = zipfile.ZipFile(io.BytesIO(response.content)).namelist()
    assert names == [f"P_{k + 1}_pred.png" for k in range(8)]
    body = client.post(
        "/v1/segment/volume?format=json", files={"file": ("p.zip", archive.getvalue())}
    ).json()
    assert body["slices"] == 8 and len(body["masks_png"]) == 8


@pytest.mark.parametrize(
    "payload, status",
    [
        (b"", 422),
        (b"hello, I am plain text", 415),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, 422),  # broken PNG
        (b"II*\x00" + b"\xff" * 100, 422),  # broken TIFF
        (b"\x00" * (2 * 1024 * 1024), 413),  # over the 1 MB limit
    ],
)
def test_segment_errors_are_4xx_json(client, payload, status):
    response = client.post("/v1/segment", files={"file": ("../../etc/passwd", payload)})
    assert response.status_code == status
    assert isinstance(response.json()["detail"], str)
    assert "Traceback" not in response.text


def test_volume_errors(client, volume):
    for payload, status in [
        (_png(volume.images[0]), 415),
        (b"PK\x03\x04junk", 422),
        (b"\x1f\x8bjunk", 422),
    ]:
        response = client.post("/v1/segment/volume", files={"file": ("v", payload)})
        assert response.status_code == status, payload[:8]
        assert "detail" in response.json()


def test_missing_field_and_wrong_format(client, volume):
    assert client.post("/v1/segment").status_code == 422
    response = client.post("/v1/segment?format=gif", files={"file": ("x", _png(volume.images[0]))})
    assert response.status_code == 422


def test_sixteen_concurrent_requests(client, predictor, volume):
    images = [volume.images[k % 8] for k in range(16)]
    expected = [int(predictor.segment_volume(img[None])[0].sum()) for img in images]

    def call(image):
        r = client.post("/v1/segment", files={"file": ("x.png", _png(image))})
        return r.status_code, r.json()["lesion_pixels"]

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(call, images))
    assert [s for s, _ in results] == [200] * 16
    assert [p for _, p in results] == expected


def test_viewer_examples_and_docs(client):
    page = client.get("/")
    assert page.status_code == 200 and "brainseg viewer" in page.text
    assert "http://" not in page.text and "https://" not in page.text  # no CDN
    urls = client.get("/v1/examples").json()["examples"]
    assert client.get(urls[0]).content.startswith(b"\x89PNG")
    assert client.get("/v1/examples/99.png").status_code == 404
    assert client.get("/docs").status_code == 200
    assert "/v1/segment" in client.get("/openapi.json").json()["paths"]


def _case_files(tmp_path):
    import nibabel as nib

    rng = np.random.default_rng(5)
    data = rng.uniform(0, 300, (40, 36, 6)).astype(np.float32)
    ras = np.diag([1.0, 1.0, 2.5, 1.0])  # stored RAS: reoriented on the server
    files = {}
    for name in ("c_flair.nii.gz", "c_t1.nii.gz", "c_seg.nii.gz"):
        nib.save(nib.Nifti1Image(data, ras), tmp_path / name)
        files[name] = (tmp_path / name).read_bytes()
    return files, ras


def test_case_upload_returns_mask_on_the_flair_grid(client, tmp_path):
    import gzip

    import nibabel as nib

    files, ras = _case_files(tmp_path)
    upload = [("files", (name, data, "application/gzip")) for name, data in files.items()]
    response = client.post("/v1/segment/case", files=upload)
    assert response.status_code == 200, response.text
    mask = nib.Nifti1Image.from_bytes(gzip.decompress(response.content))
    assert mask.shape == (40, 36, 6) and np.allclose(mask.affine, ras)
    summary = client.post("/v1/segment/case?format=json", files=upload).json()
    assert summary["qc"]["sequences"] == "flair+t1" and summary["qc"]["orientation"] == "RAS"


def test_case_upload_without_flair_is_one_clear_line(client, tmp_path):
    files, _ = _case_files(tmp_path)
    upload = [("files", ("c_t1.nii.gz", files["c_t1.nii.gz"], "application/gzip"))]
    response = client.post("/v1/segment/case", files=upload)
    assert response.status_code == 422
    assert response.json()["detail"].startswith("case has no FLAIR file")
    bad = client.post(
        "/v1/segment/case", files=[("files", ("x_flair.png", b"\x89PNG\r\n\x1a\n", "image/png"))]
    )
    assert bad.status_code == 415 and "x_flair.png" in bad.json()["detail"]


def test_zipped_dicom_series_returns_mask_and_dicom_seg(client, tmp_path):
    import gzip
    import io
    import zipfile

    import highdicom as hd
    import nibabel as nib

    from tests.io.dicom_series import write_series

    rng = np.random.default_rng(3)
    slices = rng.uniform(0, 600, (5, 30, 28)).astype(np.float32)
    affine = np.array([[-1.0, 0, 0, 20], [0, -1.0, 0, 20], [0, 0, 2.5, 0], [0, 0, 0, 1]])
    uids = write_series(tmp_path / "series", slices, affine, "AX FLAIR", 4, 1)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in (tmp_path / "series").iterdir():
            archive.write(path, f"DICOM/{path.name}")
    upload = {"file": ("series.zip", buffer.getvalue(), "application/zip")}
    response = client.post("/v1/segment/volume", files=upload)
    assert response.status_code == 200, response.text
    mask = nib.Nifti1Image.from_bytes(gzip.decompress(response.content))
    assert mask.shape == (28, 30, 5) and np.allclose(mask.affine, affine)
    seg = client.post("/v1/segment/volume?format=dicom-seg", files=upload)
    assert seg.status_code == 200 and seg.headers["content-type"] == "application/dicom"
    dataset = hd.seg.segread(io.BytesIO(seg.content))
    referenced = {
        item.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID
        for item in dataset.PerFrameFunctionalGroupsSequence
    }
    assert referenced == set(uids)
    nifti = {"file": ("x.nii.gz", gzip.compress(mask.to_bytes()), "application/gzip")}
    refused = client.post("/v1/segment/volume?format=dicom-seg", files=nifti)
    assert refused.status_code == 422 and "needs a DICOM upload" in refused.json()["detail"]
