"""Allocator settings for the processes that run cases.

A case allocates and frees a few dozen arrays of 10 kB to 1 MB. glibc's defaults
return freed memory to the kernel eagerly: arrays above a threshold (128 kB at first,
raised as large blocks are freed) are mapped afresh each time, and the top of the heap
is trimmed whenever 2x that threshold lies free there. Every case then page-faults its
arrays in again. Keeping freed memory for reuse made a case 10 % faster in a plain
loop (325 against 296 cases/s, side by side, one core) for 4 MB more resident memory;
dask's nanny goes the other way (``MALLOC_TRIM_THRESHOLD_=65536`` for its workers),
which cost a third of a worker's speed.

The settings touch only how memory is recycled, never what is computed: results are
bit-identical with or without them (tested).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
from functools import cache

__all__ = ["MMAP_THRESHOLD", "TRIM_THRESHOLD", "reuse_freed_memory"]

MMAP_THRESHOLD = 4 * 2**20
"""Blocks at least this large (bytes) are mapped on their own and unmapped when freed."""

TRIM_THRESHOLD = 64 * 2**20
"""Free memory at the top of the heap (bytes) kept before any is returned to the kernel."""

# mallopt parameter numbers from glibc's malloc.h
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


@cache
def reuse_freed_memory() -> bool:
    """Make this process keep freed memory for reuse (glibc only; once per process).

    Sets glibc's ``M_MMAP_THRESHOLD`` to :data:`MMAP_THRESHOLD` and ``M_TRIM_THRESHOLD``
    to :data:`TRIM_THRESHOLD` with ``mallopt``, which overrides the ``MALLOC_*_``
    environment variables a dask nanny passes its workers. Returns whether the
    settings are in force; elsewhere (macOS, musl) it does nothing and returns False.
    """
    libc_version = ""
    with contextlib.suppress(ValueError, OSError, AttributeError):
        libc_version = os.confstr("CS_GNU_LIBC_VERSION") or ""
    if not libc_version.startswith("glibc"):
        return False
    libc = ctypes.CDLL(None)  # the C library this process already runs on
    return bool(
        libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
        and libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )
