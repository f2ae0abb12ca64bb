"""Fewer glibc malloc arenas for ``kiosk run``: the same work in less resident memory.

glibc gives each thread that allocates under contention an arena of its own, up to eight
per core, and returns little of an arena's memory to the system. The API's worker threads,
the uplink and housekeeping then keep their high-water marks apart: after an outage's
backlog drained, ``kiosk run`` stayed at 203-219 MiB against 151-166 MiB with two arenas, for
about 7 % of the record throughput of four officers recording as fast as the API answers
(``kiosk bench outage --crossings 8000``, three interleaved rounds; docs/reliability.md).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
from collections.abc import Mapping

log = logging.getLogger(__name__)

ARENAS = 2
M_ARENA_MAX = -8  # glibc's malloc.h


def limit(arenas: int = ARENAS, environ: Mapping[str, str] | None = None) -> bool:
    """Cap glibc's arenas before the service starts its threads; True if the cap is in force.

    An explicit ``MALLOC_ARENA_MAX`` in the environment is the operator's choice (glibc read
    it at start-up) and is left alone; on a C library without ``mallopt`` nothing changes.
    """
    if "MALLOC_ARENA_MAX" in (os.environ if environ is None else environ):
        return False
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        mallopt = libc.mallopt if libc is not None else None
    except (OSError, AttributeError):
        mallopt = None
    if mallopt is None:
        log.info("no mallopt in this C library: malloc arenas left as they are")
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return mallopt(M_ARENA_MAX, arenas) == 1
