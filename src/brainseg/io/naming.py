"""File-name rules shared by the readers and the dataset layout.

A slice's number is the trailing integer of its stem (``TCGA_CS_4942_19970222_12`` is 12);
a mask file ends in ``_mask`` (or is named ``mask``); our own outputs end in ``_pred`` or
``_overlay`` and are never read back as inputs.
"""

from __future__ import annotations

import re
from pathlib import Path

IMAGE_SUFFIXES = (".tif", ".tiff", ".png", ".jpg", ".jpeg")
NIFTI_SUFFIXES = (".nii", ".nii.gz")
OUTPUT_SUFFIXES = ("_pred", "_overlay")
_NUMBER = re.compile(r"(\d+)$")


def slice_number(stem: str) -> int | None:
    match = _NUMBER.search(stem)
    return int(match.group(1)) if match else None


def slice_order_key(stem: str) -> tuple:
    """Numeric slice order, unnumbered names last and alphabetically."""
    number = slice_number(stem)
    return (number is None, number or 0, stem)


def is_mask_name(path: Path) -> bool:
    return path.stem.lower().endswith("_mask") or path.stem.lower() == "mask"


def is_image_file(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


def is_slice_input(path: Path) -> bool:
    """An image that ``predict`` should segment: not a mask, not one of our outputs."""
    return (
        is_image_file(path) and not is_mask_name(path) and not path.stem.endswith(OUTPUT_SUFFIXES)
    )


def is_nifti(path: str | Path) -> bool:
    name = str(path).lower()
    return name.endswith(".nii") or name.endswith(".nii.gz")


def nifti_stem(path: str | Path) -> str:
    name = Path(path).name
    return name[: -len(".nii.gz")] if name.lower().endswith(".nii.gz") else Path(name).stem
