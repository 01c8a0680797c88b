"""Which series is the FLAIR: known headers of real sequences, from the timing first and the
description second (brainseg.io.dicom_sequence)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from pydicom import Dataset

from brainseg.io.dicom_sequence import OTHER, classify_series, description_sequence
from tests.io.dicom_series import FLAIR, MPRAGE, T2_FSE


def _header(**values) -> Dataset:
    header = Dataset()
    for key, value in values.items():
        setattr(header, key, value)
    return header


SPACE_FLAIR = {
    "ScanningSequence": ["SE", "IR"],
    "RepetitionTime": 5000.0,
    "EchoTime": 387.0,
    "InversionTime": 1800.0,
}
T1_FLAIR = {  # GE's T1-weighted FLAIR: an inversion, but a T1
    "ScanningSequence": ["SE", "IR"],
    "RepetitionTime": 2200.0,
    "EchoTime": 12.0,
    "InversionTime": 860.0,
}
MP2RAGE_INV2 = {
    "ScanningSequence": ["GR", "IR"],
    "RepetitionTime": 5000.0,
    "EchoTime": 2.9,
    "InversionTime": 2500.0,
}
SE_T1 = {"ScanningSequence": "SE", "RepetitionTime": 500.0, "EchoTime": 12.0}
DWI = {"ScanningSequence": "EP", "RepetitionTime": 5000.0, "EchoTime": 90.0}
STIR = {
    "ScanningSequence": "IR",
    "RepetitionTime": 4000.0,
    "EchoTime": 50.0,
    "InversionTime": 150.0,
}
GRE_T2STAR = {"ScanningSequence": "GR", "RepetitionTime": 700.0, "EchoTime": 20.0}


@pytest.mark.parametrize(
    "timing, description, expected",
    [
        (FLAIR, "AX FLAIR", "flair"),
        (FLAIR, "", "flair"),  # the header alone
        (SPACE_FLAIR, "t2_space_dark-fluid_sag_p2_iso", "flair"),
        (MPRAGE, "mocoMEMPRAGE", "t1"),
        (MPRAGE, "SAG MPRAGE", "t1"),
        (MPRAGE, "AX FLAIR", "t1"),  # mislabelled: the header wins
        (T1_FLAIR, "AX T1 FLAIR", "t1"),
        (T1_FLAIR, "", "t1"),
        (MP2RAGE_INV2, "mp2rage_INV2", "t1"),
        (SE_T1, "AX T1 SE", "t1"),
        (SE_T1 | {"ContrastBolusAgent": "Gadovist"}, "AX T1 SE", "t1c"),
        (SE_T1, "AX T1 POST GAD", "t1c"),
        (T2_FSE, "AX FSE T2", "t2"),
        (T2_FSE, "", "t2"),
        (DWI, "ep2d_diff_b1000", OTHER),
        (STIR, "COR STIR", OTHER),
        (GRE_T2STAR, "AX GRE", OTHER),
        ({}, "AX FLAIR", "flair"),  # no timing: the description decides
        ({}, "SAG T1 MPRAGE", "t1"),
        ({}, "T2 TSE AX", "t2"),
        ({}, "sequence 7", None),
    ],
)
def test_series_sequence(timing, description, expected):
    kind = classify_series(_header(**timing), description)
    assert kind.sequence == expected
    assert not kind.warning


def test_what_is_said_of_a_t1_names_its_timing():
    kind = classify_series(_header(**MPRAGE), "SAG MPRAGE")
    assert kind.what == "a T1 (inversion-recovery gradient echo, TI 1200 ms, TE 2 ms, TR 2530 ms)"


def test_a_described_flair_without_inversion_tags_is_kept_with_a_warning():
    no_inversion = {"ScanningSequence": "SE", "RepetitionTime": 9000.0, "EchoTime": 120.0}
    kind = classify_series(_header(**no_inversion), "AX FLAIR")
    assert kind.sequence == "flair"
    assert "shows no inversion, TE 120 ms, TR 9000 ms" in kind.warning


def test_unusable_values_say_nothing():
    header = SimpleNamespace(ScanningSequence="SE", RepetitionTime="", EchoTime="n/a")
    kind = classify_series(header, "")
    assert kind.sequence is None and kind.what == "not recognised"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("t2_tirm_tra_dark-fluid", "flair"),
        ("AX T2 FLAIR", "flair"),
        ("AX T1FLAIR +C", "t1c"),
        ("DTI 30 dir", OTHER),
        ("Localizer", OTHER),
        ("AX T2*", OTHER),
        ("AX FSE T2", "t2"),
    ],
)
def test_description_sequence(text, expected):
    assert description_sequence(text) == expected
