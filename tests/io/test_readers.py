"""The I/O layer: which inputs become which work items, and what each reader returns."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
from PIL import Image

from brainseg.io.inputs import find_inputs, read_item
from brainseg.io.readers import InputError, read_nifti
from brainseg.io.volume import Volume, frame_affine
from brainseg.io.writers import mask_nifti_bytes


def _png(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def test_folders_group_slices_and_skip_masks_and_outputs(tmp_path):
    rng = np.random.default_rng(0)
    for n in (10, 2, 1):
        _png(tmp_path / "p1" / f"p1_{n}.png", rng.integers(0, 255, (32, 32, 3), np.uint8))
        _png(tmp_path / "p1" / f"p1_{n}_mask.png", np.zeros((32, 32), np.uint8))
    _png(tmp_path / "p1" / "p1_1_pred.png", np.zeros((32, 32), np.uint8))
    _png(tmp_path / "p2" / "a.png", rng.integers(0, 255, (32, 32), np.uint8))
    nib.save(nib.Nifti1Image(np.zeros((8, 8, 4), np.int16), np.eye(4)), tmp_path / "v.nii.gz")
    (tmp_path / "notes.txt").write_text("ignored")
    items, problems = find_inputs([tmp_path, tmp_path / "missing.png", tmp_path / "notes.txt"])
    assert [(i.kind, i.rel.as_posix()) for i in items] == [
        ("nifti", "."),
        ("image", "p1"),
        ("image", "p2"),
    ]
    assert [f.name for f in items[1].files] == ["p1_1.png", "p1_2.png", "p1_10.png"]
    assert [p[1] for p in problems] == ["no such file or folder", "unsupported file type '.txt'"]
    volumes, bad = read_item(items[1])
    assert not bad and len(volumes) == 1
    volume = volumes[0]
    assert volume.shape == (3, 32, 32) and volume.channels == ("t1", "flair", "t1c")
    assert volume.slice_names == ["p1_1", "p1_2", "p1_10"] and not volume.geometry
    assert volume.orientation == "LPS" and volume.voxel_mm3 is None
    flair_only = read_item(items[2])[0][0]
    assert flair_only.channels == ("flair",)


def test_slices_of_different_sizes_are_separate_volumes(tmp_path):
    _png(tmp_path / "s_1.png", np.zeros((32, 32, 3), np.uint8))
    _png(tmp_path / "s_2.png", np.zeros((48, 32, 3), np.uint8))
    (tmp_path / "s_3.png").write_bytes(b"")
    items, _ = find_inputs([tmp_path])
    volumes, problems = read_item(items[0])
    assert [v.shape for v in volumes] == [(1, 32, 32), (1, 48, 32)]
    assert problems == [(str(tmp_path / "s_3.png"), "empty file")]


def test_nifti_reader_keeps_values_geometry_and_sequences(tmp_path):
    data = np.arange(5 * 6 * 7 * 3, dtype=np.float32).reshape(5, 6, 7, 3) - 50  # negative too
    affine = np.array([[0, -0.9, 0, 10], [0.8, 0, 0, -5], [0, 0, 3.0, 2], [0, 0, 0, 1]])
    nib.save(nib.Nifti1Image(data, affine), tmp_path / "v.nii")
    volume = read_nifti(tmp_path / "v.nii")
    assert volume.array.shape == (7, 6, 5, 3)  # (slices, rows = j, columns = i, channels)
    assert volume.array[2, 4, 3, 1] == data[3, 4, 2, 1]  # slice k, row j, column i
    assert volume.channels == ("t1", "flair", "t1c") and volume.geometry
    assert volume.spacing == pytest.approx((0.8, 0.9, 3.0))
    assert volume.voxel_mm3 == pytest.approx(0.8 * 0.9 * 3.0)
    mask = np.zeros(volume.shape, np.uint8)
    mask[2, 4, 3] = 1
    import gzip

    back = nib.Nifti1Image.from_bytes(gzip.decompress(mask_nifti_bytes(mask, volume)))
    assert back.shape == (5, 6, 7) and np.allclose(back.affine, affine)
    assert np.asarray(back.dataobj)[3, 4, 2] == 1 and np.asarray(back.dataobj).sum() == 1


@pytest.mark.parametrize(
    "shape, message",
    [
        ((8, 8), "expected a 3D or 4D volume"),
        ((4, 4, 4, 2, 2), "expected a 3D or 4D volume"),
        ((4, 4, 4, 2), "must hold 1 or 3 sequences"),
    ],
)
def test_nifti_shapes_we_cannot_use(tmp_path, shape, message):
    nib.save(nib.Nifti1Image(np.zeros(shape, np.int16), np.eye(4)), tmp_path / "x.nii")
    with pytest.raises(InputError, match=message) as info:
        read_nifti(tmp_path / "x.nii")
    assert str(info.value).startswith(str(tmp_path / "x.nii"))


def test_volume_from_slices_is_in_the_training_frame():
    volume = Volume.from_slices(np.zeros((2, 8, 8, 3), np.uint8))
    assert np.array_equal(volume.affine, frame_affine()) and volume.orientation == "LPS"
    assert volume.slice_names == ["slice_1", "slice_2"]
