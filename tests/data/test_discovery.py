import numpy as np

from brainseg.data.discovery import discover, pair_slices
from brainseg.data.volumes import load_volumes
from tests.conftest import write_rgb


def _pair(folder, stem, value=10, suffix=".tif", mask_value=255):
    image = np.full((32, 32, 3), value, np.uint8)
    mask = np.zeros((32, 32), np.uint8)
    mask[4:8, 4:8] = mask_value
    write_rgb(folder / f"{stem}{suffix}", image)
    write_rgb(folder / f"{stem}_mask{suffix}", mask)


def test_pairs_found_by_mask_name_and_ordered_numerically(tmp_path):
    patient = tmp_path / "TCGA_XX_0001_20000101"
    for n in (10, 2, 1):
        _pair(patient, f"TCGA_XX_0001_20000101_{n}", value=n)
    patients, problems = discover(tmp_path)
    assert problems == []
    assert [p.name for p in patients] == ["TCGA_XX_0001_20000101"]
    assert [s.number for s in patients[0].slices] == [1, 2, 10]
    volumes, _ = load_volumes(tmp_path)
    assert volumes[0].images[:, 0, 0, 0].tolist() == [1, 2, 10]
    assert volumes[0].masks.max() == 1 and volumes[0].masks.sum() == 3 * 16


def test_ignores_loose_files_and_duplicate_copy(tmp_path):
    _pair(tmp_path / "P1", "P1_1")
    (tmp_path / "data.csv").write_text("a,b\n")
    (tmp_path / "README.md").write_text("hello")
    _pair(tmp_path / "lgg-mri-segmentation" / "kaggle_3m" / "P1", "P1_1")
    patients, problems = discover(tmp_path)
    assert problems == [] and [p.name for p in patients] == ["P1"]


def test_kaggle_archive_root_is_accepted(tmp_path):
    _pair(tmp_path / "kaggle_3m" / "P1", "P1_1")
    patients, problems = discover(tmp_path)
    assert problems == [] and [p.name for p in patients] == ["P1"]


def test_png_pairs(tmp_path):
    for n in (1, 2):
        _pair(tmp_path / "P1", str(n), suffix=".png")
    volumes, problems = load_volumes(tmp_path)
    assert problems == [] and volumes[0].stems == ["1", "2"]


def test_pair_slices_keeps_orphans():
    from pathlib import Path

    pairs = pair_slices([Path("a_1.tif"), Path("a_2_mask.tif"), Path("a_1_mask.tif")])
    assert [(p.stem, p.image is not None, p.mask is not None) for p in pairs] == [
        ("a_1", True, True),
        ("a_2", False, True),
    ]
