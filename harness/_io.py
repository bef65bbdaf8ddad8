"""Atomic file output: nothing is ever left half-written.

Write to a temporary file in the destination's folder, flush it to disk, then
``os.replace`` it over the destination (atomic on POSIX within one file system). On any
error the temporary file is removed and the destination is untouched.
:func:`write_together` does so for a command's several outputs: all of them or none (as
far as a file system allows: see there).
"""

from __future__ import annotations

import contextlib
import errno
import functools
import json
import math
import os
import secrets
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "JsonFileError",
    "Writer",
    "atomic_path",
    "atomic_write_text",
    "file_identity",
    "json_text",
    "read_json_object",
    "write_together",
]

Writer = Callable[[Path], object]
"""Writes one output to the path it is given (a temporary beside the output)."""


def resolved_path(path: Path) -> Path:
    """``path`` with its links and ``..`` resolved, or made absolute where it cannot be
    resolved (a loop of links, which ``Path.resolve`` raises RuntimeError for)."""
    try:
        return path.resolve()
    except (OSError, RuntimeError, ValueError):  # ValueError: a NUL in the name
        return path.absolute()


FOLDER = "is a folder"
NOT_REGULAR = "is not a regular file"
MISSING = "does not exist"


def not_a_file(path: Path) -> str:
    """Why ``path`` (through links) is no regular file to read, or '' if it is one:
    :data:`MISSING`, :data:`FOLDER`, :data:`NOT_REGULAR` (a device, pipe or socket,
    which reading could wait on forever), or "cannot be opened (reason)" (a loop of
    links, a name too long, a NUL in it)."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return MISSING
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        return f"cannot be opened ({reason})"
    if stat.S_ISDIR(mode):
        return FOLDER
    return "" if stat.S_ISREG(mode) else NOT_REGULAR


def file_identity(path: Path) -> tuple[object, ...]:
    """What names one file however it is written: its device and inode when it exists
    (a symbolic or hard link is the file), else its resolved path."""
    resolved = resolved_path(path)  # 'missing/../a.csv' is a.csv, as the resolved path says
    try:
        st = resolved.stat()
    except (OSError, ValueError):
        return (os.fspath(resolved),)
    return (st.st_dev, st.st_ino)


def utf8_text(text: str) -> str:
    """``text`` as every file format can hold it: the bytes of a file name that is not
    UTF-8 (which Python reads as lone surrogates, and Parquet, JSON in UTF-8 and
    matplotlib refuse) as ``\\xNN`` escapes, the rest as it is."""
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate no file name gives
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return raw.decode("utf-8", "backslashreplace")


def terminal_text(text: str) -> str:
    """``text`` as a terminal can print it: :func:`utf8_text`, then every character a
    terminal would not print (a line break, ESC, BEL) as its escape."""
    from highfive.generators import show_text

    return show_text(utf8_text(text))


def _finite(value: Any) -> Any:
    """``value`` with every float that is not finite (inf, -inf, NaN) replaced by None."""
    if isinstance(value, float):  # numpy's float64 too
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def json_text(value: Any, *, indent: int | None = 2) -> str:
    """Strict JSON text (RFC 8259) of a record a user reads, ending in a newline.

    A number that is not finite (an infinite weight bound, an undefined rate) is
    written as ``null``: ``json.dumps`` would write the bare words ``Infinity`` and
    ``NaN``, which JavaScript, Go and many other JSON readers reject. Values JSON has
    no type for (paths, numpy scalars other than float64) are written as their text.
    """
    return json.dumps(_finite(value), indent=indent, default=str, allow_nan=False) + "\n"


class JsonFileError(ValueError):
    """Why a JSON file cannot be taken, in words that follow its path and a colon."""


def read_json_object(path: Path, what: str) -> dict[str, Any]:
    """The JSON object in ``path`` (``what`` it should hold, for the message).

    Raises :class:`JsonFileError` saying why not: it cannot be read, is not UTF-8, is
    not valid JSON, or holds another JSON value than an object. Each reader of a
    record adds the path and what to do, so every record is checked the same way.
    """
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except OSError as exc:  # a folder, a dangling link, unreadable
        raise JsonFileError(f"it cannot be read ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise JsonFileError(f"not UTF-8 text ({exc.reason})") from None
    except json.JSONDecodeError as exc:
        raise JsonFileError(f"not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise JsonFileError(f"holds a JSON {type(data).__name__}, not {what} (an object)")
    return data


@functools.cache
def _umask() -> int:
    # Read once: setting and restoring the umask is not thread-safe, so do it only
    # where /proc does not tell it.
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(dest: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``dest``; on success, rename it to ``dest``.

    >>> with atomic_path("out.csv") as tmp:  # doctest: +SKIP
    ...     frame.to_csv(tmp)
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    # mkstemp makes the file private (0600); give it the permissions any new file gets.
    os.fchmod(fd, 0o666 & ~_umask())
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, dest)
    except OSError as exc:  # disk full, read-only: say so of dest, not of the temporary
        tmp.unlink(missing_ok=True)
        if exc.filename in (None, name, tmp) and exc.errno is not None:
            raise OSError(exc.errno, exc.strerror, os.fspath(dest)) from None
        raise
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_text(dest: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``dest`` atomically."""
    with atomic_path(dest) as tmp:
        tmp.write_text(text)


def _keep_copy(path: Path, aside: Path) -> None:
    """Keep ``path``'s current content as ``aside`` without ever removing ``path``: a
    hard link, or a copy where links are refused (a symbolic link is kept as one)."""
    if path.is_symlink():
        os.symlink(os.readlink(path), aside)
        return
    try:
        os.link(path, aside)
    except OSError:
        shutil.copy2(path, aside)


def write_together(
    writers: Mapping[str, tuple[Path, Writer]],
    *,
    error: Callable[[str, Path, OSError], Exception] | None = None,
) -> None:
    """Write every output file or none (flag -> (path, writer)).

    Each writer writes a temporary beside its file (same suffix, so formats still
    follow it). Once all have succeeded, and every file has been checked to be no
    folder, each file is set aside under a name of its own and its temporary renamed
    over it. On any failure or exception (disk full, read-only, Ctrl-C, SIGTERM) the
    renames done are undone in reverse: each file set aside is put back, each new file
    removed; the temporaries and the folders made for them are removed too. An
    ``OSError`` becomes one line naming the flag and the file
    (:class:`~highfive.generators.InvalidParameter`), never the temporary; or, given
    ``error``, whatever ``error(flag, file, exc)`` returns.

    What is not covered: a process killed outright (SIGKILL, power lost) between two
    renames leaves the files renamed so far new, the others old, and the set-aside
    copies (``.NAME.XXXXXXXX.old``) beside them. Each file is still whole, old or new,
    and present at every instant: the old one is set aside as a second link (a copy
    where the file system has no hard links) and the new one renamed over it.
    """
    from highfive.generators import InvalidParameter

    staged: list[tuple[str, Path, Path]] = []  # (flag, temporary, file)
    made: list[Path] = []  # folders created here
    done: list[tuple[Path, Path | None]] = []  # (file, its old self set aside, or None)
    where: tuple[str, Path] = ("", Path())  # the flag and file at hand, for an error
    try:
        for flag, (dest, write) in writers.items():
            where = (flag, dest)
            missing = [p for p in dest.absolute().parents if not p.exists()]
            for folder in reversed(missing):
                folder.mkdir()
                made.append(folder)
            tmp = dest.with_name(f".{dest.name}.{secrets.token_hex(4)}.tmp{dest.suffix}")
            staged.append((flag, tmp, dest))
            write(tmp)
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
        for flag, _, dest in staged:  # what would fail every rename, before the first
            if dest.is_dir():
                where = (flag, dest)
                raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), os.fspath(dest))
        for flag, tmp, dest in staged:
            where = (flag, dest)
            aside = None
            if dest.is_symlink() or dest.exists():
                aside = dest.with_name(f".{dest.name}.{secrets.token_hex(4)}.old")
                _keep_copy(dest, aside)
            done.append((dest, aside))
            os.replace(tmp, dest)  # the file is old or new at every instant, never absent
        for _, aside in done:
            if aside is not None:
                aside.unlink(missing_ok=True)
    except BaseException as exc:
        for dest, aside in reversed(done):  # put back what was there
            with contextlib.suppress(OSError):
                if aside is None:
                    dest.unlink(missing_ok=True)
                elif aside.is_symlink() or aside.exists():
                    os.replace(aside, dest)
        for _, tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        for folder in reversed(made):
            with contextlib.suppress(OSError):
                folder.rmdir()
        if isinstance(exc, OSError):
            if error is not None:
                raise error(*where, exc) from None
            reason = exc.strerror or str(exc)
            raise InvalidParameter(
                f"cannot write {where[0]} {os.fspath(where[1])!r}: {reason}"
            ) from None
        raise
