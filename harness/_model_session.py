"""The process's ONNX Runtime sessions: one per model (SHA-256) and thread count, built
on first use, since sessions cannot be pickled.
"""

from __future__ import annotations

import threading
from typing import Any

from highfive.generators import ModelError, show

__all__ = ["session"]

_PATH_CHARS = 300  # a model's path is echoed whole unless absurdly long


def _named(label: str) -> str:
    return show(label, _PATH_CHARS)


_SESSIONS: dict[tuple[str, int], Any] = {}
_LOCK = threading.Lock()


def session(data: bytes, sha256: str, threads: int = 1, *, name: str = "") -> Any:
    """The process's ONNX Runtime session for this model, built on first use.

    ``threads`` sets ``intra_op_num_threads`` explicitly: ONNX Runtime ignores
    OMP_NUM_THREADS, and one thread per dask worker process avoids oversubscription.
    ``name`` (the model's path) is what an error names; without it, the hash.
    """
    key = (sha256, threads)
    sess = _SESSIONS.get(key)
    if sess is None:
        import onnxruntime as ort

        with _LOCK:
            sess = _SESSIONS.get(key)
            if sess is None:
                opts = ort.SessionOptions()
                opts.intra_op_num_threads = threads
                opts.inter_op_num_threads = 1
                opts.log_severity_level = 3
                try:
                    sess = ort.InferenceSession(data, opts, providers=["CPUExecutionProvider"])
                except Exception as exc:  # onnxruntime raises its own exception types
                    raise ModelError(
                        f"model {_named(name) if name else sha256[:12]}: ONNX Runtime cannot "
                        f"load it ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})"
                    ) from None
                _SESSIONS[key] = sess
    return sess
