"""The run directory: campaign.json, manifest.jsonl, results/ and failures/.

::

    runs/<name>/campaign.json          config as run, versions, model hashes, times, status
    runs/<name>/manifest.jsonl         one line per finished batch, after its files exist
    runs/<name>/results/model=<id>/part-<batch>.parquet
    runs/<name>/failures/part-<batch>.parquet

Every file is written to a temporary name and renamed into place; a batch counts as
done only once its manifest line is on disk, so a crash at any point leaves a state
that ``--resume`` completes without duplicates or gaps. A torn last manifest line
(a kill during the write) is ignored and cut off on resume; any other line that is
not a manifest entry is damage (:meth:`RunDir.done_batches`).

The manifest is the index of the run's data: each line lists its batch's files with
their size and SHA-256. Readers take exactly those files (a file left by a kill
before its manifest line, or dropped in by hand, is not read) and check them first
(:meth:`RunDir.verify`): a missing, truncated or altered file is a one-line
:class:`RunDirError` naming it, never silently fewer or different rows; ``--resume``
redoes damaged batches. A run holds an exclusive lock (:meth:`RunDir.lock`) while a
campaign writes to it, so two campaigns can never mix their batches.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Literal, TextIO

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from highfive.generators import ConfigError, ModelError, RunDirError

from ._io import (
    JsonFileError,
    atomic_path,
    atomic_write_text,
    json_text,
    read_json_object,
    utf8_text,
)
from .counters import (
    DEFAULT_TIMEOUT_S,
    CounterOptions,
    CounterPlugin,
    OnnxCounter,
    load_recorded,
    recorded_source,
)

__all__ = ["READABLE", "SCHEMA_VERSION", "STAGES_JSON", "RunDir"]

STAGES_JSON = "stages.json"
"""The record of a sequential campaign (``highfive run --until-decided``) in its folder."""

SCHEMA_VERSION = 3
"""Version 3: result rows have ``source`` and ``recording`` (and a campaign of recordings
its metadata columns, its parameter columns null); campaign.json's identity lists the
recordings' SHA-256. Version 2: counters are plug-ins (kind and identity per counter),
result rows have ``message`` and ``latency_s``, the failure corpus has ``messages``."""
READABLE = (1, 2, 3)
"""Versions this highfive reads (version 1: ONNX models only, no message or latency;
versions 1 and 2: synthetic cases only, no ``source`` or ``recording`` column)."""
Takes = Literal["one", "two", "several", "report", "gate"]
"""How many runs a command reading a run takes (:meth:`RunDir.sequential_note`)."""


class RunDir:
    """Paths and atomic I/O of one run directory."""

    def __init__(
        self, path: str | os.PathLike[str], shown: str | os.PathLike[str] | None = None
    ) -> None:
        self.path = Path(path)
        self.shown = self.path if shown is None else Path(shown)
        """The folder as messages name it (as the user gave it; ``path`` may be made
        absolute for the writes)."""
        self._verified = False
        self._unique = False

    def check_utf8(self) -> None:
        """Refuse a folder whose path is not UTF-8 (a name's bytes that Python reads
        as lone surrogates): pyarrow, which writes and reads the results, takes UTF-8
        paths only, so such a run could be written but not read back."""
        try:
            os.fspath(self.path.absolute()).encode("utf-8")
        except UnicodeEncodeError:
            raise RunDirError(
                f"run directory {utf8_text(os.fspath(self.shown))!r}: its path is not UTF-8, "
                "and the results' Parquet files are read through UTF-8 paths only; choose "
                "a UTF-8 name"
            ) from None

    # -- layout ----------------------------------------------------------------------
    @property
    def campaign_json(self) -> Path:
        return self.path / "campaign.json"

    @property
    def manifest(self) -> Path:
        return self.path / "manifest.jsonl"

    @property
    def results_dir(self) -> Path:
        return self.path / "results"

    @property
    def failures_dir(self) -> Path:
        return self.path / "failures"

    def exists(self) -> bool:
        return self.campaign_json.is_file()

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the run's exclusive lock (``.lock`` in the run directory).

        ``flock`` is released by the operating system when the process ends, however
        it ends, so a ``kill -9`` never leaves a stale lock. If the directory did not
        exist and nothing but the lock was written when the block ends (an error
        before the campaign started), the directory is removed again.
        """
        # The folders this call creates (the run directory, maybe its parents), to
        # remove again if the campaign never starts.
        created = [p for p in (self.path, *self.path.parents) if not p.exists()]
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            if self.path.is_dir():  # it exists: its lock file is what cannot be written
                kept = self.exists() or self.manifest.exists()
                raise _write_error(self.path / ".lock", exc, resumable=kept) from None
            raise RunDirError(
                f"cannot create run directory {os.fspath(self.path)!r}: {exc.strerror or exc}"
            ) from None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "unknown"
                raise RunDirError(
                    f"run directory {os.fspath(self.path)!r} is in use by another campaign "
                    f"({holder}); wait for it to finish, or choose another name or --out"
                ) from None
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"pid {os.getpid()}".encode(), 0)
            yield
        finally:
            if created and not self.campaign_json.exists() and not self.manifest.exists():
                with contextlib.suppress(OSError):
                    os.unlink(self.path / ".lock")
                    for folder in created:  # innermost first; stops at a non-empty one
                        folder.rmdir()
            os.close(fd)

    def held(self) -> bool:
        """Whether a campaign holds the run's lock now (reads only; creates nothing)."""
        try:
            fd = os.open(self.path / ".lock", os.O_RDONLY)
        except OSError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)  # also releases the shared lock, if it was taken
        return False

    def remove_temporaries(self) -> int:
        """Delete temporary files a killed writer left (``.*.tmp``); return how many."""
        n = 0
        for folder in (self.path, self.results_dir, self.failures_dir):
            if not folder.is_dir():
                continue
            for tmp in folder.rglob(".*.tmp"):
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()
                    n += 1
        return n

    # -- a sequential campaign's folder -------------------------------------------------
    def stages(self) -> list[Path] | None:
        """The ``stage-NNN`` runs if this is a sequential campaign's folder (``highfive
        run --until-decided``: ``stages.json`` and one run directory per stage), else None."""
        stages = sorted(p for p in self.path.glob("stage-[0-9][0-9][0-9]*") if p.is_dir())
        if not (self.path / STAGES_JSON).is_file() and not stages:
            return None
        return stages

    def sequential_note(self, takes: Takes = "one") -> str:
        """What this folder is when it holds a sequential campaign ('' when it does not),
        with advice for the command reading it: one that ``takes`` "one" run (replay,
        shrink, a follow-up), "two" (diff), "several" (coverage, compare), the "gate"
        (of the first stage, of base cases) or the "report" (of the first stage, which
        shows the stages' merged coverage)."""
        stages = self.stages()
        if stages is None:
            return ""
        head = (
            f"{os.fspath(self.path)!r} is a sequential campaign's folder (made by "
            "--until-decided), not a run directory; "
        )
        if not stages:
            return head + "it holds no stage yet"
        shown = [os.fspath(p) for p in stages[:3]] + (["..."] if len(stages) > 3 else [])
        first, last = os.fspath(stages[0]), os.fspath(stages[-1])
        every = os.fspath(self.path / "stage-*")
        advice = {
            "one": f"pass one of them, e.g. its last stage {last}",
            # Later stages may draw from target boxes, which a gate refuses.
            "gate": (
                f"gate its first stage {first}, drawn from the base distribution, or let "
                "--until-decided gate its stages"
            ),
            "two": f"pass one or two of them, e.g. {first} {last}",
            "several": f"pass them, e.g. {every}",
            "report": (
                f"report one of them; 'highfive coverage {every}' merges them into "
                f"{first}'s coverage, which 'highfive report {first}' then shows"
            ),
        }[takes]
        return f"{head}its runs: {', '.join(shown)} ({advice})"

    # -- campaign.json ----------------------------------------------------------------
    def read_campaign(self, *, config: bool = False, takes: Takes = "one") -> dict[str, Any]:
        """The campaign record; :class:`RunDirError` if missing, torn, too new or
        damaged. ``config``: the campaign's settings must be there too (replay, shrink,
        a follow-up and the report rebuild cases from them). ``takes``: how many runs
        the command reading it takes, for the advice when this is a sequential
        campaign's folder (:meth:`sequential_note`)."""
        self.check_utf8()
        if not self.campaign_json.is_file():
            if not self.path.exists():
                raise RunDirError(
                    f"run directory {os.fspath(self.path)!r} does not exist; give a folder "
                    "made by 'highfive run'"
                )
            raise RunDirError(
                self.sequential_note(takes)  # a sequential campaign's folder says so
                or f"run directory {os.fspath(self.path)!r} has no campaign.json; "
                "is it a run directory? (made by 'highfive run')"
            )
        try:
            record = read_json_object(self.campaign_json, "the campaign record")
        except JsonFileError as exc:
            hint = "; is it a run directory made by 'highfive run'?" if "holds" in str(exc) else ""
            raise RunDirError(f"{self.campaign_json}: {exc}{hint}") from None
        version = record.get("schema_version")
        if version not in READABLE:
            raise RunDirError(
                f"{self.campaign_json}: schema_version {version!r}, this highfive reads "
                f"{' and '.join(map(str, READABLE))}; re-run the campaign with this version"
            )
        problem = _record_problem(record, needs=("config", "models") if config else ("models",))
        if problem:
            raise RunDirError(
                f"{self.campaign_json}: damaged, {problem}; the run cannot be read (run the "
                "campaign again)"
            )
        return record

    def require_complete(
        self, what: str, *, otherwise: str = "", config: bool = False, takes: Takes = "one"
    ) -> dict[str, Any]:
        """The campaign record of a complete run; :class:`RunDirError` saying why not.

        ``what`` names the command that needs it ("a gate", "diff"); ``otherwise``
        offers the user another way ("pass --partial to analyse what is there");
        ``config`` and ``takes`` as for :meth:`read_campaign`.
        """
        record = self.read_campaign(config=config, takes=takes)
        if record.get("status") != "complete":
            done = len(self.done_batches())
            alt = f", or {otherwise}" if otherwise else ""
            how = "'highfive run CONFIG --resume'"
            if RunDir(self.path.parent).stages() is not None:  # a stage of a sequential run
                how = (
                    "'highfive run CONFIG --until-decided --resume' (the same gate, --budget, "
                    "--stage and --spending)"
                )
            dead = ""
            if record.get("status") == "running" and not self.held():
                dead = (
                    ", but no campaign is running it (it was killed, or could not record its end)"
                )
            raise RunDirError(
                f"run directory {os.fspath(self.path)!r} is incomplete (status "
                f"{record.get('status')!r}) with {done} batches done{dead}; {what} needs a "
                f"complete run: finish it with {how}{alt}"
            )
        return record

    def recorded_ids(self) -> dict[tuple[str, str], str]:
        """The ids the run gave its counters, by (kind, identity SHA-256), for identities
        recorded once: a counter the campaign does not name keeps its id on resume
        whatever today's default id for it is. Empty if the record cannot be read
        (resume says why)."""
        try:
            models = self.read_campaign().get("models", [])
        except RunDirError:
            return {}
        keys = [(str(m.get("kind", "onnx")), str(m.get("sha256"))) for m in models]
        return {k: str(m["id"]) for k, m in zip(keys, models, strict=True) if keys.count(k) == 1}

    def counters(self, options: CounterOptions | None = None) -> dict[str, CounterPlugin]:
        """The run's counters by id, loaded again; refused if one's identity changed.

        Without ``options``, relative paths resolve against the campaign file's folder:
        first where it is now if it moved or was copied with the run (at the place
        relative to the run directory the run recorded), then where the run recorded
        it. A counter that cannot be loaded from either is refused with the error of
        the first; one that loads but changed is refused at once.
        """
        record = self.read_campaign()
        entries = record.get("models", [])
        if options is not None:
            return {str(e["id"]): load_recorded(e, options) for e in entries}
        cfg = record.get("config", {})
        timeout_s = float(cfg.get("counter_timeout_s", DEFAULT_TIMEOUT_S))
        base = _recorded_base(record)
        recorded = CounterOptions(timeout_s=timeout_s, base=base)
        here = self.campaign_folder(record)
        if not here or here == base:
            return {str(e["id"]): load_recorded(e, recorded) for e in entries}
        loaded: dict[str, CounterPlugin] = {}
        try:
            for e in entries:
                options = CounterOptions(timeout_s=timeout_s, base=here)
                loaded[str(e["id"])] = load_recorded(e, options, moved_from=base)
            return loaded
        except (ConfigError, ModelError) as exc:  # not there: perhaps the run alone moved
            for counter in loaded.values():
                counter.close()
            try:
                return {str(e["id"]): load_recorded(e, recorded) for e in entries}
            except (ConfigError, ModelError):
                raise exc from None

    def model_files(self, record: Mapping[str, Any]) -> dict[str, str]:
        """Each ONNX model of the run by id, where its file is now: inside the campaign
        file's folder moved or copied with the run, at the new place if the file is
        there (as :meth:`counters` finds it), else where the run recorded it."""
        base, here = _recorded_base(record), self.campaign_folder(record)
        out = {}
        for m in record.get("models", []):
            if m.get("kind", "onnx") != "onnx":
                continue
            source = recorded_source(m)
            moved = OnnxCounter.relocated(source, base, here) if here and base else source
            out[str(m["id"])] = moved if Path(moved).is_file() else source
        return out

    def campaign_folder(self, record: Mapping[str, Any]) -> str:
        """The campaign file's folder at the place relative to this run directory the
        run recorded, if that is a folder; else ""."""
        rel = record.get("campaign_folder")
        if not isinstance(rel, str) or not rel:
            return ""
        here = os.path.normpath(self.path.absolute() / rel)
        return here if os.path.isdir(here) else ""

    def write_campaign(self, record: Mapping[str, Any]) -> None:
        # Before the first record and manifest line nothing is kept (the lock's
        # clean-up removes the directory), so there is nothing to resume then.
        kept = self.campaign_json.exists() or self.manifest.exists()
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            atomic_write_text(self.campaign_json, json_text(record))
        except OSError as exc:
            raise _write_error(self.campaign_json, exc, resumable=kept) from None

    # -- manifest ---------------------------------------------------------------------
    def done_batches(
        self, *, repair: bool = False, said: TextIO | None = None
    ) -> dict[int, dict[str, Any]]:
        """Manifest entries by batch.

        A last line without its newline is a write a kill cut short: the batch is not
        done (in a run whose status is "complete", where no write was cut, it is
        damage). Any other line that is not a manifest entry is damage: a one-line
        :class:`RunDirError` naming the file and line, never fewer batches in silence.
        With ``repair`` (resume), the torn last line is cut off and damaged lines are
        dropped instead (their batches then run again), each reported on ``said``.
        """
        if not self.manifest.exists():
            if not repair:
                self.has_manifest()  # a complete run highfive wrote: damage
            return {}
        raw = self.manifest.read_bytes()
        record = self._record()  # read once: what the entries must agree with
        complete = record.get("status") == "complete"
        layout = _layout(record)  # (batch_size, cases): each entry's cases and files checkable
        done: dict[int, dict[str, Any]] = {}
        kept: list[bytes] = []
        lines = raw.splitlines(keepends=True)
        for number, line in enumerate(lines, 1):
            if not line.endswith(b"\n"):  # only the last line can lack it
                if not repair and complete:
                    self._damaged_line(number, "is cut short (no newline at its end)")
                break
            entry, problem = _parse_entry(line)
            if entry is not None and layout is not None:
                problem = _misplaced(entry, *layout)
            if problem is not None:
                if not repair:
                    self._damaged_line(number, problem)
                if said is not None:
                    print(
                        f"{self.manifest} line {number} {problem}: dropped; the batch it "
                        "listed, if any, runs again",
                        file=said,
                    )
                continue
            assert entry is not None
            done[entry["batch"]] = entry
            kept.append(line)
        cases = record.get("config", {}).get("cases")
        if not repair and complete and _whole(cases):
            self._require_all_listed(done, cases)
        if repair and len(kept) < len(lines):
            try:
                atomic_write_text(self.manifest, b"".join(kept).decode("utf-8"))
            except OSError as exc:
                raise _write_error(self.manifest, exc) from None
        return done

    def has_manifest(self) -> bool:
        """Whether the run has manifest.jsonl. False for a folder of result files made by
        hand or by another tool (read as it is); a :class:`RunDirError` for a complete
        run whose campaign.json records its cases and batch size, as highfive writes it:
        such a run was written with a manifest, and without it nothing can be checked (a
        stray or repeated part file would be counted)."""
        if self.manifest.exists():
            return True
        record = self._record()
        layout = _layout(record)
        if record.get("status") == "complete" and layout is not None:
            raise RunDirError(
                f"run directory {os.fspath(self.path)!r} is damaged: manifest.jsonl is missing "
                f"from a complete run of {layout[1]:,} cases (the index of its result files); "
                "run the campaign again"
            )
        return False

    def _record(self) -> dict[str, Any]:
        """campaign.json as it is ({} if it cannot be read: its readers say why); read
        again only when the file changed (whichever RunDir object asks)."""
        key = _state(("record",), [self.campaign_json])

        def read() -> dict[str, Any]:
            try:
                return read_json_object(self.campaign_json, "the campaign record")
            except JsonFileError:
                return {}

        return _memo(key, read)

    def _require_all_listed(self, done: Mapping[int, Mapping[str, Any]], cases: int) -> None:
        """A complete run's manifest lists every case once: a line removed whole is
        damage too, not a smaller run."""
        listed = sum(int(e["count"]) for e in done.values())
        if listed != cases:
            raise RunDirError(
                f"run directory {os.fspath(self.path)!r} is damaged: manifest.jsonl lists "
                f"{listed:,} of the complete run's {cases:,} cases (a line is missing); "
                "'highfive run CONFIG --resume' redoes missing batches"
            )

    def _damaged_line(self, number: int, problem: str) -> None:
        raise RunDirError(
            f"run directory {os.fspath(self.path)!r} is damaged: manifest.jsonl line "
            f"{number} {problem}; 'highfive run CONFIG --resume' redoes damaged batches"
        )

    def append_manifest(self, entry: Mapping[str, Any]) -> None:
        line = json.dumps(entry, separators=(",", ":")) + "\n"
        try:
            with open(self.manifest, "a", encoding="utf-8") as fh:
                fh.write(line)
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            raise _write_error(self.manifest, exc) from None

    # -- parquet ----------------------------------------------------------------------
    def result_file(self, model_id: str, batch: int) -> Path:
        return self.results_dir / f"model={model_id}" / f"part-{batch:06d}.parquet"

    def failure_file(self, batch: int) -> Path:
        return self.failures_dir / f"part-{batch:06d}.parquet"

    def write_batch(
        self, batch: int, results: Mapping[str, pa.Table], failures: pa.Table | None
    ) -> list[dict[str, Any]]:
        """Write one batch's files atomically; return their manifest records.

        Each record is the path relative to the run, the size in bytes and the
        SHA-256 of the bytes written (hashed in memory, before they reach the disk).
        A failed write (disk full, read-only file system) is a one-line
        :class:`RunDirError`; the files of the batch written so far stay, unlisted, and
        the batch runs again on ``--resume``.
        """
        written = []
        for model_id, table in results.items():
            written.append(self._write(self.result_file(model_id, batch), table))
        if failures is not None and failures.num_rows:
            written.append(self._write(self.failure_file(batch), failures))
        return written

    def _write(self, dest: Path, table: pa.Table) -> dict[str, Any]:
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink)
        data = sink.getvalue()
        try:
            with atomic_path(dest) as tmp, open(tmp, "wb") as fh:
                fh.write(data)
        except OSError as exc:
            raise _write_error(dest, exc) from None
        return {
            "path": os.fspath(dest.relative_to(self.path)),
            "bytes": data.size,
            "sha256": hashlib.sha256(data).hexdigest(),
        }

    # -- integrity --------------------------------------------------------------------
    def damaged(self, entry: Mapping[str, Any]) -> str | None:
        """What is wrong with a manifest entry's files (None: all present and intact)."""
        for f in entry.get("files", []):
            rec = {"path": f} if isinstance(f, str) else f  # version 1 listed paths only
            path = self.path / rec["path"]
            try:
                size = path.stat().st_size
            except FileNotFoundError:
                return f"{rec['path']} is missing"
            if "bytes" in rec and size != rec["bytes"]:
                return (
                    f"{rec['path']} has {size:,} bytes, the manifest recorded "
                    f"{rec['bytes']:,} (truncated or replaced)"
                )
            if "sha256" in rec and _sha256_file(path) != rec["sha256"]:
                return f"{rec['path']} does not match its SHA-256 in the manifest (altered)"
        return None

    def verify(self) -> None:
        """Check every file the manifest lists; :class:`RunDirError` for the first bad one.

        Done once per :class:`RunDir` object (readers share one per command).
        """
        if self._verified:
            return
        for entry in self.done_batches().values():
            self._require_intact(entry)
        self._verified = True

    def _require_intact(self, entry: Mapping[str, Any]) -> None:
        """:class:`RunDirError` if a file of this manifest entry is damaged."""
        problem = self.damaged(entry)
        if problem is not None:
            raise RunDirError(
                f"run directory {os.fspath(self.path)!r} is damaged: {problem}; "
                "'highfive run CONFIG --resume' redoes damaged batches"
            )

    def stored_batch(self, batch: int) -> bool:
        """Whether ``batch`` is among the stored results: listed in the manifest (its
        files then checked: :class:`RunDirError` if damaged), or, for a folder of result
        files without a manifest, whatever files it has (read as they are). A batch whose
        files were written but not listed (a run killed in between) is not stored."""
        if not self.has_manifest():
            return True
        entry = self.done_batches().get(batch)
        if entry is None:
            return False
        self._require_intact(entry)
        return True

    def listed_files(self, folder: str) -> list[Path] | None:
        """The files under ``folder`` ("results" or "failures") that the manifest lists,
        verified; None for a folder of result files without a manifest (made by hand or
        by another tool), which is read as it is (see :meth:`has_manifest`)."""
        if not self.has_manifest():
            return None
        self.verify()
        out = []
        for entry in sorted(self.done_batches().items()):
            for f in entry[1].get("files", []):
                rel = f if isinstance(f, str) else f["path"]
                if Path(rel).parts[0] == folder:
                    out.append(self.path / rel)
        return out

    def results_dataset(self) -> ds.Dataset:
        """The result rows of every finished batch as a pyarrow dataset (``model`` from
        the hive path), after :meth:`verify`."""
        files = self.listed_files("results")
        if files is None:
            if not self.results_dir.is_dir():
                raise RunDirError(f"run directory {os.fspath(self.path)!r} has no results yet")
            data = ds.dataset(self.results_dir, format="parquet", partitioning="hive")
            self._require_unique(data)
            return data
        if not files:
            raise RunDirError(f"run directory {os.fspath(self.path)!r} has no results yet")
        return ds.dataset(
            [os.fspath(f) for f in files],
            format="parquet",
            partitioning="hive",
            partition_base_dir=os.fspath(self.results_dir),
        )

    def _require_unique(self, data: ds.Dataset) -> None:
        """:class:`RunDirError` if a folder of result files without a manifest holds a
        (model, case_id) row more than once (a part file copied or written twice): no row
        is counted twice. Checked once per set of files as they are (whichever RunDir
        object asks, so once per command), again when a file changed."""
        if self._unique or not {"model", "case_id"} <= set(data.schema.names):
            return
        key = _state(("unique",), [Path(f) for f in sorted(data.files)])
        _memo(key, lambda: _scan_unique(data, self.path))
        self._unique = True

    def results(self, columns: list[str] | None = None) -> pd.DataFrame:
        """All result rows as a DataFrame, one row per case and model."""
        return self.results_dataset().to_table(columns=columns).to_pandas()

    def failures(self) -> pd.DataFrame:
        """The failure corpus (raw samples, truth, detections) as a DataFrame."""
        files = self.listed_files("failures")
        if files is None:
            if not self.failures_dir.is_dir():
                return pd.DataFrame()
            return ds.dataset(self.failures_dir, format="parquet").to_table().to_pandas()
        if not files:
            return pd.DataFrame()
        return ds.dataset([os.fspath(f) for f in files], format="parquet").to_table().to_pandas()


def _parse_entry(line: bytes) -> tuple[dict[str, Any] | None, str | None]:
    """A manifest line as an entry, or None and what is wrong with it (one phrase)."""
    try:
        entry = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        reason = exc.reason if isinstance(exc, UnicodeDecodeError) else exc.msg
        return None, f"is not valid JSON ({reason})"
    what = "is not a manifest entry"
    if not isinstance(entry, dict):
        return None, f"{what}: a JSON {_json_type(entry)}, not an object"
    for key in ("batch", "start", "count"):
        if key not in entry:
            return None, f"{what}: no {key!r}"
        value = entry[key]
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            return None, f"{what}: {key!r} is {value!r}, not a whole number >= 0"
    files = entry.get("files")
    if not isinstance(files, list) or not all(_file_record(f) for f in files):
        return None, (
            f"{what}: 'files' is {_short(files)}, not a list of files (each a path, or "
            "an object with 'path', 'bytes' and 'sha256')"
        )
    verdicts = entry.get("verdicts", {})
    if not (
        isinstance(verdicts, dict)
        and all(isinstance(k, str) and "/" in k and _count(n) for k, n in verdicts.items())
        and _count(entry.get("agree", 0))
    ):
        return None, f"{what}: 'verdicts' or 'agree' are not counts by model/verdict"
    return entry, None


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _layout(record: Mapping[str, Any]) -> tuple[int, int] | None:
    """(batch_size, cases) of a campaign record that gives both as whole numbers > 0 (a
    run highfive wrote, whose manifest entries can be placed); None otherwise."""
    config = record.get("config")
    config = config if isinstance(config, dict) else {}
    size, cases = config.get("batch_size"), config.get("cases")
    if isinstance(size, int) and isinstance(cases, int) and _whole(size) and _whole(cases):
        return size, cases
    return None


_MEMO: dict[tuple[object, ...], Any] = {}
"""What was read from files, by :func:`_state` of the files read: one command that makes
many RunDir objects for one folder reads it once."""
_MEMO_SIZE = 64


def _state(what: tuple[object, ...], files: list[Path]) -> tuple[object, ...] | None:
    """A key that names ``files`` (resolved) as they are now (size, times, inode); None
    if one cannot be looked at (then nothing is remembered)."""
    key: list[object] = [*what]
    for f in files:
        try:
            st = f.stat()
        except OSError:
            return None
        key.append((os.fspath(f.resolve()), st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino))
    return tuple(key)


def _memo(key: tuple[object, ...] | None, compute: Any) -> Any:
    """``compute()``, remembered under ``key`` (never when ``key`` is None or it raises)."""
    if key is not None and key in _MEMO:
        return _MEMO[key]
    value = compute()
    if key is not None:
        if len(_MEMO) >= _MEMO_SIZE:
            _MEMO.clear()
        _MEMO[key] = value
    return value


def _recorded_base(record: Mapping[str, Any]) -> str:
    """The campaign file's folder the run recorded (``config.base``), against which
    its relative counter paths resolve; "" if none."""
    base = record.get("config", {}).get("base", "")
    return base if isinstance(base, str) else ""


def _record_problem(record: Mapping[str, Any], needs: tuple[str, ...] = ("models",)) -> str:
    """What is wrong with the shape of a campaign record ('' if nothing): the parts every
    reader takes for granted (a hand-edited file gave KeyError and TypeError tracebacks,
    or false answers such as "case 109 passes with ;" without its models)."""

    def shown(value: Any) -> str:
        names = {dict: "an object", list: "a list", str: "text", bool: "true or false"}
        return "null" if value is None else names.get(type(value), "a number")

    for key, kind in [("config", dict), ("models", list)]:
        if key not in record:
            if key in needs:
                return f"{key!r} is missing"
            continue
        if not isinstance(record[key], kind):
            return f"{key!r} is {shown(record[key])}, not {shown(kind())}"
    config = record.get("config", {})
    sampler = config.get("sampler", "")
    if not isinstance(sampler, str):  # every reader looks it up among the samplers
        return f"'config.sampler' is {shown(sampler)}, not text"
    for key, least in (("cases", 0), ("batch_size", 1)):  # arrays sized, cases split by them
        value = config.get(key, least)
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            return f"'config.{key}' is {value!r}, not a whole number >= {least}"
    if not isinstance(record.get("versions", {}), dict):  # the report lists them
        return f"'versions' is {shown(record['versions'])}, not an object"
    models = record.get("models", [])
    if "models" in record and not models:
        return "'models' is empty"
    for i, m in enumerate(models):
        if not isinstance(m, dict) or not isinstance(m.get("id"), str):
            return f"models[{i}] is not an object with an 'id'"
        if "source" in m and not isinstance(m["source"], str):
            return f"models[{i}].source is {shown(m['source'])}, not text"
        if not isinstance(m.get("sha256"), str):  # every reader checks the counter by it
            return f"models[{i}].sha256 is {shown(m.get('sha256'))}, not text"
    if not isinstance(record.get("identity", {}), dict):
        return f"'identity' is {shown(record['identity'])}, not an object"
    return ""


def _misplaced(entry: Mapping[str, Any], size: int, cases: int) -> str | None:
    """What is wrong with an entry whose cases or files are not its batch's (a line of
    another batch with its number changed would put that batch's rows in its place)."""
    batch, start, count = entry["batch"], entry["start"], entry["count"]
    if start != batch * size or count != min(size, cases - start) or start >= cases:
        return (
            f"lists batch {batch} as cases {start:,} to {start + count - 1:,}, but batch "
            f"{batch} holds cases {batch * size:,} to {min(cases, (batch + 1) * size) - 1:,}"
        )
    part = f"part-{batch:06d}."
    for f in entry["files"]:
        path = f if isinstance(f, str) else f["path"]
        if part not in path.rsplit("/", 1)[-1]:
            return f"lists batch {batch} with the file {path!r}, which is not batch {batch}'s"
    return None


def _file_record(f: Any) -> bool:
    if isinstance(f, str):  # version 1 listed paths only
        return bool(f)
    return (
        isinstance(f, dict)
        and isinstance(f.get("path"), str)
        and bool(f["path"])
        and _count(f.get("bytes", 0))
        and isinstance(f.get("sha256", ""), str)
    )


def _count(n: Any) -> bool:
    return isinstance(n, int) and not isinstance(n, bool) and n >= 0


def _json_type(value: Any) -> str:
    names = {list: "list", str: "string", bool: "boolean", int: "number", float: "number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _write_error(path: Path, exc: OSError, *, resumable: bool = True) -> RunDirError:
    """A failed write as one line: the file, the reason and what to do (``resumable``:
    whether the run directory keeps what was done, for ``--resume`` to complete)."""
    then = "complete the run with --resume" if resumable else "run it again"
    hint = {
        errno.ENOSPC: f"free some space, then {then}",
        errno.EDQUOT: f"free some space, then {then}",
        errno.EROFS: "the file system is read-only: choose another --out",
        errno.EACCES: "no permission to write there: choose another --out",
        errno.EPERM: "no permission to write there: choose another --out",
    }.get(exc.errno or 0, f"{then} once it is fixed")
    return RunDirError(f"cannot write {os.fspath(path)}: {exc.strerror or exc}; {hint}")


def _scan_unique(data: ds.Dataset, path: Path) -> bool:
    """Read every (model, case_id) row of ``data``: :class:`RunDirError` if one is
    repeated (see :meth:`RunDir._require_unique`); True otherwise."""
    rows = data.to_table(columns=["model", "case_id"]).to_pandas()
    again = rows.duplicated(["model", "case_id"])
    if again.any():
        model, case = rows.loc[again.idxmax(), ["model", "case_id"]]
        times = int(((rows["model"] == model) & (rows["case_id"] == case)).sum())
        repeated = int((again & (rows["model"] == model)).sum())
        raise RunDirError(
            f"run directory {os.fspath(path)!r} holds case {case} of model "
            f"{str(model)!r} {times} times ({repeated:,} rows of model {str(model)!r} "
            "repeated) in result files no manifest lists; remove the files that repeat them"
        )
    return True
