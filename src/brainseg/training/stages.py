"""A recipe of chained stages: ``ROOT/stage<n>/`` is one ``brainseg train`` run that starts
from stage n-1's last weights (``--init-weights``), as the shipped model's cosine cycles do.

Every stage resumes from its own ``last.ckpt`` and a finished stage is never trained again,
so a killed recipe continues where it stopped (``brainseg train --resume`` with several
``--config``, ``brainseg cv --resume``).
"""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path
from typing import Any

import yaml


def _epochs_done(run: Path) -> int:
    """Epochs finished by a stage's run, from its history.csv (0 when none)."""
    try:
        rows = list(csv.DictReader(io.StringIO((run / "history.csv").read_text())))
    except OSError:
        return 0
    return 1 + max((int(r["epoch"]) for r in rows), default=-1)


def stage_done(run: Path) -> bool:
    """Whether a stage's run finished all its epochs (its last.ckpt is then final)."""
    if not (run / "last.ckpt").exists() or not (run / "config.yaml").exists():
        return False
    epochs = int(yaml.safe_load((run / "config.yaml").read_text())["train"]["epochs"])
    return _epochs_done(run) >= epochs


def train_stages(
    data: str | Path,
    root: str | Path,
    stages: list[str | Path | None],
    split_path: str | Path | None,
    overrides: dict[str, Any] | None = None,
    label: str = "train",
    resume: bool = True,
) -> Path:
    """Train or continue every stage under ``root``; return the last stage's last.ckpt.
    With ``resume`` false, a ``root`` that already holds stages is refused, as ``brainseg
    train`` refuses a run folder in use."""
    from brainseg.errors import BrainsegError
    from brainseg.training.run import train

    root, previous = Path(root), None
    if not resume and (root / "stage1").exists():
        raise BrainsegError(
            f"{root}: already holds a recipe run; use --resume to continue it "
            "or choose another --out"
        )
    for n, config in enumerate(stages, start=1):
        run = root / f"stage{n}"
        if stage_done(run):
            previous = run / "last.ckpt"
            continue
        stage_overrides = dict(overrides or {})
        if previous is not None:
            train_over = {**stage_overrides.get("train", {}), "init_weights": str(previous)}
            stage_overrides["train"] = train_over
        resume = (run / "last.ckpt").exists()
        print(f"{label} stage {n}: {'resuming' if resume else 'training'}", file=sys.stderr)
        train(data, run, None if resume else config, stage_overrides, split_path, resume)
        previous = run / "last.ckpt"
    assert previous is not None, "a recipe has at least one stage"
    return previous


def train_recipe(
    data: str | Path,
    root: str | Path,
    recipe_path: str | Path,
    split_path: str | Path | None = None,
    overrides: dict[str, Any] | None = None,
) -> list[Path]:
    """Train or continue a whole recipe under ``root``: its stages, then each further
    member from its stage's weights (``ROOT/member<k>``); return every member's run folder.
    Rerun at any moment, it continues what is unfinished and skips what is done."""
    from brainseg.recipe import load_recipe
    from brainseg.training.run import train

    recipe, root = load_recipe(recipe_path), Path(root)
    split_path = split_path or recipe.split_path
    configs: list[str | Path | None] = list(recipe.stage_configs)
    train_stages(data, root, configs, split_path, overrides, "train", resume=True)
    for k, member in recipe.further_members():
        run = root / f"member{k}"
        if stage_done(run):
            continue
        start = root / f"stage{member.from_stage}" / "last.ckpt"
        member_overrides = dict(overrides or {})
        member_overrides["train"] = {
            **member_overrides.get("train", {}),
            "init_weights": str(start),
        }
        resume = (run / "last.ckpt").exists()
        print(f"train member {k}: {'resuming' if resume else 'training'}", file=sys.stderr)
        config = None if resume else recipe.path(member.config)
        train(data, run, config, member_overrides, split_path, resume)
    return recipe.member_runs(root)
