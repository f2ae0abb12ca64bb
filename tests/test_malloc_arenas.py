"""``kiosk run`` caps glibc's malloc arenas before its threads start, unless the operator set MALLOC_ARENA_MAX."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from appliance.service import malloc_arenas

# Eight threads allocating at once, then glibc's own account of its arenas on stderr.
PROBE = textwrap.dedent("""
    import ctypes, sys, threading
    from appliance.service import malloc_arenas
    print(malloc_arenas.limit() if sys.argv[1] == "limit" else "left", flush=True)
    barrier = threading.Barrier(8)

    def work():
        barrier.wait()
        for _ in range(2000):
            [bytearray(256) for _ in range(50)]

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ctypes.CDLL(None).malloc_stats()
""")


def _arenas(mode: str, **env: str) -> tuple[str, int]:
    environ = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"} | env
    done = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, env=environ,
                          timeout=120, check=True)
    return done.stdout.strip(), sum(1 for line in done.stderr.splitlines() if line.startswith("Arena "))


def test_the_cap_holds_threads_to_two_arenas_where_they_would_take_more():
    assert _arenas("limit") == ("True", malloc_arenas.ARENAS)
    said, uncapped = _arenas("none")
    assert said == "left" and uncapped > malloc_arenas.ARENAS


def test_an_operators_malloc_arena_max_is_left_alone():
    assert _arenas("limit", MALLOC_ARENA_MAX="1") == ("False", 1)
    assert malloc_arenas.limit(environ={"MALLOC_ARENA_MAX": "4"}) is False
