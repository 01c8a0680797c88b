"""``brainseg cv --reuse OLD``: a variant of a recipe's later stages without retraining the
earlier ones. Fold by fold, every leading stage that the finished cross-validation ``OLD``
trained with the same validated configuration (and the same folds) is linked from there;
the first stage that differs, and each one after it, trains in the new folder."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from brainseg.config import load_config
from brainseg.errors import BrainsegError
from brainseg.evaluation.cv_layout import CVFolder
from brainseg.training.stages import stage_done


def check_reusable(old: Path, out: Path, folds: int, seed: int) -> None:
    """Refuse, before anything is written, a folder that is not another cross-validation or
    whose folds cannot be the same."""
    theirs = CVFolder(old)
    if old.resolve() == out.resolve() or not theirs.setup_file.exists() or not theirs.exists():
        raise BrainsegError(f"--reuse {old}: not another cross-validation folder (no cv.yaml)")
    saved = theirs.read_setup()
    if (saved.get("folds"), saved.get("seed")) != (folds, seed):
        raise BrainsegError(
            f"--reuse {old}: its folds differ ({saved.get('folds')} folds, seed "
            f"{saved.get('seed')}; here {folds}, seed {seed}); nothing can be reused"
        )


def saved_reuse(saved: dict, out: Path) -> Path | None:
    """The ``--reuse`` source that a resumed ``out`` recorded in its ``cv.yaml``, if it still
    exists (else said: the folds not yet linked then train every stage here)."""
    source = (saved.get("reused") or {}).get("from")
    if not source:
        return None
    if CVFolder(Path(source)).setup_file.exists():
        print(f"cv: {out}: stages still reused from {source} (cv.yaml)", file=sys.stderr)
        return Path(source)
    print(
        f"cv: {out}: the cross-validation it reused stages from, {source}, is gone; folds "
        "not yet linked train every stage here",
        file=sys.stderr,
    )
    return None


def reuse_stages(old: Path, cv: CVFolder, folds: dict, chosen: list[int], count: int) -> None:
    """Link into ``cv`` each chosen fold's leading stages that ``old`` finished with the
    same validated configuration and folds; the first stage that differs, and every one
    after it, is left to train."""
    theirs = CVFolder(old)
    if theirs.folds()["folds"] != folds["folds"]:
        raise BrainsegError(
            f"--reuse {old}: its folds differ from {cv.root}'s; nothing can be reused"
        )
    same = 0
    for n in range(1, count + 1):
        mine, other = cv.recipe_stage(n), theirs.recipe_stage(n)
        if not other.exists() or load_config(other) != load_config(mine):
            break
        same = n
    for k in chosen:
        linked = _link_fold(theirs, cv, k, same)
        if linked:
            print(f"cv: fold {k}: stages {linked} reused from {old}", file=sys.stderr)
            _record(cv, old, k, linked)


def _link_fold(theirs: CVFolder, cv: CVFolder, k: int, same: int) -> list[int]:
    """Link fold k's first ``same`` stages where ``theirs`` finished them; the stages
    linked now."""
    linked = []
    for n in range(1, same + 1):
        source, target = theirs.stage(k, n), cv.stage(k, n)
        if not stage_done(source):
            break
        if target.exists():
            if not (target / "last.ckpt").exists() or not os.path.samefile(
                target / "last.ckpt", source / "last.ckpt"
            ):
                break  # trained here: what follows must continue from these weights
            continue
        partial = target.with_name(target.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        shutil.copytree(source, partial, copy_function=_link_or_copy)
        partial.rename(target)
        linked.append(n)
    return linked


def _record(cv: CVFolder, old: Path, fold: int, stages: list[int]) -> None:
    """Note in ``cv.yaml`` which stages of which fold came from where (provenance)."""
    setup = cv.read_setup()
    reused = setup.setdefault("reused", {"from": str(old.resolve()), "stages": {}})
    reused["stages"][f"fold{fold}"] = sorted({*reused["stages"].get(f"fold{fold}", []), *stages})
    cv.write_setup(setup)


def _link_or_copy(source: str, target: str) -> None:
    """A hard link where the file system allows it (no extra space), else a copy."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)
