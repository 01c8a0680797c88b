"""Train/validation/test splits by patient (default) or by slice (for comparison only).

The default fractions: 10% of patients for test first, then 20% of the rest for validation.
The same seed always gives a byte-identical JSON file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sklearn.model_selection import KFold, train_test_split

from brainseg.errors import BrainsegError
from brainseg.fileio import write_text

SLICE_SPLIT_WARNING = (
    "warning: a slice-level split puts neighbouring slices of the same patient in train and "
    "test; its scores are inflated and only useful for comparison with the original report"
)


def _count(n: int, fraction: float) -> int:
    return 0 if fraction <= 0 else max(1, round(n * fraction))


def _divide(items: list[str], test: float, val: float, seed: int) -> dict[str, list[str]]:
    items = sorted(items)
    n_test = _count(len(items), test)
    if n_test >= len(items):
        raise BrainsegError(f"cannot hold out {n_test} of {len(items)} items for test")
    rest, test_items = (
        (items, []) if n_test == 0 else train_test_split(items, test_size=n_test, random_state=seed)
    )
    n_val = _count(len(rest), val)
    if n_val >= len(rest):
        raise BrainsegError(f"too few items ({len(items)}) for a train/val/test split")
    train, val_items = (
        (rest, []) if n_val == 0 else train_test_split(rest, test_size=n_val, random_state=seed)
    )
    return {"train": sorted(train), "val": sorted(val_items), "test": sorted(test_items)}


def make_split(
    patients: dict[str, list[str]],
    seed: int = 42,
    test: float = 0.1,
    val: float = 0.2,
    by: str = "patient",
    folds: int | None = None,
) -> dict[str, Any]:
    """Build a split from ``{patient: [slice stems]}``.

    By patient, lists hold patient folder names. By slice, they hold ``patient/stem`` ids.
    With ``folds``, the non-test patients are cut into K disjoint validation folds as well;
    ``train``/``val`` are then those of fold 0.
    """
    if by not in ("patient", "slice"):
        raise BrainsegError(f"split: --by must be 'patient' or 'slice', not '{by}'")
    items = (
        list(patients)
        if by == "patient"
        else [f"{p}/{s}" for p, stems in patients.items() for s in stems]
    )
    split: dict[str, Any] = {
        "by": by,
        "seed": seed,
        "test_fraction": test,
        "val_fraction": val,
    }
    split.update(_divide(items, test, val, seed))
    if folds:
        if by != "patient":
            raise BrainsegError("split: --folds needs --by patient")
        rest = sorted(split["train"] + split["val"])
        if not 2 <= folds <= len(rest):
            raise BrainsegError(f"split: --folds must be between 2 and {len(rest)}")
        kfold = KFold(n_splits=folds, shuffle=True, random_state=seed)
        split["folds"] = [
            {"train": sorted(rest[i] for i in tr), "val": sorted(rest[i] for i in va)}
            for tr, va in kfold.split(rest)
        ]
        split["train"], split["val"] = split["folds"][0]["train"], split["folds"][0]["val"]
    return split


def final_fit_split(split: dict[str, Any]) -> dict[str, Any]:
    """The split for refitting a recipe, once chosen on validation, on every non-test patient.

    ``train`` becomes train + val; ``val`` keeps the validation patients for monitoring only
    (they are trained on, so their scores are not held out, and a run should keep its last
    checkpoint, not its "best"). ``test`` is unchanged, so it stays held out.
    """
    if split.get("by") != "patient":
        raise BrainsegError("split: --final-fit needs --by patient")
    refit = {k: v for k, v in split.items() if k != "folds"}
    refit["train"] = sorted(split["train"] + split["val"])
    refit["final_fit"] = True
    return refit


def split_to_json(split: dict[str, Any]) -> str:
    return json.dumps(split, indent=2) + "\n"


def save_split(split: dict[str, Any], path: str | Path) -> None:
    write_text(path, split_to_json(split))


def load_split(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        split = json.loads(path.read_text())
    except OSError as exc:
        raise BrainsegError(f"{path}: cannot read split ({exc.strerror})") from None
    except json.JSONDecodeError:
        raise BrainsegError(f"{path}: not a valid split JSON file") from None
    if not isinstance(split, dict) or not all(k in split for k in ("train", "val", "test")):
        raise BrainsegError(f"{path}: split must hold 'train', 'val' and 'test' lists")
    split.setdefault("by", "patient")
    return split


def subset_items(split: dict[str, Any], subset: str) -> list[str]:
    """Items of one subset, or of all three for ``subset='all'``."""
    if subset == "all":
        return sorted(split["train"] + split["val"] + split["test"])
    if subset not in ("train", "val", "test"):
        raise BrainsegError(f"subset must be train, val, test or all, not '{subset}'")
    return list(split[subset])
