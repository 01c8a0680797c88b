"""Atomic writes: a temp file in the target folder, fsync, then rename, so a kill never
leaves a half-written output behind."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from brainseg.errors import BrainsegError

_UMASK = os.umask(0)
os.umask(_UMASK)


def atomic_write(path: str | Path, write: Callable[[Any], None], mode: str = "wb") -> None:
    """Call ``write(fileobj)`` on a temp file beside ``path``, then rename it into place."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise BrainsegError(f"{path.parent}: cannot write here ({exc.strerror})") from None
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; outputs get the usual mode
        with os.fdopen(fd, mode) as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise BrainsegError(f"{path}: write failed ({exc.strerror})") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text(path: str | Path, text: str) -> None:
    atomic_write(path, lambda f: f.write(text), mode="w")


def write_bytes(path: str | Path, data: bytes) -> None:
    atomic_write(path, lambda f: f.write(data))


def write_json(path: str | Path, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def csv_text(
    rows: list[dict], columns: list[str], header: bool = True, significant: int | None = 6
) -> str:
    """CSV text of the rows' chosen columns (others ignored, missing ones empty); floats to
    ``significant`` digits (None: as they are). The one CSV writer of brainseg's tables."""
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore")
    if header:
        writer.writeheader()
    for row in rows:
        if significant is not None:
            row = {
                k: (f"{v:.{significant}g}" if isinstance(v, float) else v) for k, v in row.items()
            }
        writer.writerow(row)
    return buffer.getvalue()


def _rounded(value: Any, significant: int) -> Any:
    return f"{value:.{significant}g}" if isinstance(value, float) else value
