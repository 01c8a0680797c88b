"""Test-only kill points: ``BRAINSEG_TEST_KILL=<where>:<when>`` SIGKILLs this process at a
chosen point, so that the reliability tests kill a subprocess at a known moment rather than
after a sleep (no fixture reaches into a subprocess). ``train:EPOCH:BATCH`` kills when
training reaches that batch of that epoch; ``predict:N`` once N cases are finished. Unset,
nothing happens."""

from __future__ import annotations

import os
import signal

KILL_ENV = "BRAINSEG_TEST_KILL"


def kill_point(where: str) -> tuple[int, ...] | None:
    """The numbers after ``where:`` in the variable, or None when it names another place."""
    spec = os.environ.get(KILL_ENV, "")
    place, _, numbers = spec.partition(":")
    if place != where or not numbers:
        return None
    return tuple(int(n) for n in numbers.split(":"))


def kill_now() -> None:
    os.kill(os.getpid(), signal.SIGKILL)
