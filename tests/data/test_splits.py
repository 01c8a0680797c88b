import json

import pytest

from brainseg.cli import main
from brainseg.data.splits import final_fit_split, make_split, split_to_json
from brainseg.errors import BrainsegError

PATIENTS = {f"P{i:02d}": [f"P{i:02d}_{k}" for k in range(1, 6)] for i in range(30)}


def test_patient_split_is_disjoint_and_uses_seed_fractions():
    split = make_split(PATIENTS, seed=1)
    train, val, test = (set(split[k]) for k in ("train", "val", "test"))
    assert not (train & val or train & test or val & test)
    assert train | val | test == set(PATIENTS)
    assert len(test) == 3  # 10% of 30
    assert len(val) == 5  # 20% of the remaining 27, rounded


def test_same_seed_same_bytes_different_seed_differs():
    assert split_to_json(make_split(PATIENTS, seed=7)) == split_to_json(make_split(PATIENTS, 7))
    assert make_split(PATIENTS, seed=7)["test"] != make_split(PATIENTS, seed=8)["test"]


def test_folds_are_patient_disjoint_and_cover_the_non_test_patients():
    split = make_split(PATIENTS, seed=0, folds=5)
    vals = [set(f["val"]) for f in split["folds"]]
    rest = set(PATIENTS) - set(split["test"])
    assert set().union(*vals) == rest
    assert sum(len(v) for v in vals) == len(rest)
    for fold in split["folds"]:
        assert not set(fold["train"]) & set(fold["val"])


def test_final_fit_trains_on_train_and_val_and_keeps_the_test_patients_out():
    split = make_split(PATIENTS, seed=3, folds=3)
    refit = final_fit_split(split)
    assert refit["train"] == sorted(split["train"] + split["val"])
    assert refit["val"] == split["val"] and refit["test"] == split["test"]
    assert refit["final_fit"] is True and "folds" not in refit
    assert not set(refit["train"]) & set(refit["test"])
    with pytest.raises(BrainsegError, match="needs --by patient"):
        final_fit_split(make_split(PATIENTS, seed=0, by="slice"))


def test_slice_split_holds_slice_ids():
    split = make_split(PATIENTS, seed=0, by="slice")
    assert split["by"] == "slice" and "/" in split["test"][0]
    assert len(split["test"]) == 15  # 10% of 150 slices


def test_too_few_patients_is_a_clear_error():
    with pytest.raises(BrainsegError):
        make_split({"A": ["a"]}, seed=0)


def test_cli_split_byte_identical_and_slice_warning(synth_root, tmp_path, capsys):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    assert main(["split", "--data", str(synth_root), "--out", str(a), "--seed", "5"]) == 0
    assert main(["split", "--data", str(synth_root), "--out", str(b), "--seed", "5"]) == 0
    assert a.read_bytes() == b.read_bytes()
    assert json.loads(a.read_text())["by"] == "patient"
    assert main(["split", "--data", str(synth_root), "--out", str(a), "--by", "slice"]) == 0
    assert "slice-level split" in capsys.readouterr().err


def test_cli_final_fit_split_has_the_same_test_patients(synth_root, tmp_path, capsys):
    plain, refit = tmp_path / "plain.json", tmp_path / "refit.json"
    assert main(["split", "--data", str(synth_root), "--out", str(plain), "--seed", "5"]) == 0
    assert (
        main(
            ["split", "--data", str(synth_root), "--out", str(refit), "--seed", "5", "--final-fit"]
        )
        == 0
    )
    a, b = json.loads(plain.read_text()), json.loads(refit.read_text())
    assert b["test"] == a["test"] and b["train"] == sorted(a["train"] + a["val"])
    assert "final fit" in capsys.readouterr().out
