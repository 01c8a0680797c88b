"""Turn ``predict`` arguments into work items: single images, folders of slices (one item
per folder, so patient-level post-processing sees the whole volume) and NIfTI volumes."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from brainseg.data.discovery import is_mask_name, slice_number
from brainseg.data.imageio import IMAGE_SUFFIXES
from brainseg.inference.nifti import is_nifti

OUTPUT_SUFFIXES = ("_pred", "_overlay")


@dataclass
class WorkItem:
    """``kind`` is image, volume (folder of slices) or nifti. ``rel`` is the output folder
    relative to ``--out``; ``files`` are the input files in slice order."""

    kind: str
    source: Path
    rel: Path
    files: list[Path] = field(default_factory=list)


def _is_slice_image(path: Path) -> bool:
    return (
        path.suffix.lower() in IMAGE_SUFFIXES
        and not path.name.startswith(".")
        and not is_mask_name(path)
        and not path.stem.endswith(OUTPUT_SUFFIXES)
    )


def _slice_key(path: Path) -> tuple:
    number = slice_number(path.stem)
    return (number is None, number or 0, path.name)


def collect(inputs: list[str | Path]) -> tuple[list[WorkItem], list[tuple[str, str]]]:
    """Return (items, problems) where a problem is (path, reason)."""
    items: list[WorkItem] = []
    problems: list[tuple[str, str]] = []
    for raw in inputs:
        path = Path(raw)
        if not path.exists():
            problems.append((str(path), "no such file or folder"))
        elif path.is_dir():
            groups: dict[Path, list[Path]] = {}
            for file in sorted(path.rglob("*")):
                if file.is_file() and is_nifti(file):
                    items.append(WorkItem("nifti", file, file.parent.relative_to(path), [file]))
                elif file.is_file() and _is_slice_image(file):
                    groups.setdefault(file.parent, []).append(file)
            for folder, files in sorted(groups.items()):
                items.append(
                    WorkItem(
                        "volume", folder, folder.relative_to(path), sorted(files, key=_slice_key)
                    )
                )
            if not groups and not any(i.source.is_relative_to(path) for i in items):
                problems.append((str(path), "folder holds no images or NIfTI volumes"))
        elif is_nifti(path):
            items.append(WorkItem("nifti", path, Path(), [path]))
        elif path.suffix.lower() in IMAGE_SUFFIXES:
            items.append(WorkItem("image", path, Path(), [path]))
        else:
            problems.append((str(path), f"unsupported file type '{path.suffix or path.name}'"))
    return items, problems
