"""The run directory: campaign.json, manifest.jsonl, results/ and failures/.

::

    runs/<name>/campaign.json          config as run, versions, model hashes, times, status
    runs/<name>/manifest.jsonl         one line per finished batch, after its files exist
    runs/<name>/results/model=<id>/part-<batch>.parquet
    runs/<name>/failures/part-<batch>.parquet

Every file is written to a temporary name and renamed into place; a batch counts as
done only once its manifest line is on disk, so a crash at any point leaves a state
that ``--resume`` completes without duplicates or gaps. A torn last manifest line
(a kill during the write) is ignored and cut off on resume.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from highfive.generators import RunDirError

from ._io import atomic_path, atomic_write_text
from .counters import DEFAULT_TIMEOUT_S, CounterOptions, CounterPlugin, load_recorded

__all__ = ["READABLE", "SCHEMA_VERSION", "RunDir"]

SCHEMA_VERSION = 2
"""Version 2: counters are plug-ins (kind and identity per counter), result rows have
``message`` and ``latency_s``, the failure corpus has ``messages``."""
READABLE = (1, 2)
"""Versions this highfive reads (version 1: ONNX models only, no message or latency)."""


class RunDir:
    """Paths and atomic I/O of one run directory."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

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

    # -- campaign.json ----------------------------------------------------------------
    def read_campaign(self) -> dict[str, Any]:
        """The campaign record; :class:`RunDirError` if missing, torn or too new."""
        if not self.campaign_json.is_file():
            raise RunDirError(
                f"run directory {os.fspath(self.path)!r} has no campaign.json; "
                "is it a run directory? (made by 'highfive run')"
            )
        try:
            record: dict[str, Any] = json.loads(self.campaign_json.read_text())
        except json.JSONDecodeError as exc:
            raise RunDirError(f"{self.campaign_json}: not valid JSON ({exc})") from None
        version = record.get("schema_version")
        if version not in READABLE:
            raise RunDirError(
                f"{self.campaign_json}: schema_version {version!r}, this highfive reads "
                f"{' and '.join(map(str, READABLE))}; re-run the campaign with this version"
            )
        return record

    def require_complete(self, what: str, *, otherwise: str = "") -> dict[str, Any]:
        """The campaign record of a complete run; :class:`RunDirError` saying why not.

        ``what`` names the command that needs it ("a gate", "diff"); ``otherwise``
        offers the user another way ("pass --partial to analyse what is there").
        """
        record = self.read_campaign()
        if record.get("status") != "complete":
            done = len(self.done_batches())
            alt = f", or {otherwise}" if otherwise else ""
            raise RunDirError(
                f"run directory {os.fspath(self.path)!r} is incomplete (status "
                f"{record.get('status')!r}) with {done} batches done; {what} needs a "
                f"complete run: finish it with 'highfive run CONFIG --resume'{alt}"
            )
        return record

    def counters(self, options: CounterOptions | None = None) -> dict[str, CounterPlugin]:
        """The run's counters by id, loaded again; refused if one's identity changed."""
        record = self.read_campaign()
        if options is None:
            cfg = record.get("config", {})
            options = CounterOptions(
                timeout_s=float(cfg.get("counter_timeout_s", DEFAULT_TIMEOUT_S))
            )
        return {str(e["id"]): load_recorded(e, options) for e in record.get("models", [])}

    def write_campaign(self, record: Mapping[str, Any]) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.campaign_json, json.dumps(record, indent=2, default=str) + "\n")

    # -- manifest ---------------------------------------------------------------------
    def done_batches(self, *, repair: bool = False) -> dict[int, dict[str, Any]]:
        """Manifest entries by batch. With ``repair``, cut a torn last line off."""
        if not self.manifest.exists():
            return {}
        raw = self.manifest.read_bytes()
        done: dict[int, dict[str, Any]] = {}
        good = 0
        for line in raw.splitlines(keepends=True):
            if not line.endswith(b"\n"):
                break
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                break
            done[int(entry["batch"])] = entry
            good += len(line)
        if repair and good < len(raw):
            with open(self.manifest, "r+b") as fh:
                fh.truncate(good)
        return done

    def append_manifest(self, entry: Mapping[str, Any]) -> None:
        line = json.dumps(entry, separators=(",", ":")) + "\n"
        with open(self.manifest, "a", encoding="utf-8") as fh:
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())

    # -- parquet ----------------------------------------------------------------------
    def result_file(self, model_id: str, batch: int) -> Path:
        return self.results_dir / f"model={model_id}" / f"part-{batch:06d}.parquet"

    def failure_file(self, batch: int) -> Path:
        return self.failures_dir / f"part-{batch:06d}.parquet"

    def write_batch(
        self, batch: int, results: Mapping[str, pa.Table], failures: pa.Table | None
    ) -> list[str]:
        """Write one batch's files atomically; return their paths relative to the run."""
        written = []
        for model_id, table in results.items():
            written.append(self._write(self.result_file(model_id, batch), table))
        if failures is not None and failures.num_rows:
            written.append(self._write(self.failure_file(batch), failures))
        return written

    def _write(self, dest: Path, table: pa.Table) -> str:
        with atomic_path(dest) as tmp:
            pq.write_table(table, tmp)
        return os.fspath(dest.relative_to(self.path))

    def results_dataset(self) -> ds.Dataset:
        """All result rows as a pyarrow dataset (``model`` from the hive path)."""
        if not self.results_dir.is_dir():
            raise RunDirError(f"run directory {os.fspath(self.path)!r} has no results yet")
        return ds.dataset(self.results_dir, format="parquet", partitioning="hive")

    def results(self, columns: list[str] | None = None) -> pd.DataFrame:
        """All result rows as a DataFrame, one row per case and model."""
        return self.results_dataset().to_table(columns=columns).to_pandas()

    def failures(self) -> pd.DataFrame:
        """The failure corpus (raw samples, truth, detections) as a DataFrame."""
        if not self.failures_dir.is_dir():
            return pd.DataFrame()
        return ds.dataset(self.failures_dir, format="parquet").to_table().to_pandas()
