"""The allocator settings of case-running processes: in force, and harmless to results.

Each check runs in a fresh interpreter, since the settings are process-wide.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

glibc = pytest.mark.skipif(
    not (hasattr(os, "confstr") and (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc")),
    reason="mallopt settings apply to glibc only",
)

_HEAP_CHECK = """
import ctypes, json
import numpy as np
from highfive.harness._malloc import reuse_freed_memory

class Mallinfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
        "uordblks", "fordblks", "keepcost")]

libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = Mallinfo2

def mapped_bytes_for_a_2mb_array():
    before = libc.mallinfo2().hblkhd
    a = np.ones(2**18)  # 2 MiB
    grew = libc.mallinfo2().hblkhd - before
    del a
    return grew

out = {"before": mapped_bytes_for_a_2mb_array()}
out["applied"] = reuse_freed_memory()
out["after"] = mapped_bytes_for_a_2mb_array()
print(json.dumps(out))
"""

_DIGEST = """
import hashlib, sys
import numpy as np
from highfive.generators import default_space, synthesize
from highfive.harness import CounterPipeline, Model
from highfive.harness import _malloc

if sys.argv[1] == "on":
    assert _malloc.reuse_freed_memory()
space = default_space()
rows = space.rows(np.random.default_rng(5).random((24, space.d)))
pipes = [CounterPipeline(Model.load(m)) for m in ("float", "int8")]
h = hashlib.sha256()
for i, row in enumerate(rows):
    trace = synthesize(row, np.random.SeedSequence(9, spawn_key=(i,)), validate=False)
    h.update(trace.samples.tobytes())
    for pipe in pipes:
        res = pipe.run(trace)
        h.update(res.probs.tobytes())
        h.update(repr(res.detections).encode())
print(h.hexdigest())
"""


def _python(code: str, *args: str, **env: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


@glibc
def test_settings_keep_megabyte_arrays_on_the_heap() -> None:
    """With glibc's threshold pinned at 128 kB, a 2 MiB array is mapped on its own until
    reuse_freed_memory() raises the threshold to 4 MiB; then it comes from the heap."""
    out = json.loads(_python(_HEAP_CHECK, MALLOC_MMAP_THRESHOLD_="131072"))
    assert out["before"] >= 2**21
    assert out["applied"] is True
    assert out["after"] == 0


@pytest.mark.slow
def test_results_are_bit_identical_with_and_without_the_settings() -> None:
    """Traces, both models' window probabilities and detections of 24 cases."""
    assert _python(_DIGEST, "on") == _python(_DIGEST, "off")
