"""The folder of one cross-validation: every path in it, named once.

``OUT/`` holds (``brainseg cv run`` writes it, ``report``, ``compare`` and ``ensemble``
read it):

- ``cv.yaml``: the set-up (data folder, folds, seed, stage configs, overrides, reused stages);
- ``recipe/stage<n>.yaml``: each stage's full configuration, validated when the run began;
- ``folds.json``: the patient-disjoint folds (every patient is held out exactly once);
- ``fold<k>/split.json``: fold k's training patients, and its held-out ones as ``val``;
- ``fold<k>/stage<n>/``: one ``brainseg train`` run per stage, from stage n-1's weights;
- ``fold<k>/stage<n>/model.int8.onnx``: that stage's weights exported to INT8;
- ``fold<k>/stage<n>/oof/<patient>.npz``: out-of-fold probabilities of those weights;
- ``fold<k>/cv.log``: the fold's output when ``--jobs`` runs folds side by side;
- ``report/``: the pooled out-of-fold report of the last stage, ``report_stage<n>/`` that of
  an earlier one; ``report/records/fold<k>.json`` the fold records it was computed from
  (:mod:`brainseg.evaluation.cv_records`).

An ensemble of cross-validations (``brainseg cv ensemble``) has the same layout with its
out-of-fold probabilities in ``fold<k>/oof/`` (``oof_dir`` says where, relative to a fold).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from brainseg.errors import BrainsegError
from brainseg.fileio import write_text


@dataclass(frozen=True)
class CVFolder:
    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    @property
    def setup_file(self) -> Path:
        return self.root / "cv.yaml"

    @property
    def folds_file(self) -> Path:
        return self.root / "folds.json"

    def exists(self) -> bool:
        """Whether a cross-validation was set up here."""
        return self.folds_file.exists()

    def recipe_stage(self, n: int) -> Path:
        return self.root / "recipe" / f"stage{n}.yaml"

    def fold(self, k: int) -> Path:
        return self.root / f"fold{k}"

    def fold_split(self, k: int) -> Path:
        return self.fold(k) / "split.json"

    def stage(self, k: int, n: int) -> Path:
        return self.fold(k) / f"stage{n}"

    def int8(self, k: int, n: int) -> Path:
        return self.stage(k, n) / "model.int8.onnx"

    def log(self, k: int) -> Path:
        return self.fold(k) / "cv.log"

    @staticmethod
    def stage_oof(n: int) -> str:
        """Where stage n's out-of-fold probabilities lie, relative to a fold folder."""
        return f"stage{n}/oof"

    def oof(self, k: int, oof_dir: str) -> Path:
        return self.fold(k) / oof_dir

    def report(self, name: str = "report") -> Path:
        return self.root / name

    @staticmethod
    def report_name(stage: int, last: int) -> str:
        return "report" if stage == last else f"report_stage{stage}"

    def read_setup(self) -> dict[str, Any]:
        """``cv.yaml`` as written ({} where there is none)."""
        if not self.setup_file.exists():
            return {}
        return yaml.safe_load(self.setup_file.read_text()) or {}

    def write_setup(self, setup: dict[str, Any]) -> None:
        write_text(self.setup_file, yaml.safe_dump(setup, sort_keys=False))

    def stage_count(self) -> int:
        return len(self.read_setup().get("stages") or [None])

    def data(self) -> str:
        """The dataset folder this cross-validation was made on."""
        data = self.read_setup().get("data")
        if not data:
            raise BrainsegError(f"{self.root}: no cv.yaml naming its data folder")
        return str(data)

    def folds(self) -> dict[str, Any]:
        from brainseg.data.splits import load_split

        if not self.exists():
            raise BrainsegError(f"{self.root}: no cross-validation here (no folds.json)")
        return load_split(self.folds_file)
