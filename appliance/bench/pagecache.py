"""How much of a file sits in the page cache (mincore), and evicting it (posix_fadvise).

A memory-mapped index costs the RAM of the file pages its lookups touch, besides its heap;
``resident_bytes`` counts those pages the way the kernel sees them, and ``evict`` drops them
so that a run starts from a cold cache, as after a reboot.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import mmap
import os
from pathlib import Path

PAGE = mmap.PAGESIZE

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_libc.mmap.restype = ctypes.c_void_p
_libc.mmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long)
_libc.munmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t)
_libc.mincore.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.POINTER(ctypes.c_ubyte))
_MAP_FAILED = ctypes.c_void_p(-1).value


def resident_bytes(path: Path) -> int:
    """Bytes of ``path`` in the page cache now (pages in core x page size, the last one whole).

    Linux answers mincore on a file mapping with the page cache's state when the caller owns
    the file (or may write it), which a benchmark does for the files it built.
    """
    size = os.path.getsize(path)
    if size == 0:
        return 0
    with open(path, "rb") as handle:
        address = _libc.mmap(None, size, mmap.PROT_READ, mmap.MAP_SHARED, handle.fileno(), 0)
        if address in (None, _MAP_FAILED):
            raise OSError(ctypes.get_errno(), f"mmap of {path} failed")
        try:
            pages = (size + PAGE - 1) // PAGE
            vector = (ctypes.c_ubyte * pages)()
            if _libc.mincore(ctypes.c_void_p(address), size, vector) != 0:
                raise OSError(ctypes.get_errno(), f"mincore of {path} failed")
            return sum(1 for flag in bytes(vector) if flag & 1) * PAGE
        finally:
            _libc.munmap(ctypes.c_void_p(address), size)


def evict(path: Path) -> None:
    """Drop ``path``'s clean pages from the page cache (written pages are flushed first)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fdatasync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def evict_dir(directory: Path) -> None:
    for path in sorted(directory.iterdir()):
        if path.is_file():
            evict(path)


def resident_dir(directory: Path) -> dict[str, int]:
    """Page-cache bytes of each file of ``directory``."""
    return {path.name: resident_bytes(path) for path in sorted(directory.iterdir()) if path.is_file()}
