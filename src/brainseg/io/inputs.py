"""From command-line paths to work items, and from a work item to volumes.

The rules, in order (docs/own-scans.md):

- a folder whose NIfTI files include one named for a sequence (``*_flair``, ``*_t1``,
  ``*_t1ce``...) is **one case**; its label files (``*_seg``, ``*_mask``, ``*_label``) and
  unused sequences (``*_t2``...) are skipped, and it must hold exactly one FLAIR;
- in any other folder, each NIfTI file is a FLAIR-only volume of its own (label files
  skipped); a folder, or a file given on its own, whose only volumes are named for another
  sequence (``*_t2``, ``*_T1w``) is refused: no FLAIR (``--flair FILE`` segments one anyway,
  with a QC warning);
- image slices are grouped by folder: one patient's slices form one volume, so that 3D
  post-processing sees the whole patient; a lone image file is an item of its own;
- DICOM files (with or without a ``.dcm`` suffix) are grouped into series and studies: one
  study is one case, its FLAIR and T1 series recognised from their descriptions
  (``brainseg.io.dicom``) unless ``flair_series`` names the FLAIR's SeriesInstanceUID;
- folders are searched recursively, so a folder of case folders is a batch of cases.

A problem with one case (no FLAIR, two FLAIRs) is one (path, reason) line; the other
cases are still found.
"""

from __future__ import annotations

from pathlib import Path

from brainseg.io.cases import CaseReader, case_sequences
from brainseg.io.dicom import dicom_studies, is_dicom_file
from brainseg.io.naming import OUTPUT_SUFFIXES, is_nifti, nifti_stem, slice_order_key
from brainseg.io.readers import InputItem, NiftiReader, Problem, reader_for
from brainseg.io.sequences import FLAIR, IGNORED, LABEL, T1, T1C, T2, sequence_of
from brainseg.io.volume import Volume

CASE_READER = CaseReader()


def find_inputs(
    inputs: list[str | Path], flair_series: str | None = None, notices: list | None = None
) -> tuple[list[InputItem], list[Problem]]:
    """Work items for files and folders (searched recursively), and the paths that give none.
    ``notices`` collects what was skipped on purpose (non-image DICOM objects)."""
    items: list[InputItem] = []
    problems: list[Problem] = []
    for raw in inputs:
        path = Path(raw)
        if not path.exists():
            problems.append(Problem(str(path), "no such file or folder"))
        elif path.is_dir():
            found, bad = _scan_folder(path, flair_series, notices)
            if not found and not bad:
                problems.append(Problem(str(path), "folder holds no images or NIfTI volumes"))
            items += found
            problems += bad
        elif (reader := reader_for(path)) is not None:
            if isinstance(reader, NiftiReader) and (named := _named_not_flair(path)):
                problems.append(Problem(str(path), f"no FLAIR: {named}; {ANYWAY} --flair {path}"))
            else:
                items.append(InputItem(reader, path, Path(), [path]))
        else:
            problems.append(
                Problem(str(path), f"unsupported file type '{path.suffix or path.name}'")
            )
    return items, problems


def case_item(flair: str | Path, t1: str | Path | None = None, t1c: str | Path | None = None):
    """One case named file by file (``predict --flair F [--t1 F] [--t1c F]``)."""
    sequences = {FLAIR: Path(flair), T1: t1, T1C: t1c}
    sequences = {name: Path(p) for name, p in sequences.items() if p is not None}
    missing = [str(p) for p in sequences.values() if not p.is_file()]
    if missing:
        return None, [Problem(m, "no such file") for m in missing]
    source = Path(nifti_stem(sequences[FLAIR]))
    item = InputItem(CASE_READER, source, Path(), list(sequences.values()), sequences)
    if named := _named_not_flair(sequences[FLAIR]):
        item.warnings.append(
            f"the FLAIR given with --flair, {named}: "
            "the model expects a FLAIR, so the mask is likely wrong"
        )
    return item, []


NOT_FLAIR_NAMES = {T1: "a T1", T1C: "a post-contrast T1", T2: "a T2", IGNORED: "not a FLAIR"}
NOT_FLAIR_NAMES[LABEL] = "a label file, not an image"
ANYWAY = "to segment it as a FLAIR anyway, give it as"


def _named_not_flair(path: Path) -> str:
    """ "is named as a T1" where the file's name says it is not a FLAIR, else ""."""
    sequence = sequence_of(path)
    if sequence not in NOT_FLAIR_NAMES:
        return ""
    return f"{path.name} is named as {NOT_FLAIR_NAMES[sequence]}"


def _is_own_output(path: Path) -> bool:
    stem = nifti_stem(path) if is_nifti(path) else path.stem
    return stem.endswith(OUTPUT_SUFFIXES) or stem.endswith("_prob")


def _scan_folder(
    root: Path, flair_series: str | None = None, notices: list | None = None
) -> tuple[list[InputItem], list[Problem]]:
    items: list[InputItem] = []
    problems: list[Problem] = []
    slice_groups: dict[Path, list[Path]] = {}
    nifti_groups: dict[Path, list[Path]] = {}
    dicom_files: list[Path] = []
    for file in sorted(root.rglob("*")):
        if not file.is_file() or file.name.startswith(".") or _is_own_output(file):
            continue
        reader = reader_for(file)
        if reader is None:
            if is_dicom_file(file):
                dicom_files.append(file)
            continue
        if isinstance(reader, NiftiReader):
            nifti_groups.setdefault(file.parent, []).append(file)
        elif reader.group_by_folder:
            slice_groups.setdefault(file.parent, []).append(file)
        else:
            items.append(InputItem(reader, file, file.parent.relative_to(root), [file]))
    for folder, files in sorted(nifti_groups.items()):
        found, bad = _folder_volumes(root, folder, files)
        items += found
        problems += bad
    for folder, files in sorted(slice_groups.items()):
        files = sorted(files, key=lambda f: slice_order_key(f.stem))
        items.append(InputItem(reader_for(files[0]), folder, folder.relative_to(root), files))
    if dicom_files:
        found, bad = dicom_studies(root, dicom_files, flair_series, notices)
        items += found
        problems += bad
    return items, problems


def _folder_volumes(root: Path, folder: Path, files: list[Path]):
    """One folder's NIfTI files: a case when any is named for a sequence the model uses,
    else each unnamed file on its own."""
    named = [f for f in files if sequence_of(f) in (FLAIR, T1, T1C)]
    if named:
        sequences, problems = case_sequences(named)
        if problems:
            return [], problems
        rel = folder.parent.relative_to(root) if folder != root else Path()
        return [InputItem(CASE_READER, folder, rel, list(sequences.values()), sequences)], []
    reader = reader_for(files[0])
    rel = folder.relative_to(root)  # labels and unused sequences have a name: skipped
    unnamed = [InputItem(reader, f, rel, [f]) for f in files if sequence_of(f) is None]
    images = [f for f in files if sequence_of(f) != LABEL]
    if unnamed or not images:
        return unnamed, []
    named = "; ".join(_named_not_flair(f) for f in images)
    return [], [Problem(str(folder), f"no FLAIR: {named}; {ANYWAY} --flair FILE")]


def read_item(item: InputItem) -> tuple[list[Volume], list[Problem]]:
    """Decode one work item; a problem with the whole item raises ``InputError``. The item's
    warnings (a FLAIR the user named that is not one) go with each of its volumes."""
    volumes, problems = item.reader.read(item)
    for volume in volumes:
        volume.warnings = item.warnings + volume.warnings
    return volumes, problems
