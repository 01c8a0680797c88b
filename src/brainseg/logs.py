"""brainseg's log on stderr: warnings always; details and the tracebacks of internal errors
only with --verbose (or BRAINSEG_DEBUG=1)."""

from __future__ import annotations

import logging
import sys


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


def setup_logging(verbose: bool) -> None:
    """brainseg's log goes to stderr: warnings always; details and tracebacks of internal
    errors with --verbose (or BRAINSEG_DEBUG=1)."""
    logger = logging.getLogger("brainseg")
    if not any(FILTER in h.filters for h in logger.handlers):
        handler = StderrHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        handler.addFilter(FILTER)
        logger.addHandler(handler)
        logger.propagate = False
    FILTER.verbose = verbose
    logger.setLevel(logging.DEBUG if verbose else logging.WARNING)
