"""Every validation error is one line naming the file; inspect exits 2; train refuses."""

import json

import numpy as np
import pytest

from brainseg.cli import main
from brainseg.data.volumes import load_volumes
from tests.conftest import write_rgb


def _good(folder, stem, size=32):
    write_rgb(folder / f"{stem}.tif", np.full((size, size, 3), 50, np.uint8))
    mask = np.zeros((size, size), np.uint8)
    mask[2:6, 2:6] = 255
    write_rgb(folder / f"{stem}_mask.tif", mask)


@pytest.fixture()
def broken(tmp_path):
    """The issue's acceptance folder: five different problems, plus good slices."""
    p = tmp_path / "data" / "P1"
    _good(p, "P1_1")
    _good(p, "P1_2")
    (p / "P1_2.tif").write_bytes((p / "P1_2.tif").read_bytes()[:300])  # truncated TIFF
    write_rgb(p / "P1_3.tif", np.zeros((32, 32, 3), np.uint8))  # image without mask
    write_rgb(p / "P1_4_mask.tif", np.zeros((32, 32), np.uint8))  # mask without image
    (p / "P1_5.tif").write_text("this is not an image")  # text file named .tif
    write_rgb(p / "P1_5_mask.tif", np.zeros((32, 32), np.uint8))
    write_rgb(p / "P1_6.tif", np.zeros((256, 256, 3), np.uint8))  # 128 mask, 256 image
    write_rgb(p / "P1_6_mask.tif", np.zeros((128, 128), np.uint8))
    expected = {"P1_2.tif", "P1_3.tif", "P1_4_mask.tif", "P1_5.tif", "P1_6_mask.tif"}
    return tmp_path / "data", expected


def test_inspect_names_all_five_files(broken, capsys):
    root, expected = broken
    code = main(["inspect", "--data", str(root), "--json"])
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert code == 2
    named = {p["file"].rsplit("/", 1)[-1] for p in report["problems"]}
    assert named == expected
    assert "Traceback" not in captured.err
    assert len(captured.err.strip().splitlines()) == 5
    assert report["patients"] == 0 and report["slices"] == 0


def test_train_refuses_broken_data(broken, tmp_path, capsys):
    root, expected = broken
    code = main(["train", "--data", str(root), "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2
    for name in expected:
        assert name in err
    assert "Traceback" not in err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "setup, fragment",
    [
        (lambda p: write_rgb(p / "P_1_mask.tif", np.full((32, 32), 128, np.uint8)), "not binary"),
        (lambda p: write_rgb(p / "P_1.tif", np.zeros((32, 32, 4), np.uint8)), "channel count"),
        (lambda p: (p / "P_1.tif").write_bytes(b""), "empty file"),
    ],
)
def test_single_problem_kinds(tmp_path, setup, fragment):
    folder = tmp_path / "P"
    _good(folder, "P_1")
    setup(folder)
    _, problems = load_volumes(tmp_path)
    assert len(problems) == 1 and fragment in problems[0].reason


def test_empty_and_missing_folders(tmp_path):
    (tmp_path / "EMPTY").mkdir()
    _good(tmp_path / "P", "P_1")
    volumes, problems = load_volumes(tmp_path)
    assert [v.patient for v in volumes] == ["P"]
    assert problems == [(str(tmp_path / "EMPTY"), "folder has no image slices")]
    _, problems = load_volumes(tmp_path / "nope")
    assert problems[0].reason == "folder does not exist"


def test_inspect_clean_data_exit_zero_and_figures(synth_root, tmp_path, capsys):
    code = main(["inspect", "--data", str(synth_root), "--figures", str(tmp_path / "fig")])
    out = capsys.readouterr().out
    assert code == 0
    assert "patients:      8" in out and "slices:        64" in out
    for name in ("montage", "slices_per_patient", "lesion_sizes", "intensity_histograms"):
        assert (tmp_path / "fig" / f"{name}.png").stat().st_size > 1000
