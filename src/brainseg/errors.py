"""Errors that the CLI turns into one clear line and a non-zero exit, never a traceback."""

from __future__ import annotations

from typing import NamedTuple


class Problem(NamedTuple):
    """One problem with one input: the file (or folder, series) and what is wrong with it."""

    file: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: {self.reason}"


# What the user sees of a defect in brainseg itself (its traceback goes to the log)
INTERNAL_ERROR = "internal error in brainseg, please report it (details: --verbose)"


class BrainsegError(Exception):
    """A user-facing problem: the message names the file and says what is wrong."""

    exit_code = 1


class DataProblemsError(BrainsegError):
    """The dataset has problems, each one a ``Problem``."""

    exit_code = 2

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__(f"{len(problems)} problem(s) in the data")


class NothingToDoError(BrainsegError):
    """Every input failed: the lines above say why; exit code 2, like a partial failure."""

    exit_code = 2
