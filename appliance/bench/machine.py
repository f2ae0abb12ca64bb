"""What a benchmark ran on: versions, BLAS and its threads, CPU count and the machine's load.

Figures measured on a shared machine mean little without the load beside them, and a peer's
figure means little without the library version, BLAS and thread count it ran with; every
``kiosk bench`` prints these next to its figures.
"""

from __future__ import annotations

import os
import platform
import sys
from contextlib import contextmanager
from importlib import metadata
from typing import Any, Iterator


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages (what ``uptime`` prints)."""
    return [round(value, 2) for value in os.getloadavg()]


def versions(*distributions: str) -> dict[str, str]:
    """Installed version of each named distribution ("missing" when it is not installed)."""
    found = {}
    for name in distributions:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "missing"
    return found


def thread_pools() -> list[dict[str, Any]]:
    """The BLAS and OpenMP libraries loaded in this process, each with its thread count.

    threadpoolctl (a bench/dev extra) reads them; without it, numpy's own build record names
    its BLAS and the thread count is unknown.
    """
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        import numpy as np

        blas = np.show_config(mode="dicts").get("Build Dependencies", {}).get("blas", {})
        return [{"user_api": "blas", "internal_api": str(blas.get("name", "?")), "version": str(blas.get("version", "?")),
                 "num_threads": None, "library": "numpy"}]
    pools = []
    for pool in threadpool_info():
        path = str(pool.get("filepath", ""))
        owner = "faiss" if "faiss" in path else "numpy" if "numpy" in path else os.path.basename(path)
        pools.append({"user_api": pool.get("user_api"), "internal_api": pool.get("internal_api"),
                      "version": pool.get("version"), "num_threads": pool.get("num_threads"), "library": owner})
    return pools


@contextmanager
def limited_threads(threads: int) -> Iterator[None]:
    """Every BLAS/OpenMP pool of this process (numpy's, faiss's) limited to ``threads`` meanwhile."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # the bench/dev extra is missing: say so in the figures rather than guess
        yield
        return
    with threadpool_limits(limits=threads):
        yield


def describe() -> dict[str, Any]:
    """The machine section of a benchmark's figures."""
    return {"cpus": os.cpu_count(), "machine": platform.machine(), "python": sys.version.split()[0],
            "load_average_at_start": load_average()}


def summary(machine: dict[str, Any]) -> str:
    """One line for a text report: CPUs, Python, load at start and end."""
    line = f"machine: {machine['cpus']} CPUs {machine['machine']}, Python {machine['python']}, load average " \
           f"{'/'.join(str(v) for v in machine['load_average_at_start'])} at start"
    if "load_average_at_end" in machine:
        line += f", {'/'.join(str(v) for v in machine['load_average_at_end'])} at end"
    if machine["load_average_at_start"][0] > (machine["cpus"] or 1) / 2:
        line += " (the machine was busy: absolute times are inflated, ratios within the run still hold)"
    return line
