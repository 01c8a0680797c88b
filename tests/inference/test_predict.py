"""predict on every input kind, NIfTI round trips, ONNX parity and broken inputs."""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys

import nibabel as nib
import numpy as np
import pytest
from PIL import Image

from brainseg.cli import main
from brainseg.data.volumes import load_volumes
from brainseg.inference.predictor import Predictor
from brainseg.io.readers import read_nifti
from brainseg.preprocessing import assemble_channels


def _rows(out):
    with open(out / "predictions.csv") as handle:
        return list(csv.DictReader(handle))


def _mask(path):
    return np.asarray(Image.open(path))


def test_every_image_kind(synth_root, tiny_bundle, tmp_path):
    volume = load_volumes(synth_root)[0][0]
    Image.fromarray(volume.images[3]).save(tmp_path / "rgb.png")
    Image.fromarray(volume.images[3][..., 1]).save(tmp_path / "flair.png")
    Image.fromarray(volume.images[3]).save(tmp_path / "photo.jpg", quality=95)
    shutil.copy(synth_root / volume.patient / f"{volume.stems[3]}.tif", tmp_path / "slice.tif")
    out = tmp_path / "out"
    inputs = [str(tmp_path / n) for n in ("rgb.png", "flair.png", "photo.jpg", "slice.tif")]
    assert (
        main(["predict", *inputs, "--out", str(out), "--model", str(tiny_bundle), "--overlay"]) == 0
    )
    for stem in ("rgb", "flair", "photo", "slice"):
        mask = _mask(out / f"{stem}_pred.png")
        assert mask.shape == (64, 64) and mask.dtype == np.uint8
        assert set(np.unique(mask)) <= {0, 255}
        assert (out / f"{stem}_overlay.png").exists()
    assert len(_rows(out)) == 4


def test_folder_keeps_relative_layout_and_skips_masks(synth_root, tiny_bundle, tmp_path):
    out = tmp_path / "out"
    assert main(["predict", str(synth_root), "--out", str(out), "--model", str(tiny_bundle)]) == 0
    volumes, _ = load_volumes(synth_root)
    for v in volumes:
        for stem in v.stems:
            assert (out / v.patient / f"{stem}_pred.png").exists()
    assert not list(out.rglob("*_mask_pred.png"))
    rows = _rows(out)
    assert len(rows) == sum(len(v.stems) for v in volumes)
    assert {"lesion_pixels", "lesion_present", "seconds"} <= set(rows[0])


def _write_nifti(volume, path, dtype=np.uint8, factor=1.0, four_d=True):
    data = volume.images.transpose(2, 1, 0, 3).astype(np.float32) * factor  # (X, Y, Z, C)
    if not four_d:
        data = data[..., 1]
    affine = np.array([[0, -0.9, 0, 100], [0.9, 0, 0, -50], [0, 0, 3.0, 20], [0, 0, 0, 1]])
    image = nib.Nifti1Image(data.astype(dtype), affine)
    image.set_qform(affine, code=1)
    image.set_sform(affine, code=1)
    nib.save(image, path)
    return affine


def test_nifti_round_trip_matches_slices(synth_root, tiny_bundle, tmp_path):
    volume = load_volumes(synth_root)[0][0]
    affine = _write_nifti(volume, tmp_path / "vol.nii.gz")
    slices = assemble_channels(read_nifti(tmp_path / "vol.nii.gz"))
    assert np.array_equal(slices, volume.images)  # orientation: [i, j, k] = column, row, slice
    out = tmp_path / "out"
    assert (
        main(
            [
                "predict",
                str(tmp_path / "vol.nii.gz"),
                "--out",
                str(out),
                "--model",
                str(tiny_bundle),
            ]
        )
        == 0
    )
    result = nib.load(out / "vol_pred.nii.gz")
    assert result.shape == volume.images.shape[1:3][::-1] + (len(volume.stems),)
    assert np.allclose(result.affine, affine)
    assert result.get_data_dtype() == np.uint8
    assert int(result.header["qform_code"]) == 1 and int(result.header["sform_code"]) == 1
    # the volume is brought into the training frame from its (rotated) affine and back
    expected = Predictor(tiny_bundle).segment(read_nifti(tmp_path / "vol.nii.gz"))
    assert expected.shape == volume.images.shape[:3]
    assert np.array_equal(np.asarray(result.dataobj).transpose(2, 1, 0), expected)
    row = _rows(out)[0]
    assert row["kind"] == "nifti" and float(row["lesion_mm3"]) == pytest.approx(
        int(expected.sum()) * 0.9 * 0.9 * 3.0, rel=1e-4
    )


def test_nifti_rescaling_and_flair_only(synth_root, tmp_path):
    volume = load_volumes(synth_root)[0][0]
    _write_nifti(volume, tmp_path / "scaled.nii", dtype=np.float32, factor=7.3)
    _write_nifti(volume, tmp_path / "flair.nii.gz", four_d=False)
    scaled = assemble_channels(read_nifti(tmp_path / "scaled.nii"))
    assert scaled.dtype == np.uint8 and scaled.max() == 255
    flair = assemble_channels(read_nifti(tmp_path / "flair.nii.gz"))
    assert np.array_equal(flair[..., 0], flair[..., 2])
    assert np.array_equal(flair[..., 1], volume.images[..., 1])


def test_onnx_engine_agrees_with_torch(synth_root, tiny_bundle, tmp_path):
    onnx_path = tmp_path / "tiny.onnx"
    assert main(["export", "--onnx", str(onnx_path), "--model", str(tiny_bundle)]) == 0
    patient = next(p for p in synth_root.iterdir() if p.is_dir())
    a, b = tmp_path / "torch", tmp_path / "onnx"
    assert main(["predict", str(patient), "--out", str(a), "--model", str(tiny_bundle)]) == 0
    assert (
        main(
            [
                "predict",
                str(patient),
                "--out",
                str(b),
                "--model",
                str(onnx_path),
                "--engine",
                "onnx",
            ]
        )
        == 0
    )
    pa = np.stack([_mask(p) for p in sorted(a.rglob("*_pred.png"))])
    pb = np.stack([_mask(b / p.relative_to(a)) for p in sorted(a.rglob("*_pred.png"))])
    assert (pa == pb).mean() >= 0.999


def test_mixed_good_and_broken_inputs(synth_root, tiny_bundle, tmp_path, capsys):
    folder = tmp_path / "mixed"
    shutil.copytree(next(p for p in synth_root.iterdir() if p.is_dir()), folder)
    (folder / "zz_junk.tif").write_text("not an image")
    (folder / "zz_empty.png").write_bytes(b"")
    (tmp_path / "broken.nii.gz").write_bytes(b"\x1f\x8bgarbage")
    out = tmp_path / "out"
    code = main(
        [
            "predict",
            str(folder),
            str(tmp_path / "broken.nii.gz"),
            str(tmp_path / "missing.png"),
            "--out",
            str(out),
            "--model",
            str(tiny_bundle),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    for name in ("zz_junk.tif", "zz_empty.png", "broken.nii.gz", "missing.png"):
        assert name in err
    assert "Traceback" not in err
    assert len(list(out.rglob("*_pred.png"))) == 8  # all good slices still processed


def test_refuses_output_into_the_input_folder(synth_root, tiny_bundle, capsys):
    assert (
        main(["predict", str(synth_root), "--out", str(synth_root), "--model", str(tiny_bundle)])
        == 1
    )
    assert "input folder" in capsys.readouterr().err


def test_tta_and_threshold_flags(synth_root, tiny_bundle, tmp_path):
    volume = load_volumes(synth_root)[0][0]
    base = Predictor(tiny_bundle).predict_volume(volume.images)
    tta = Predictor(tiny_bundle, tta=True).predict_volume(volume.images)
    assert base.shape == tta.shape and not np.allclose(base, tta)
    assert Predictor(tiny_bundle, threshold=1.0).segment_volume(volume.images).sum() == 0


def test_predict_with_onnx_never_imports_torch(synth_root, tmp_path):
    """The shipped model's default engine (INT8 ONNX) runs without torch: importing it costs
    a one-patient predict about half its time (docs/performance.md)."""
    volume = load_volumes(synth_root)[0][0]
    Image.fromarray(volume.images[3]).save(tmp_path / "rgb.png")
    script = (
        "import sys; from brainseg.cli import main; "
        f"code = main(['predict', {str(tmp_path / 'rgb.png')!r}, '--out', "
        f"{str(tmp_path / 'out')!r}]); "
        "print(code, 'torch' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.stdout.split()[-2:] == ["0", "False"], result.stderr
    assert (tmp_path / "out" / "rgb_pred.png").exists()
