"""An ensemble of recipes scored out of fold, the way nnU-Net chooses between configurations.

Two cross-validations made with the same folds (``--folds`` and ``--seed``) hold out every
patient in the same fold, so the mean of their last stages' saved out-of-fold probabilities
is what an ensemble of the two recipes would predict for that patient, trained without it.
:func:`ensemble_cv` writes that mean as a cross-validation of its own (``OUT/folds.json``,
``OUT/cv_ensemble.yaml``, ``OUT/fold<k>/oof/``) and scores it with the same report
(:mod:`brainseg.evaluation.crossval`), so that ``brainseg cv-compare`` can pair it with
either member. Unlike an ensemble of one recipe's fold models, this one has an
out-of-fold figure: each member is one model per fold. ``gate`` scores what a bundle made
with ``brainseg bundle --gate`` predicts: the other members count only on slices where the
first member's probability reaches it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from brainseg.data.splits import save_split
from brainseg.errors import BrainsegError
from brainseg.evaluation.crossval import (
    OOF_KEYS,
    OOF_SCALE,
    oof_complete,
    save_oof,
    write_cv_report,
)
from brainseg.evaluation.cv_layout import CVFolder
from brainseg.fileio import write_text


def _oof_dir(member: CVFolder) -> str:
    """Where ``member``'s report read its predictions (``stage<n>/oof``), relative to a fold."""
    try:
        return json.loads((member.report() / "metrics.json").read_text())["predictions"].replace(
            "fold<k>/", ""
        )
    except (OSError, ValueError, KeyError):
        raise BrainsegError(
            f"{member.root}: no report/metrics.json naming its predictions; run "
            "'brainseg cv report' there first"
        ) from None


def _gated_mean(arrays: list[np.ndarray], gate: float | None) -> np.ndarray:
    """The mean of the members' saved (0-255) probabilities; with ``gate``, the others
    count as 0 on slices where the first stays under it (what ``Ensemble`` does)."""
    if gate is None:
        return sum(arrays) / (OOF_SCALE * len(arrays))
    first = arrays[0]
    passes = first.reshape(len(first), -1).max(axis=1) >= gate * OOF_SCALE
    others = sum(arrays[1:]) * passes[:, None, None]
    return (first + others) / (OOF_SCALE * len(arrays))


def _member_folds(members: list[CVFolder], out: Path) -> dict[str, Any]:
    """The members' common folds; refused unless they are two or more with the same folds."""
    if len(members) < 2:
        raise BrainsegError("cv ensemble: give at least two cross-validation folders")
    if out.resolve() in [m.root.resolve() for m in members]:
        raise BrainsegError(f"{out}: is one of the members; write the ensemble elsewhere")
    folds = [m.folds() for m in members]
    for member, split in zip(members[1:], folds[1:], strict=True):
        if split["folds"] != folds[0]["folds"]:
            raise BrainsegError(
                f"{member.root}: its folds differ from those of {members[0].root}; ensemble "
                "cross-validations made with the same --folds and --seed"
            )
    return folds[0]


def _load_members(paths: list[Path]) -> list[list[np.ndarray]]:
    """Each member's saved arrays (OOF_KEYS order) for one patient, of one shape."""
    loaded = []
    for path in paths:
        with np.load(path) as saved:
            loaded.append([saved[key].astype(np.float32) for key in OOF_KEYS])
        if loaded[-1][0].shape != loaded[0][0].shape:
            raise BrainsegError(
                f"{path}: shape {loaded[-1][0].shape} differs from {paths[0]}'s "
                f"{loaded[0][0].shape}"
            )
    return loaded


def ensemble_cv(
    members: list[str | Path],
    out: str | Path,
    data: str | Path | None = None,
    gate: float | None = None,
) -> dict[str, Any]:
    """Average the members' out-of-fold probabilities (all sequences, FLAIR alone, INT8) on
    every patient that all of them hold out, write ``out`` and its report; return the
    report's metrics."""
    members = [CVFolder(Path(m)) for m in members]
    cv = CVFolder(Path(out))
    split = _member_folds(members, cv.root)
    data = data or members[0].data()
    oof_dirs = [_oof_dir(m) for m in members]
    written = 0
    for k, fold in enumerate(split["folds"]):
        for patient in fold["val"]:
            paths = [
                m.oof(k, oof) / f"{patient}.npz" for m, oof in zip(members, oof_dirs, strict=True)
            ]
            if not all(oof_complete(p) for p in paths):
                continue
            loaded = _load_members(paths)
            means = [_gated_mean(list(arrays), gate) for arrays in zip(*loaded, strict=True)]
            save_oof(cv.oof(k, "oof") / f"{patient}.npz", *means)
            written += 1
    if not written:
        raise BrainsegError(
            f"cv ensemble: {', '.join(str(m.root) for m in members)} share no finished "
            "out-of-fold patient"
        )
    save_split(split, cv.folds_file)
    setup = {"data": str(data), "members": [str(m.root) for m in members], "patients": written}
    if gate is not None:
        setup["gate"] = gate
    write_text(cv.root / "cv_ensemble.yaml", yaml.safe_dump(setup, sort_keys=False))
    return write_cv_report(data, cv, split)
