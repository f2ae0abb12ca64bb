"""Waiting in tests for something another thread does, without guessing how long it takes."""

from __future__ import annotations

import time
from typing import Callable

# Generous: a loaded CI machine may take seconds where an idle laptop takes milliseconds,
# and a condition that holds returns at once, so only a failing test waits this long.
DEADLINE_S = 10.0


def wait_until(predicate: Callable[[], object], timeout: float = DEADLINE_S, what: str = "") -> None:
    """Return as soon as ``predicate()`` is true; raise AssertionError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what or predicate}")
        time.sleep(0.01)
