"""Prediction at cluster scale, the nnU-Net way: ``--num-parts N --part-id I`` gives this job
every N-th case (in a fixed order, so N jobs see disjoint parts whose union is everything),
and ``--skip-existing`` skips cases whose outputs are all present, so a killed job that is
simply run again finishes only what was missing. Outputs are written atomically, so a
present file is a complete one.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from brainseg.errors import BrainsegError
from brainseg.io.readers import InputItem
from brainseg.killpoints import kill_now, kill_point


def kill_switch(cases_done: int) -> None:
    """Test-only: SIGKILL after N finished cases (``BRAINSEG_TEST_KILL=predict:N``)."""
    point = kill_point("predict")
    if point is not None and cases_done >= point[0]:
        kill_now()


@dataclass
class Batch:
    num_parts: int = 1
    part_id: int = 0
    skip_existing: bool = False

    def __post_init__(self) -> None:
        if self.num_parts < 1:
            raise BrainsegError(f"--num-parts must be at least 1, not {self.num_parts}")
        if not 0 <= self.part_id < self.num_parts:
            raise BrainsegError(
                f"--part-id must be in 0..{self.num_parts - 1} for --num-parts "
                f"{self.num_parts}, not {self.part_id}"
            )

    @property
    def csv_name(self) -> str:
        """Each part writes its own summary, so parallel jobs never write the same file."""
        if self.num_parts == 1:
            return "predictions.csv"
        return f"predictions_part{self.part_id}of{self.num_parts}.csv"

    def part(self, items: list[InputItem]) -> list[InputItem]:
        """This job's cases: every ``num_parts``-th of them in (folder, name) order."""
        ordered = sorted(items, key=lambda item: (str(item.rel), item.name, str(item.source)))
        return ordered[self.part_id :: self.num_parts]

    def skip_finished(
        self,
        items: list[InputItem],
        outputs: Callable[[InputItem], list[Path]],
        summary: Path,
    ) -> tuple[list[dict], list[InputItem]]:
        """Rows kept from the previous summary, and the cases to run. Earlier calls' rows of
        other cases stay while their outputs exist (a second call into the same folder adds
        to its summary instead of losing them); with ``--skip-existing`` finished cases keep
        theirs and are not run again."""
        previous = _read_rows(summary)
        this_run = {str(path) for item in items for path in outputs(item)}
        rows = [
            r
            for r in previous
            if r.get("output") and r["output"] not in this_run and Path(r["output"]).exists()
        ]
        if not self.skip_existing:
            return rows, items
        todo = []
        for item in items:
            if all(path.exists() for path in outputs(item)):
                wanted = {str(p) for p in outputs(item)}
                kept = [r for r in previous if r.get("output") in wanted and r.get("model")]
                rows += kept or [{"input": str(item.source), "output": str(outputs(item)[0])}]
            else:
                todo.append(item)
        return rows, todo


def _read_rows(path: Path) -> list[dict]:
    """The rows of an earlier summary; a line torn by a kill (too few fields) is dropped."""
    try:
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            return [row for row in reader if None not in row.values()]
    except (OSError, csv.Error):
        return []
