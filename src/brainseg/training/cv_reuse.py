"""``brainseg cv --reuse OLD``: a variant of a recipe's later stages without retraining the
earlier ones. Fold by fold, every leading stage that the finished cross-validation ``OLD``
trained with the same validated configuration (and the same folds) is linked from there;
the first stage that differs, and each one after it, trains in the new folder."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import yaml

from brainseg.config import load_config
from brainseg.data.splits import load_split
from brainseg.errors import BrainsegError
from brainseg.fileio import write_text
from brainseg.training.stages import stage_done


def check_reusable(old: Path, out: Path, folds: int, seed: int) -> None:
    """Refuse, before anything is written, a folder that is not another cross-validation or
    whose folds cannot be the same."""
    theirs = old / "cv.yaml"
    if old.resolve() == out.resolve() or not theirs.exists() or not (old / "folds.json").exists():
        raise BrainsegError(f"--reuse {old}: not another cross-validation folder (no cv.yaml)")
    saved = yaml.safe_load(theirs.read_text()) or {}
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
    if (Path(source) / "cv.yaml").exists():
        print(f"cv: {out}: stages still reused from {source} (cv.yaml)", file=sys.stderr)
        return Path(source)
    print(
        f"cv: {out}: the cross-validation it reused stages from, {source}, is gone; folds "
        "not yet linked train every stage here",
        file=sys.stderr,
    )
    return None


def reuse_stages(old: Path, out: Path, folds: dict, chosen: list[int], count: int) -> None:
    """Link into ``out`` each chosen fold's leading stages that ``old`` finished with the
    same validated configuration and folds; the first stage that differs, and every one
    after it, is left to train."""
    if load_split(old / "folds.json")["folds"] != folds["folds"]:
        raise BrainsegError(f"--reuse {old}: its folds differ from {out}'s; nothing can be reused")
    same = 0
    for n in range(1, count + 1):
        mine, theirs = out / "recipe" / f"stage{n}.yaml", old / "recipe" / f"stage{n}.yaml"
        if not theirs.exists() or load_config(theirs) != load_config(mine):
            break
        same = n
    for k in chosen:
        linked = []
        for n in range(1, same + 1):
            source, target = old / f"fold{k}" / f"stage{n}", out / f"fold{k}" / f"stage{n}"
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
        if linked:
            print(f"cv: fold {k}: stages {linked} reused from {old}", file=sys.stderr)
            _record(out, old, k, linked)


def _record(out: Path, old: Path, fold: int, stages: list[int]) -> None:
    """Note in ``cv.yaml`` which stages of which fold came from where (provenance)."""
    setup = yaml.safe_load((out / "cv.yaml").read_text())
    reused = setup.setdefault("reused", {"from": str(old.resolve()), "stages": {}})
    reused["stages"][f"fold{fold}"] = sorted({*reused["stages"].get(f"fold{fold}", []), *stages})
    write_text(out / "cv.yaml", yaml.safe_dump(setup, sort_keys=False))


def _link_or_copy(source: str, target: str) -> None:
    """A hard link where the file system allows it (no extra space), else a copy."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)
