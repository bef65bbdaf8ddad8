"""Reading result rows for counting: which columns, in which batches, from which run.

Results stream through in record batches (only the needed columns are read), so memory
stays bounded whatever the number of rows.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TypeAlias

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds

from highfive.generators import ConfigError, ParameterSpace, RunDirError, show
from highfive.harness import RunDir

from ._bins import Binning
from ._fingerprint import differing_dimensions, fingerprint, labels_within, space_fingerprint

__all__ = ["DEFAULT_BATCH", "batches", "binning_for", "count_columns", "run_results"]

DEFAULT_BATCH = 1 << 17
Results: TypeAlias = ds.Dataset | pa.Table | pd.DataFrame


def count_columns(
    results: Results, binning: Binning, model: str | None, source: str | None
) -> tuple[list[str], bool]:
    """The columns counting reads, and whether case ids are tracked (for ``source``)."""
    schema = results.schema if not isinstance(results, pd.DataFrame) else None
    names = list(results.columns) if schema is None else schema.names
    cols = [*binning.names, "verdict"]
    if "model" in names:
        cols.append("model")
    elif model is None:
        raise RunDirError("results: no 'model' column; pass model='<id>' for one model")
    track = source is not None and "case_id" in names
    if track:
        cols.append("case_id")
    missing = [c for c in cols if c not in names]
    if missing:
        raise RunDirError(f"results: no column {missing[0]!r}; columns present: {', '.join(names)}")
    return cols, track


def run_results(
    path: str | os.PathLike[str],
) -> tuple[ds.Dataset, dict[str, str], str | None, list[tuple[str, str]]]:
    """A run's results dataset, its models' SHA-256, the key of its case sequence and,
    for a run of recordings, (file, SHA-256) of case ``i`` at ``i`` (else empty)."""
    run = RunDir(path)
    record = run.read_campaign()
    sha = {m["id"]: m["sha256"] for m in record.get("models", [])}
    dataset = run.results_dataset()
    identity = record.get("identity", {})
    space = ParameterSpace.from_arrow_schema(dataset.schema)
    # Case i depends only on (seed, sampler, space, i): that is the case sequence.
    seq = [identity.get(k) for k in ("seed", "sampler", "space")]
    recorded = [(str(r["file"]), str(r["sha256"])) for r in identity.get("recording_files") or []]
    if recorded:  # recorded cases: case i is the i-th recording
        seq.append([list(r) for r in recorded])
    key = fingerprint([*seq, space_fingerprint(space)]) if seq[0] is not None else None
    return dataset, sha, key, recorded


def binning_for(schema: pa.Schema | None, binning: Binning | None) -> Binning:
    """The binning to use, checked against the space the results carry."""
    has_space = schema is not None and any(
        b"highfive.dimension" in (f.metadata or {}) for f in schema
    )
    if not has_space:
        if binning is None:
            raise ConfigError(
                "binning: the results carry no parameter-space metadata; pass "
                "binning=Binning.from_space(space)"
            )
        return binning
    assert schema is not None
    space = ParameterSpace.from_arrow_schema(schema)
    if binning is None:
        return Binning.from_space(space)
    if space_fingerprint(space) != binning.space_fingerprint and not labels_within(
        space, binning.space
    ):  # merged runs of recordings are binned by every label value of them all
        diff = [n for n in differing_dimensions(space, binning.space) if n in space]
        raise RunDirError(
            f"results were made in another parameter space than the binning's (differs in "
            f"{', '.join(diff) or 'dimension order'}); bin them with their own space"
        )
    return binning


def batches(results: Results, cols: list[str], batch_size: int) -> Iterator[pa.RecordBatch]:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(f"batch_size: {show(batch_size)} must be a positive whole number")
    if isinstance(results, pd.DataFrame):
        for start in range(0, len(results), batch_size):
            chunk = results.iloc[start : start + batch_size][cols]
            yield from pa.Table.from_pandas(chunk, preserve_index=False).to_batches()
    elif isinstance(results, pa.Table):
        yield from results.select(cols).to_batches(max_chunksize=batch_size)
    elif isinstance(results, ds.Dataset):
        # Small read-ahead: memory stays bounded however many files the run holds.
        yield from results.to_batches(
            columns=cols, batch_size=batch_size, batch_readahead=2, fragment_readahead=1
        )
    else:
        raise ConfigError(
            f"results: {type(results).__name__} is not a pyarrow dataset, table or DataFrame"
        )
