"""Find patients and image/mask pairs in the Kaggle LGG layout.

``DIR/<patient>/<patient>_<n>.tif`` pairs with ``<patient>_<n>_mask.tif`` (PNG works the same
way). Pairs are found from the ``mask`` in the file name; slices are ordered by ``<n>``,
numerically. Loose files beside the patient folders (``data.csv``, ``README.md``) and the
duplicate ``lgg-mri-segmentation/`` copy of the Kaggle zip are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from brainseg.errors import Problem
from brainseg.io.naming import is_image_file, is_mask_name, slice_number

__all__ = ["PatientFiles", "SlicePair", "discover", "is_mask_name", "pair_slices", "slice_number"]

IGNORED_DIRS = {"lgg-mri-segmentation", "__MACOSX"}


@dataclass
class SlicePair:
    """One slice: its number, image file and mask file (either may be missing)."""

    stem: str
    number: int | None
    image: Path | None = None
    mask: Path | None = None


@dataclass
class PatientFiles:
    name: str
    folder: Path
    slices: list[SlicePair] = field(default_factory=list)


def _sort_key(pair: SlicePair) -> tuple:
    return (pair.number is None, pair.number if pair.number is not None else 0, pair.stem)


def pair_slices(files: list[Path]) -> list[SlicePair]:
    """Group image files into image/mask pairs by stem, ordered by slice number."""
    pairs: dict[str, SlicePair] = {}
    for path in files:
        if is_mask_name(path):
            stem = path.stem[: -len("_mask")] if path.stem.lower().endswith("_mask") else ""
            pair = pairs.setdefault(stem, SlicePair(stem, slice_number(stem)))
            pair.mask = path
        else:
            pair = pairs.setdefault(path.stem, SlicePair(path.stem, slice_number(path.stem)))
            pair.image = path
    return sorted(pairs.values(), key=_sort_key)


def image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and is_image_file(p))


def resolve_root(root: Path) -> Path:
    """Accept the unzipped Kaggle archive too: ``archive/kaggle_3m`` is the real root."""
    inner = root / "kaggle_3m"
    if inner.is_dir() and not image_files(root):
        return inner
    return root


def discover(root: str | Path) -> tuple[list[PatientFiles], list[dict[str, str]]]:
    """List patient folders and their slice pairs; return (patients, problems)."""
    root = Path(root)
    if not root.exists():
        return [], [Problem(str(root), "folder does not exist")]
    if not root.is_dir():
        return [], [Problem(str(root), "not a folder")]
    root = resolve_root(root)
    folders = sorted(
        p
        for p in root.iterdir()
        if p.is_dir() and not p.name.startswith(".") and p.name not in IGNORED_DIRS
    )
    if not folders and image_files(root):
        folders = [root]  # a single patient's slices given directly
    if not folders:
        return [], [Problem(str(root), "no patient folders with image slices")]
    patients, problems = [], []
    for folder in folders:
        slices = pair_slices(image_files(folder))
        if not slices:
            problems.append(Problem(str(folder), "folder has no image slices"))
            continue
        patients.append(PatientFiles(folder.name, folder, slices))
    return patients, problems
