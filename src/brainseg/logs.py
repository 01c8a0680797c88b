"""brainseg's log on stderr: warnings always; details and the tracebacks of internal errors
only with --verbose (or BRAINSEG_DEBUG=1). What the libraries say (Python warnings from
pydicom, highdicom, nibabel, MONAI...; the pydicom and highdicom loggers) becomes debug lines
of this log, so stderr holds brainseg's own one-line messages only; QC notes say what matters
about an input."""

from __future__ import annotations

import logging
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

LIBRARY_LOGGERS = ("pydicom", "highdicom", "nibabel", "PIL")


class TracebackFilter(logging.Filter):
    """Records that carry a traceback (our own defects) pass only with --verbose; the code
    that logged them has already printed its one-line message."""

    verbose = False

    def filter(self, record: logging.LogRecord) -> bool:
        return self.verbose or not record.exc_info


FILTER = TracebackFilter()


class StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time of the record, not at set-up (a
    caller, or a test, may have redirected it since)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


class ToDebug(logging.Handler):
    """A library's log record, passed on as a debug line of brainseg's log."""

    def emit(self, record: logging.LogRecord) -> None:
        logging.getLogger("brainseg").debug("%s: %s", record.name, record.getMessage())


def _warning_to_debug(message, category, filename, lineno, file=None, line=None) -> None:
    logging.getLogger("brainseg").debug("%s: %s", category.__name__, message)


@contextmanager
def library_warnings() -> Iterator[list[str]]:
    """Collect the distinct warnings raised inside (each also one debug line), for a QC
    note: a header's oddity repeats on every slice, and is said once."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        messages: list[str] = []
        try:
            yield messages
        finally:
            for item in caught:
                message = str(item.message).split("\n")[0]
                if message not in messages:
                    _warning_to_debug(message, item.category, item.filename, item.lineno)
                    messages.append(message)


def setup_logging(verbose: bool) -> None:
    """brainseg's log goes to stderr: warnings always; details and tracebacks of internal
    errors with --verbose (or BRAINSEG_DEBUG=1); libraries' warnings as debug lines."""
    warnings.showwarning = _warning_to_debug
    for name in LIBRARY_LOGGERS:
        library = logging.getLogger(name)
        if not any(isinstance(h, ToDebug) for h in library.handlers):
            library.addHandler(ToDebug())
        library.propagate = False
    logger = logging.getLogger("brainseg")
    if not any(FILTER in h.filters for h in logger.handlers):
        handler = StderrHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        handler.addFilter(FILTER)
        logger.addHandler(handler)
        logger.propagate = False
    FILTER.verbose = verbose
    logger.setLevel(logging.DEBUG if verbose else logging.WARNING)
