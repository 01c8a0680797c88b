"""How many CPU cores this process may use: its affinity mask (``taskset``, a container's
cpuset, or the share ``brainseg cv --jobs`` gives each fold), not the machine's count,
which ``os.cpu_count()`` reports and which would oversubscribe a pinned process."""

from __future__ import annotations

import os


def available_cores() -> list[int]:
    """The CPU ids this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


def pinned() -> bool:
    """Whether this process may use fewer cores than the machine has."""
    return len(available_cores()) < (os.cpu_count() or 1)
