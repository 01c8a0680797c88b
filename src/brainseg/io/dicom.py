"""DICOM input: series found anywhere under a folder, with or without a ``.dcm`` suffix.

Files are grouped by SeriesInstanceUID and series by StudyInstanceUID (one study is one
case). Slices are ordered by their position along the slice normal (ImagePositionPatient
projected on the cross product of ImageOrientationPatient's two directions), never by
file name or InstanceNumber; the affine comes from those tags and PixelSpacing, turned from
DICOM's LPS into NIfTI's RAS. RescaleSlope and RescaleIntercept are applied.

Sequences are recognised from the acquisition header (inversion, TI, TE, TR) and then from
SeriesDescription, ProtocolName and SequenceName (``brainseg.io.dicom_sequence``). A series
that is positively not a FLAIR (a T1 MPRAGE, a T2) is never taken as the FLAIR, and one
series never stands for two sequences; ``--flair-series UID`` overrides the choice, with a
QC warning where it names a series that is not a FLAIR. Problems are one line
naming the series or file: missing or duplicate positions, uneven spacing (warned, or
refused beyond 50%), mixed orientations, truncated files, transfer syntaxes without a
decoder (naming the package to install), a study with no FLAIR (saying what its series
are).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from brainseg.io.dicom_sequence import SeriesKind, classify_series
from brainseg.io.readers import InputError, InputItem, Problem, Reader
from brainseg.io.sequences import FLAIR, T1, T1C
from brainseg.io.volume import Volume

NON_IMAGE_MODALITIES = {"SR", "SEG", "PR", "KO", "RTSTRUCT", "REG", "DOC", "PLAN"}
UNEVEN_WARN, UNEVEN_REFUSE = 0.1, 0.5  # relative deviation of slice gaps from their median
DECODERS = {
    "1.2.840.10008.1.2.4.90": "pylibjpeg pylibjpeg-openjpeg",  # JPEG 2000 lossless
    "1.2.840.10008.1.2.4.91": "pylibjpeg pylibjpeg-openjpeg",
    "1.2.840.10008.1.2.4.50": "pylibjpeg pylibjpeg-libjpeg",  # JPEG baseline
    "1.2.840.10008.1.2.4.57": "pylibjpeg pylibjpeg-libjpeg",  # JPEG lossless
    "1.2.840.10008.1.2.4.70": "pylibjpeg pylibjpeg-libjpeg",
    "1.2.840.10008.1.2.4.80": "pylibjpeg pylibjpeg-libjpeg",  # JPEG-LS
    "1.2.840.10008.1.2.4.81": "pylibjpeg pylibjpeg-libjpeg",
    "1.2.840.10008.1.2.5": "pylibjpeg pylibjpeg-rle",  # RLE
}


def is_dicom_file(path: Path) -> bool:
    """The DICOM preamble: 'DICM' at byte 128 (Part 10 files, as scanners write them)."""
    try:
        with open(path, "rb") as f:
            f.seek(128)
            return f.read(4) == b"DICM"
    except OSError:
        return False


@dataclass
class Series:
    uid: str
    study: str
    description: str
    files: list[Path] = field(default_factory=list)
    number: str = ""
    kind: SeriesKind = SeriesKind(None)

    @property
    def label(self) -> str:
        """How messages name the series: its number and description."""
        return f"series {self.number or '?'} '{self.description or '?'}'"


def _text(header, *keys: str) -> str:
    return " ".join(str(getattr(header, key, "") or "") for key in keys).strip()


def scan_series(files: list[Path]) -> tuple[dict[str, Series], list[Problem], list[Problem]]:
    """DICOM image series among ``files``; problems (unreadable files) and notices
    (non-image objects, skipped)."""
    import pydicom

    series: dict[str, Series] = {}
    problems: list[Problem] = []
    notices: list[Problem] = []
    for file in files:
        try:
            header = pydicom.dcmread(file, stop_before_pixels=True)
        except Exception as exc:
            problems.append(Problem(str(file), f"unreadable DICOM file ({type(exc).__name__})"))
            continue
        modality = str(getattr(header, "Modality", "") or "")
        if modality in NON_IMAGE_MODALITIES or "Rows" not in header:
            notices.append(Problem(str(file), f"skipped: not an image ({modality or 'no pixels'})"))
            continue
        uid = str(getattr(header, "SeriesInstanceUID", "") or f"no-uid:{file.parent}")
        if uid not in series:
            description = _text(header, "SeriesDescription", "ProtocolName", "SequenceName")
            series[uid] = Series(
                uid,
                str(getattr(header, "StudyInstanceUID", "") or "no-study"),
                description,
                number=str(getattr(header, "SeriesNumber", "") or ""),
                kind=classify_series(header, description),
            )
        series[uid].files.append(file)
    return series, problems, notices


@dataclass
class DicomItem(InputItem):
    """A study: the files of each sequence's series, and a name for its outputs."""

    series: dict[str, list[Path]] = field(default_factory=dict)
    series_names: dict[str, str] = field(default_factory=dict)  # for messages
    case_name: str = ""

    @property
    def name(self) -> str:
        return self.case_name


class DicomReader(Reader):
    """One study: its FLAIR series plus any pre- and post-contrast T1 series."""

    kind = "dicom"

    def accepts(self, path: Path) -> bool:
        return False  # found per folder by brainseg.io.inputs

    def read(self, item: InputItem) -> tuple[list[Volume], list[Problem]]:
        from brainseg.io.cases import on_flair_grid

        flair = read_series(item.series[FLAIR], item.series_names[FLAIR])
        others = {
            name: (read_series(item.series[name], label), Path(label))
            for name, label in item.series_names.items()
            if name in (T1, T1C)
        }
        return [on_flair_grid(flair, others, item.name)], []


def read_series(files: list[Path], label: str) -> Volume:
    """One series as a single-channel volume in slice-normal order, RAS affine."""
    import pydicom

    datasets = []
    for file in files:
        try:
            datasets.append(pydicom.dcmread(file))
        except Exception as exc:
            raise InputError(file, f"unreadable DICOM file ({type(exc).__name__})") from None
    try:
        orientations = {
            tuple(np.round(np.asarray(d.ImageOrientationPatient, float), 4)) for d in datasets
        }
        positions = [np.asarray(d.ImagePositionPatient, float) for d in datasets]
        spacing = np.asarray(datasets[0].PixelSpacing, float)
    except (AttributeError, ValueError, TypeError):
        raise InputError(
            label, "slices lack ImagePositionPatient, ImageOrientationPatient or PixelSpacing"
        ) from None
    if len(orientations) > 1:
        raise InputError(label, f"mixed slice orientations in one series ({len(orientations)})")
    iop = np.asarray(next(iter(orientations)))
    row_dir, col_dir = iop[:3], iop[3:]
    normal = np.cross(row_dir, col_dir)
    depth = np.array([float(p @ normal) for p in positions])
    order = np.argsort(depth, kind="stable")
    depth = depth[order]
    datasets = [datasets[i] for i in order]
    files = [files[i] for i in order]
    notes: list[str] = []
    if len(depth) > 1:
        gaps = np.diff(depth)
        if (gaps < 1e-3).any():
            raise InputError(label, "duplicate slice positions (two slices at the same place)")
        median = float(np.median(gaps))
        worst = float(np.max(np.abs(gaps - median)) / median)
        if worst > UNEVEN_REFUSE:
            raise InputError(
                label,
                f"uneven slice spacing (gaps {gaps.min():.2f}..{gaps.max():.2f} mm): "
                "missing slices?",
            )
        if worst > UNEVEN_WARN:
            notes.append(f"uneven slice spacing ({gaps.min():.2f}..{gaps.max():.2f} mm)")
        step = (positions[order[-1]] - positions[order[0]]) / (len(depth) - 1)
    else:
        thickness = float(getattr(datasets[0], "SliceThickness", 1.0) or 1.0)
        step = normal * thickness
    lps = np.eye(4)
    lps[:3, 0] = row_dir * spacing[1]  # column index runs along the row direction
    lps[:3, 1] = col_dir * spacing[0]
    lps[:3, 2] = step
    lps[:3, 3] = positions[order[0]]
    affine = np.diag([-1.0, -1.0, 1.0, 1.0]) @ lps  # DICOM LPS -> NIfTI RAS
    slices = np.stack([_pixels(d, f, label) for d, f in zip(datasets, files, strict=True)])
    volume = Volume(slices[..., None], affine, (FLAIR,), label)
    volume.notes, volume.slice_files = notes, [str(f) for f in files]
    return volume


def _pixels(dataset, file: Path, label: str) -> np.ndarray:
    syntax = str(getattr(getattr(dataset, "file_meta", None), "TransferSyntaxUID", ""))
    try:
        array = dataset.pixel_array
    except Exception as exc:
        if syntax in DECODERS:
            raise InputError(
                file,
                f"compressed pixel data ({syntax}) needs a decoder: pip install {DECODERS[syntax]}",
            ) from None
        raise InputError(
            file, f"pixel data unreadable ({type(exc).__name__}: truncated file?)"
        ) from None
    if array.ndim != 2:
        raise InputError(
            file,
            f"expected one 2D frame per file, got shape {array.shape} "
            "(multi-frame DICOM is not supported yet)",
        )
    slope = float(getattr(dataset, "RescaleSlope", 1.0) or 1.0)
    intercept = float(getattr(dataset, "RescaleIntercept", 0.0) or 0.0)
    return array.astype(np.float32) * slope + intercept


DICOM_READER = DicomReader()


def dicom_studies(
    root: Path, files: list[Path], flair_series: str | None = None, notices: list | None = None
) -> tuple[list[InputItem], list[Problem]]:
    """One item per study found among ``files``; one problem per study that cannot be used."""
    import os

    series, problems, skipped = scan_series(files)
    if notices is not None:
        notices += skipped
    studies: dict[str, list[Series]] = {}
    for entry in series.values():
        studies.setdefault(entry.study, []).append(entry)
    items: list[InputItem] = []
    names: set[tuple[Path, str]] = set()
    for study, members in sorted(studies.items()):
        chosen, warnings, problem = _choose(members, flair_series)
        all_files = [f for m in members for f in m.files]
        common = Path(os.path.commonpath([str(f.parent) for f in all_files]))
        label = f"{common} (study {study})"
        if problem:
            problems.append(Problem(label, problem))
            continue
        flair = chosen[FLAIR]
        rel = common.parent.relative_to(root) if common != root else Path()
        name = common.name
        if (rel, name) in names:
            name = f"{name}_s{flair.number or flair.uid[-6:]}"
        names.add((rel, name))
        item = DicomItem(DICOM_READER, common, rel, [f for s in chosen.values() for f in s.files])
        item.series = {seq: s.files for seq, s in chosen.items()}
        item.series_names = {
            seq: f"{common} (series {s.number or '?'} '{s.description}')"
            for seq, s in chosen.items()
        }
        item.case_name = name
        item.warnings = warnings
        items.append(item)
    return items, problems


def _choose(members: list[Series], flair_series: str | None):
    """The study's series per sequence, QC warnings about the choice, and a reason why the
    study has no usable FLAIR ("" when it has one)."""
    warnings: list[str] = []
    if flair_series:
        match = [m for m in members if m.uid == flair_series]
        if not match:
            return {}, [], f"no series {flair_series} in this study (--flair-series)"
        flair = match[0]
        if flair.kind.sequence not in (FLAIR, None):
            warnings.append(
                f"--flair-series names {flair.label}, {flair.kind.what}, as the FLAIR: "
                "the model expects a FLAIR, so the mask is likely wrong"
            )
    else:
        flairs = [m for m in members if m.kind.sequence == FLAIR]
        if not flairs and len(members) == 1 and members[0].kind.sequence is None:
            flairs = members
            warnings.append(
                f"{members[0].label} is not recognised as a FLAIR by its header or "
                "description: segmented as one"
            )
        if not flairs:
            return {}, [], _no_flair(members)
        flairs.sort(key=lambda m: -len(m.files))  # the longest: usually the volume
        flair = flairs[0]
    if flair.kind.warning:
        warnings.append(flair.kind.warning)
    chosen = {FLAIR: flair}
    for sequence in (T1, T1C):
        found = [m for m in members if m.kind.sequence == sequence and m is not flair]
        if found:
            chosen[sequence] = max(found, key=lambda m: len(m.files))
    return chosen, warnings, ""


def _no_flair(members: list[Series]) -> str:
    """The one line for a study without a FLAIR: what each series is, and the way out."""
    if len(members) == 1:
        (only,) = members
        return (
            f"no FLAIR: the only series, '{only.description or '?'}', is {only.kind.what}; "
            f"to segment it anyway, name it with --flair-series {only.uid}"
        )
    found = "; ".join(f"'{m.description or '?'}': {m.kind.what}" for m in members)
    return f"no FLAIR series among {len(members)} ({found}); choose one with --flair-series UID"
