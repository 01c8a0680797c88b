"""``brainseg cv run``: K-fold cross-validation by patient, the nnU-Net way.

The folder's layout is :class:`brainseg.evaluation.cv_layout.CVFolder`'s. Each fold trains
the recipe's stages in turn (stage n from stage n-1's last weights, as ``make retrain-lgg``
chains them), from each stage's configuration as validated when the run began, then saves
the last stage's out-of-fold probabilities (with all sequences, with the FLAIR alone and
through an INT8 export calibrated on the fold's training patients). The pooled report is
:mod:`brainseg.evaluation.crossval`'s.

A finished cross-validation can be extended by stages appended to its recipe (``--resume``
with the saved stages and then the new ones): the folds continue from their last weights,
and the report moves to the new last stage, the old one staying in ``report_stage<n>``.
``--reuse OLD`` takes the leading stages that another cross-validation trained alike from
there (:mod:`brainseg.training.cv_reuse`); ``--jobs N`` trains N folds side by side
(:mod:`brainseg.training.cv_jobs`).

Only last weights are used: the held-out patients are watched during training (``val``) but
never choose an epoch, a threshold or a post-processing, so their scores stay out-of-fold.
"""

from __future__ import annotations

import contextlib
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from brainseg.config import load_config, save_config
from brainseg.data.splits import load_split, make_split, save_split
from brainseg.errors import BrainsegError
from brainseg.evaluation.crossval import save_oof
from brainseg.evaluation.cv_layout import CVFolder
from brainseg.fileio import write_json
from brainseg.training.cv_reuse import check_reusable, reuse_stages, saved_reuse
from brainseg.training.stages import stage_done, train_stages


def make_folds(data: Path, folds: int, seed: int) -> dict[str, Any]:
    """K patient-disjoint folds over every patient of ``data`` (no test patients)."""
    from brainseg.data.discovery import discover
    from brainseg.errors import DataProblemsError

    patients, problems = discover(data)
    if problems:
        raise DataProblemsError(problems)
    stems = {p.name: [s.stem for s in p.slices if s.image and s.mask] for p in patients}
    return make_split(stems, seed, test=0.0, val=0.0, folds=folds)


def _fold_split(folds: dict[str, Any], k: int) -> dict[str, Any]:
    fold = folds["folds"][k]
    return {
        "by": "patient",
        "seed": folds["seed"],
        "cv_fold": k,
        "cv_folds": len(folds["folds"]),
        "train": fold["train"],
        "val": fold["val"],
        "test": [],
    }


@dataclass(frozen=True)
class Setup:
    """What a cross-validation is: its data, fold assignment, stages and overrides."""

    data: Path
    folds: int
    seed: int
    stages: tuple[str | None, ...]
    overrides: dict[str, Any]
    reuse: Path | None = None

    def record(self) -> dict[str, Any]:
        """The set-up as ``cv.yaml`` keeps it."""
        return {
            "data": str(self.data.resolve()),
            "folds": self.folds,
            "seed": self.seed,
            "stages": [str(c) if c is not None else "defaults" for c in self.stages],
            "overrides": self.overrides,
        }


def resolve_setup(cv: CVFolder, data: Path | None, asked: dict[str, Any], resume: bool) -> Setup:
    """The set-up of this run: what was asked, and on ``--resume`` what ``cv.yaml`` holds
    for whatever was not asked again. ``--resume`` with nothing to resume starts afresh."""
    if cv.exists() and not resume and not asked["only"]:
        raise BrainsegError(
            f"{cv.root}: already holds a cross-validation; add --resume to continue it, "
            "or choose another --out"
        )
    if resume and not cv.exists():
        print(
            f"{cv.root}: nothing to resume yet (no folds.json): starting from the beginning",
            file=sys.stderr,
        )
        resume = False
    saved = cv.read_setup() if resume else {}
    stages = asked["stages"] or [None if c == "defaults" else c for c in saved.get("stages", [])]
    if data is None and not saved:
        raise BrainsegError("cv run needs --data DATA (or --resume of an existing --out)")
    reuse = asked["reuse"] if asked["reuse"] is not None else saved_reuse(saved, cv.root)
    return Setup(
        Path(data or saved["data"]),
        asked["folds"] or int(saved.get("folds", 5)),
        asked["seed"] if asked["seed"] is not None else int(saved.get("seed", 42)),
        tuple(stages or [None]),
        asked["overrides"] if asked["overrides"] is not None else saved.get("overrides") or {},
        Path(reuse) if reuse is not None else None,
    )


def prepare(cv: CVFolder, setup: Setup) -> dict[str, Any]:
    """Create or re-read ``folds.json`` and ``cv.yaml``; a rerun must ask for the same."""
    configs = [load_config(c, setup.overrides) for c in setup.stages]
    record = setup.record()
    if not cv.exists():
        split = make_folds(setup.data, setup.folds, setup.seed)
        cv.root.mkdir(parents=True, exist_ok=True)
        save_split(split, cv.folds_file)
        for n, config in enumerate(configs, start=1):
            save_config(config, cv.recipe_stage(n))
        cv.write_setup(record)
        return split
    saved = cv.read_setup()
    saved["overrides"] = saved.get("overrides") or {}
    for key in ("folds", "seed", "overrides"):
        if saved.get(key) != record[key]:
            raise BrainsegError(
                f"{cv.root}: holds a cross-validation with {key} {saved.get(key)}, not "
                f"{record[key]}; use another --out"
            )
    split = cv.folds()
    if make_folds(setup.data, setup.folds, setup.seed)["folds"] != split["folds"]:
        raise BrainsegError(
            f"{cv.folds_file}: its patients differ from those in {setup.data}; the data "
            "changed since this cross-validation started, so use another --out"
        )
    before = list(saved.get("stages") or [])
    if len(record["stages"]) > len(before) and record["stages"][: len(before)] == before:
        _extend_recipe(cv, {**saved, **record}, configs, len(before))
    elif before != record["stages"]:
        raise BrainsegError(
            f"{cv.root}: holds a cross-validation with stages {before}, not "
            f"{record['stages']}; use another --out (stages may only be appended)"
        )
    return split


def _extend_recipe(cv: CVFolder, record: dict, configs: list, before: int) -> None:
    """Append the new stages to a cross-validation's recipe; keep the old last report."""
    for n, config in enumerate(configs[before:], start=before + 1):
        save_config(config, cv.recipe_stage(n))
    cv.write_setup(record)
    old_report, kept = cv.report(), cv.report(f"report_stage{before}")
    if old_report.exists() and not kept.exists():
        old_report.rename(kept)
    print(f"cv: recipe extended to {len(configs)} stages", file=sys.stderr)


def train_fold(cv: CVFolder, setup: Setup, folds: dict, k: int) -> Path:
    """Train (or continue) every stage of fold k; return the last stage's last.ckpt."""
    if not cv.fold_split(k).exists():
        save_split(_fold_split(folds, k), cv.fold_split(k))
    # each stage trains from its configuration as validated when the run began
    stages = [
        cv.recipe_stage(n) if cv.recipe_stage(n).exists() else c
        for n, c in enumerate(setup.stages, start=1)
    ]
    label = f"cv: fold {k}"
    return train_stages(setup.data, cv.fold(k), stages, cv.fold_split(k), setup.overrides, label)


def predict_fold(cv: CVFolder, data: Path, folds: dict, k: int, n: int) -> None:
    """Out-of-fold probabilities of stage n's last weights for fold k's held-out patients:
    with all sequences, with the FLAIR alone, and through its INT8 ONNX export (calibrated
    on the fold's training patients, as the shipped export is); patients already done are
    skipped."""
    from brainseg.data.volumes import calibration_volumes, load_clean_volumes
    from brainseg.evaluation.crossval import oof_complete
    from brainseg.inference.predictor import Predictor
    from brainseg.inference.quantize import export_int8

    oof = cv.oof(k, CVFolder.stage_oof(n))
    todo = [p for p in folds["folds"][k]["val"] if not oof_complete(oof / f"{p}.npz")]
    if not todo:
        return
    started = time.perf_counter()
    checkpoint, int8 = cv.stage(k, n) / "last.ckpt", cv.int8(k, n)
    if not int8.exists():
        train = load_split(cv.fold_split(k))["train"]
        export_int8(checkpoint, int8, calibration_volumes(data, train))
    predictor, quantized = Predictor(checkpoint, engine="torch"), Predictor(int8)
    for volume in load_clean_volumes(data, patients=todo):
        image = volume.image_volume()
        save_oof(
            oof / f"{volume.patient}.npz",
            predictor.predict(image),
            predictor.predict(volume.flair_only_volume()),
            quantized.predict(image),
        )
    seconds = round(time.perf_counter() - started, 1)
    write_json(oof / "timing.json", {"seconds": seconds, "patients": len(todo)})
    print(
        f"cv: fold {k}: out-of-fold predictions of stage {n} for {len(todo)} patients",
        file=sys.stderr,
    )


def run_fold(cv: CVFolder, setup: Setup, folds: dict, k: int) -> None:
    """One fold, start to finish: its stages trained, its out-of-fold predictions saved."""
    train_fold(cv, setup, folds, k)
    predict_fold(cv, setup.data, folds, k, len(setup.stages))


def cross_validate(
    data: str | Path | None,
    out: str | Path,
    stages: list[str | Path | None],
    folds: int | None = None,
    only: list[int] | None = None,
    resume: bool = False,
    seed: int | None = None,
    overrides: dict[str, Any] | None = None,
    reuse: str | Path | None = None,
    jobs: int = 1,
) -> dict[str, Any]:
    """Train and predict the chosen folds (all by default), then report on what is done.
    With ``reuse``, the stages another cross-validation already trained alike are linked
    from it; with ``jobs`` > 1, that many folds train at once, each in its own process."""
    cv = CVFolder(Path(out))
    asked = {"stages": stages, "folds": folds, "seed": seed, "overrides": overrides}
    asked |= {"reuse": reuse, "only": only}
    setup = resolve_setup(cv, Path(data) if data else None, asked, resume)
    started = [k for k in (only or []) if cv.stage(k, 1).exists()]
    if cv.exists() and not resume and started:  # parallel jobs may start other folds
        raise BrainsegError(f"{out}: add --resume to continue fold {started[0]}")
    chosen = list(range(setup.folds)) if only is None else only
    for k in chosen:  # refused before anything is written to OUT
        if not 0 <= k < setup.folds:
            raise BrainsegError(f"--fold {k} is not between 0 and {setup.folds - 1}")
    if jobs < 1:
        raise BrainsegError(f"--jobs {jobs} must be at least 1")
    if setup.reuse is not None:
        check_reusable(setup.reuse, cv.root, setup.folds, setup.seed)
    split = prepare(cv, setup)
    if setup.reuse is not None:
        reuse_stages(setup.reuse, cv, split, chosen, len(setup.stages))
    if jobs > 1 and len(chosen) > 1:
        from brainseg.training.cv_jobs import run_fold_jobs

        failed = run_fold_jobs(run_fold, cv, setup, split, chosen, jobs)
    else:
        failed = []
        for k in chosen:
            run_fold(cv, setup, split, k)
    if failed:  # a partial report of the folds that are done, where any are
        with contextlib.suppress(BrainsegError):
            report_cv(cv.root)
        raise BrainsegError("; ".join(failed) + "; --resume continues them")
    return report_cv(cv.root)


def report_cv(out: str | Path, stage: int | None = None) -> dict[str, Any]:
    """Rewrite ``OUT/report`` (or ``OUT/report_stage<n>`` for an earlier ``stage``) from
    the out-of-fold predictions saved so far. An earlier stage's predictions are made first
    where a fold finished that stage but has none yet (to measure what later stages add)."""
    from brainseg.evaluation.crossval import write_cv_report

    cv = CVFolder(Path(out))
    folds = cv.folds()
    setup, last = cv.read_setup(), cv.stage_count()
    stage = last if stage is None else stage
    if not 1 <= stage <= last:
        raise BrainsegError(f"--stage {stage} is not between 1 and {last}")
    data = Path(cv.data())
    if stage != last:
        for k in range(len(folds["folds"])):
            if stage_done(cv.stage(k, stage)):
                predict_fold(cv, data, folds, k, stage)
    return write_cv_report(
        data,
        cv,
        folds,
        int(setup.get("seed", 42)),
        oof_dir=CVFolder.stage_oof(stage),
        report_dir=CVFolder.report_name(stage, last),
    )
