"""Silence LIBERO's and robosuite's known import-time chatter at its source, in every process that imports them.

robosuite warns through its own logger, on every import, that no private macro file exists (harmless: its
defaults are what LIBERO uses); libero-pro's benchmark constructor prints the task order it applies (the
identity for the standard suites). Only these known messages are dropped; anything else still shows.
"""

from __future__ import annotations

import contextlib
import io
import logging
import sys
from collections.abc import Iterator

_ROBOSUITE_KNOWN = (
    "No private macro file found",
    "It is recommended to use a private macro file",
    "To setup, run:",
)
_PRINTED_KNOWN = ("[info] Applying task order index",)


class _DropKnown(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(_ROBOSUITE_KNOWN)


_FILTER = _DropKnown()


def install_log_filter() -> None:
    """Before robosuite is first imported: drop its macro-file warnings (idempotent)."""
    logging.getLogger("robosuite_logs").addFilter(_FILTER)


@contextlib.contextmanager
def known_prints_dropped() -> Iterator[None]:
    """Run a LIBERO call whose stdout is only the known task-order line; any other line is passed through."""
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        yield
    for line in buf.getvalue().splitlines(keepends=True):
        if not line.startswith(_PRINTED_KNOWN):
            sys.stdout.write(line)
