"""``brainseg cv``: K-fold cross-validation by patient, the nnU-Net way.

Layout of ``OUT/`` (everything needed to repeat or continue the run):

- ``cv.yaml``: data folder, folds, seed, the stages' config files and any overrides (and the
  stages linked by ``--reuse``);
- ``recipe/stage<n>.yaml``: each stage's full configuration, validated when the run began
  (the stages train from these, so later edits of the config files change nothing);
- ``folds.json``: the patient-disjoint folds (every patient is held out exactly once);
- ``fold<k>/split.json``: fold k's training patients, and its held-out ones as ``val``;
- ``fold<k>/stage<n>/``: one ``brainseg train`` run per stage of the recipe; stage n starts
  from stage n-1's last weights, as ``make retrain-lgg`` chains them;
- ``fold<k>/stage<n>/model.int8.onnx``: that stage's last weights exported to INT8
  (calibrated on the fold's training patients);
- ``fold<k>/stage<n>/oof/<patient>.npz``: the probabilities of those weights on each
  held-out patient, with all sequences, with the FLAIR alone, and through the INT8 export
  (uint8, x 255); the last stage's always, an earlier one's on request (``--stage n``);
- ``report/``: the pooled out-of-fold evaluation of the last stage
  (:mod:`brainseg.evaluation.crossval`); ``report_stage<n>/`` that of an earlier stage.

A finished cross-validation can be extended by stages appended to its recipe (``--resume``
with the saved stages and then the new ones): the folds continue from their last weights,
and the report moves to the new last stage, the old one staying in ``report_stage<n>``.

A variant of a recipe's later stages (a lever tried as the last stage) need not retrain the
earlier ones: ``--reuse OLD`` takes, fold by fold, every leading stage whose validated
configuration is the same as in the finished cross-validation ``OLD`` (same folds) from
there, as hard links, and trains only the rest. ``--resume`` keeps the ``--reuse`` source
that ``cv.yaml`` records, so a fold started later is linked from it too.

Only last weights are used: the held-out patients are watched during training (``val``) but
never choose an epoch, a threshold or a post-processing, so their scores stay out-of-fold.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Any

import yaml

from brainseg.config import load_config, save_config
from brainseg.data.splits import load_split, make_split, save_split
from brainseg.errors import BrainsegError
from brainseg.evaluation.crossval import save_oof
from brainseg.fileio import write_text
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


def _check_setup(
    out: Path, data: Path, folds: int, seed: int, stages: list[Any], overrides: dict | None
) -> dict:
    """Create or re-read ``folds.json`` and ``cv.yaml``; a rerun must ask for the same."""
    configs = [load_config(c, overrides) for c in stages]
    setup = {
        "data": str(data.resolve()),
        "folds": folds,
        "seed": seed,
        "stages": [str(c) if c is not None else "defaults" for c in stages],
        "overrides": overrides or {},
    }
    if (out / "folds.json").exists():
        split = load_split(out / "folds.json")
        saved = yaml.safe_load((out / "cv.yaml").read_text()) if (out / "cv.yaml").exists() else {}
        saved["overrides"] = saved.get("overrides") or {}
        for key in ("folds", "seed", "overrides"):
            if saved.get(key) != setup[key]:
                raise BrainsegError(
                    f"{out}: holds a cross-validation with {key} {saved.get(key)}, not "
                    f"{setup[key]}; use another --out"
                )
        current = make_folds(data, folds, seed)
        if current["folds"] != split["folds"]:
            raise BrainsegError(
                f"{out}/folds.json: its patients differ from those in {data}; the data changed "
                "since this cross-validation started, so use another --out"
            )
        before = list(saved.get("stages") or [])
        if len(setup["stages"]) > len(before) and setup["stages"][: len(before)] == before:
            _extend_recipe(out, saved, setup, configs, len(before))
        elif before != setup["stages"]:
            raise BrainsegError(
                f"{out}: holds a cross-validation with stages {before}, not "
                f"{setup['stages']}; use another --out (stages may only be appended)"
            )
        return split
    split = make_folds(data, folds, seed)
    out.mkdir(parents=True, exist_ok=True)
    save_split(split, out / "folds.json")
    for n, config in enumerate(configs, start=1):
        save_config(config, out / "recipe" / f"stage{n}.yaml")
    write_text(out / "cv.yaml", yaml.safe_dump(setup, sort_keys=False))
    return split


def _extend_recipe(out: Path, saved: dict, setup: dict, configs: list, before: int) -> None:
    """Append the new stages to a cross-validation's recipe; keep the old last report."""
    for n, config in enumerate(configs[before:], start=before + 1):
        save_config(config, out / "recipe" / f"stage{n}.yaml")
    write_text(out / "cv.yaml", yaml.safe_dump({**saved, **setup}, sort_keys=False))
    old_report, kept = out / "report", out / f"report_stage{before}"
    if old_report.exists() and not kept.exists():
        old_report.rename(kept)
    print(f"cv: recipe extended to {len(configs)} stages", file=sys.stderr)


def train_fold(
    data: Path, out: Path, folds: dict, k: int, stages: list, overrides: dict | None
) -> Path:
    """Train (or continue) every stage of fold k; return the last stage's last.ckpt."""
    fold_dir = out / f"fold{k}"
    split_path = fold_dir / "split.json"
    if not split_path.exists():
        save_split(_fold_split(folds, k), split_path)
    # each stage trains from its configuration as validated when the run began
    resolved = [out / "recipe" / f"stage{n}.yaml" for n in range(1, len(stages) + 1)]
    stages = [r if r.exists() else c for r, c in zip(resolved, stages, strict=True)]
    return train_stages(data, fold_dir, stages, split_path, overrides, f"cv: fold {k}")


def predict_fold(data: Path, out: Path, folds: dict, k: int, checkpoint: Path) -> None:
    """Out-of-fold probabilities for fold k's held-out patients, beside the stage's
    ``checkpoint``: with all sequences, with the FLAIR alone, and through its INT8 ONNX
    export (calibrated on the fold's training patients, as the shipped export is); patients
    already done are skipped."""
    from brainseg.data.splits import load_split
    from brainseg.data.volumes import calibration_volumes, load_clean_volumes
    from brainseg.evaluation.crossval import oof_complete
    from brainseg.inference.predictor import Predictor
    from brainseg.inference.quantize import export_int8

    fold_dir, stage_dir = out / f"fold{k}", checkpoint.parent
    todo = [p for p in folds["folds"][k]["val"] if not oof_complete(stage_dir / "oof" / f"{p}.npz")]
    if not todo:
        return
    int8 = stage_dir / "model.int8.onnx"
    if not int8.exists():
        train = load_split(fold_dir / "split.json")["train"]
        export_int8(checkpoint, int8, calibration_volumes(data, train))
    predictor, quantized = Predictor(checkpoint, engine="torch"), Predictor(int8)
    for volume in load_clean_volumes(data, patients=todo):
        image = volume.image_volume()
        save_oof(
            stage_dir / "oof" / f"{volume.patient}.npz",
            predictor.predict(image),
            predictor.predict(volume.flair_only_volume()),
            quantized.predict(image),
        )
    print(
        f"cv: fold {k}: out-of-fold predictions of {stage_dir.name} for {len(todo)} patients",
        file=sys.stderr,
    )


def cross_validate(
    data: str | Path,
    out: str | Path,
    stages: list[str | Path | None],
    folds: int | None = None,
    only: list[int] | None = None,
    resume: bool = False,
    seed: int | None = None,
    overrides: dict[str, Any] | None = None,
    report: bool = True,
    stage: int | None = None,
    reuse: str | Path | None = None,
    jobs: int = 1,
) -> dict[str, Any] | None:
    """Train and predict the chosen folds (all by default), then report on what is done.
    With ``stage``, train nothing: score the weights after that stage of the recipe (in the
    folds that finished it) into ``OUT/report_stage<n>``, to measure what later stages add.
    With ``reuse``, the stages that another cross-validation already trained alike are
    linked from it (:func:`reuse_stages`). With ``jobs`` > 1, that many folds train at once,
    each in its own process (:mod:`brainseg.training.cv_jobs`)."""
    data, out = Path(data), Path(out)
    if (out / "folds.json").exists() and not resume:
        # parallel jobs (one --fold each) share OUT: a fold nobody started may begin
        started = [k for k in (only or []) if (out / f"fold{k}" / "stage1").exists()]
        if only is None or started:
            what = "it" if only is None else f"fold {started[0]}"
            raise BrainsegError(
                f"{out}: already holds a cross-validation; add --resume to continue {what}, "
                "or choose another --out"
            )
    if resume and not (out / "folds.json").exists():
        print(
            f"{out}: nothing to resume yet (no folds.json): starting from the beginning",
            file=sys.stderr,
        )
        resume = False
    if resume:  # what was not given again comes from the saved set-up
        saved = yaml.safe_load((out / "cv.yaml").read_text())
        stages = stages or [None if c == "defaults" else c for c in saved["stages"]]
        folds = folds or int(saved["folds"])
        seed = int(saved["seed"]) if seed is None else seed
        overrides = overrides if overrides is not None else (saved.get("overrides") or None)
        reuse = reuse if reuse is not None else saved_reuse(saved, out)
    stages, folds, seed = stages or [None], folds or 5, 42 if seed is None else seed
    chosen = list(range(folds)) if only is None else only
    # refused before anything is written to OUT
    for k in chosen:
        if not 0 <= k < folds:
            raise BrainsegError(f"--fold {k} is not between 0 and {folds - 1}")
    if jobs < 1:
        raise BrainsegError(f"--jobs {jobs} must be at least 1")
    if stage is not None and not 1 <= stage <= len(stages):
        raise BrainsegError(f"--stage {stage} is not between 1 and {len(stages)}")
    if reuse is not None:
        check_reusable(Path(reuse), out, folds, seed)
    split = _check_setup(out, data, folds, seed, stages, overrides)
    if reuse is not None and stage is None:
        reuse_stages(Path(reuse), out, split, chosen, len(stages))
    failed: list[str] = []
    if jobs > 1 and stage is None and len(chosen) > 1:
        from brainseg.training.cv_jobs import run_fold_jobs

        failed = run_fold_jobs(data, out, chosen, jobs)
        chosen = []
    for k in chosen:
        if stage is None:
            checkpoint = train_fold(data, out, split, k, stages, overrides)
        elif stage_done(out / f"fold{k}" / f"stage{stage}"):
            checkpoint = out / f"fold{k}" / f"stage{stage}" / "last.ckpt"
        else:
            continue
        predict_fold(data, out, split, k, checkpoint)
    if failed:
        if report:  # a partial report of the folds that are done, where any are
            with contextlib.suppress(BrainsegError):
                report_cv(data, out, stage)
        raise BrainsegError("; ".join(failed) + "; --resume continues them")
    return report_cv(data, out, stage) if report else None


def report_cv(data: str | Path, out: str | Path, stage: int | None = None) -> dict[str, Any]:
    """Rewrite ``OUT/report`` (or ``OUT/report_stage<n>`` for an earlier ``stage``) from
    the out-of-fold predictions saved so far."""
    out = Path(out)
    if not (out / "folds.json").exists():
        raise BrainsegError(f"{out}: no cross-validation here (no folds.json)")
    from brainseg.evaluation.crossval import write_cv_report

    setup = yaml.safe_load((out / "cv.yaml").read_text())
    last = len(setup.get("stages") or [None])
    stage = last if stage is None else stage
    report = "report" if stage == last else f"report_stage{stage}"
    return write_cv_report(
        data,
        out,
        load_split(out / "folds.json"),
        int(setup.get("seed", 42)),
        oof_dir=f"stage{stage}/oof",
        report_dir=report,
    )
