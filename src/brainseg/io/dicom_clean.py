"""Patient and study attributes a derived DICOM object may copy, made valid.

Scanner and anonymiser headers break the standard in ordinary ways: ``PatientSex`` ``0000``,
dates of ``00000000``, single-component or over-long person names, missing type-2
attributes, character sets written by hand. highdicom copies these attributes into the
DICOM-SEG and refuses (or warns about) invalid ones. Here each is checked against its value
representation: a valid value is kept; an invalid or missing type-2 value becomes empty, as
the standard allows; an invalid optional one is left out. Each change is one note for the
QC record. The pixel data and the geometry are never touched.
"""

from __future__ import annotations

import copy
from typing import Any

# Type-2 attributes of the Patient and General Study modules that highdicom reads directly
TYPE2 = {
    "PatientName": "PN",
    "PatientID": "LO",
    "PatientBirthDate": "DA",
    "PatientSex": "CS",
    "StudyDate": "DA",
    "StudyTime": "TM",
    "ReferringPhysicianName": "PN",
    "StudyID": "SH",
    "AccessionNumber": "SH",
}
SEXES = {"M", "F", "O"}
UTF8 = "ISO_IR 192"
TEXT_VRS = {"AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "PN", "SH", "ST", "TM", "UC"}
TEXT_VRS |= {"UI", "UR", "UT"}


def _problem(vr: str, value: Any) -> str:
    """Why ``value`` is not valid for ``vr`` ("" when it is)."""
    from pydicom.config import RAISE
    from pydicom.multival import MultiValue
    from pydicom.valuerep import validate_value

    values = list(value) if isinstance(value, (list, tuple, MultiValue)) else [value]
    for item in values:
        try:
            validate_value(vr, item if isinstance(item, (str, bytes)) else str(item), RAISE)
        except ValueError as exc:
            return str(exc).split(". ")[0].rstrip(".")
    return ""


def _fixed(keyword: str, vr: str, value: Any) -> tuple[Any, str]:
    """The value to write for a type-2 attribute, and a note when it differs in meaning."""
    if value is None:
        return "", f"{keyword} missing: written empty"
    text = str(value).strip()
    if keyword == "PatientSex" and text.upper() not in SEXES | {""}:
        return "", f"PatientSex '{text}' is not M, F or O: written empty"
    if problem := _problem(vr, text):
        return "", f"{keyword} invalid ({problem}): written empty"
    if vr == "PN" and text and "^" not in text:
        return f"{text}^", ""  # the same name (PS3.5 6.2.1.2), unambiguous to highdicom
    return (text.upper() if keyword == "PatientSex" else value), ""


def _character_set(header) -> tuple[str | None, str]:
    """The character set to declare, and a note when it had to change."""
    from highdicom.enum import SpecificCharacterSetValues

    declared = header.get("SpecificCharacterSet")
    terms = [] if declared in (None, "") else [declared] if isinstance(declared, str) else declared
    try:
        for term in terms:
            SpecificCharacterSetValues(str(term))
    except ValueError:
        return UTF8, f"character set {'/'.join(map(str, terms))} not standard: SEG in UTF-8"
    non_ascii = any(
        isinstance(header.get(k), str) and not str(header.get(k)).isascii() for k in TYPE2
    )
    if not terms and non_ascii:
        return UTF8, "non-ASCII names without a character set: SEG in UTF-8"
    return declared, ""


def clean_headers(sources: list) -> tuple[list, list[str]]:
    """Copies of the source headers with valid patient and study attributes, and the notes
    saying what was changed (the same for every slice: they are one patient's)."""
    first = sources[0]
    values, notes = {}, []
    for keyword, vr in TYPE2.items():
        values[keyword], note = _fixed(keyword, vr, first.get(keyword))
        notes += [note] if note else []
    charset, note = _character_set(first)
    notes += [note] if note else []
    frame = None
    if any(not s.get("FrameOfReferenceUID") for s in sources):
        from pydicom.uid import generate_uid

        frame = str(first.get("FrameOfReferenceUID") or generate_uid())
        notes.append("FrameOfReferenceUID missing: one written for the SEG and its slices")
    cleaned = []
    for source in sources:
        header = copy.deepcopy(source)
        for keyword, value in values.items():
            setattr(header, keyword, value)
        if charset is not None:
            header.SpecificCharacterSet = charset
        if frame is not None:
            header.FrameOfReferenceUID = frame
        cleaned.append(header)
    return cleaned, notes


def clean_copied(dataset) -> list[str]:
    """Blank (type 2) or drop (optional) the invalid text attributes at the root of a built
    object (those it copied from the source: its own are valid); return the notes."""
    notes = []
    for element in list(dataset):
        keyword = element.keyword
        if element.VR not in TEXT_VRS or element.value in (None, ""):
            continue
        if problem := _problem(element.VR, element.value):
            if keyword in TYPE2:
                element.value = ""
                notes.append(f"{keyword} invalid ({problem}): written empty")
            else:
                del dataset[element.tag]
                notes.append(f"{keyword} invalid ({problem}): left out")
    return notes
