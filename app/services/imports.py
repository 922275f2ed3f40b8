"""File imports: stream a file of any size, store it batch by batch, report on every record.

Memory stays flat: records are read, prepared and stored a batch at a time, with at most a
few batches in flight. Preparing (parse, validate, hash, language, search document) is pure
CPU and runs in worker processes when the file is large; the database work stays here.

Each batch commits on its own (with the job's progress, when there is a job), so an import
cut off at any point has only whole batches stored, and running it again stores nothing twice
(examples are deduplicated by content hash). With `atomic`, the whole file is one transaction
and any bad record stores nothing.
"""

import multiprocessing
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import IO

from sqlalchemy.orm import Session, sessionmaker

from app import repositories
from app.db import commit_retrying, is_postgres
from app.errors import InvalidInput
from app.formats import FORMATS, FormatError
from app.formats.containers import (
    CONTAINERS,
    nesting_clash,
    parquet_row_count,
    read_records,
    read_records_or_lines,
)
from app.formats.records import Item
from app.models import Dataset
from app.services.examples import merge_pending_search_entries
from app.services.ingest import (
    IngestReport,
    Limits,
    PreparedBatch,
    Problem,
    batched,
    detect_format,
    prepare_batch,
    store_prepared,
)

PARALLEL_FROM_BYTES = 8 * 1024 * 1024  # smaller files are done in-process (no worker start-up)
# How often a large import merges the search index's pending list: each merge then takes a
# larger run (about 40 MB at 5,000 examples/s), which costs the server less per example.
MERGE_EVERY_SECONDS = 3.0

# Called before each batch commits: (session, report so far, last record number, bytes read).
BatchHook = Callable[[Session, IngestReport, int, int], None]


@dataclass(frozen=True)
class ImportOptions:
    """How to read a file and what to do with bad records."""

    fmt: str | None = None
    container: str | None = None
    columns: dict[str, str] = field(default_factory=dict)
    atomic: bool = False
    batch_size: int = 2000
    workers: int | None = None  # None: one per core but one, when the file is large enough


def parse_import_options(
    fmt: str | None, container: str | None, columns: str, atomic: bool
) -> ImportOptions:
    """Check an import form's fields (API and browser alike); `columns` is lines of SOURCE=FIELD."""
    if fmt and fmt not in FORMATS:
        raise InvalidInput("format", f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")
    if container and container not in CONTAINERS:
        raise InvalidInput("container", f"must be one of {', '.join(CONTAINERS)}")
    mapping: dict[str, str] = {}
    for line in columns.replace(",", "\n").splitlines():
        if not line.strip():
            continue
        if "\x00" in line:
            raise InvalidInput("columns", "contains a NUL byte (\\u0000)")
        source, sep, target = line.partition("=")
        if not sep or not source.strip() or not target.strip():
            raise InvalidInput("columns", f"expected SOURCE=FIELD, got {line.strip()!r}")
        mapping[source.strip()] = target.strip()
    clash = nesting_clash(mapping.values())
    if clash is not None:
        raise InvalidInput("columns", clash)
    return ImportOptions(
        fmt=fmt or None, container=container or None, columns=mapping, atomic=atomic
    )


class ImportStopped(Exception):
    """The import was asked to stop (its server is shutting down) and did, between batches."""


class ImportFailed(Exception):
    """The file could not be read (unknown format, corrupt compression, a JSON array broken
    part-way, ...); `fmt` is the format its records were read in, when that was known."""

    def __init__(self, message: str, fmt: str | None = None) -> None:
        super().__init__(message)
        self.fmt = fmt


def _worker_init() -> None:
    from app.services.language import detect_language

    # Ctrl-C is for the process that runs the import: it stops the import and the pool.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A pool's workers outlived a server that was killed (they wait on their task queue):
    # each exits once the process that started it is gone.
    parent = os.getppid()
    threading.Thread(target=_exit_with, args=(parent,), name="sift-orphan", daemon=True).start()
    detect_language("warm up the language model once per worker")


def _exit_with(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(0)


def _executor(workers: int) -> Executor | None:
    if workers <= 0:
        return None
    context = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(workers, mp_context=context, initializer=_worker_init)


def _worker_count(options: ImportOptions, size: int) -> int:
    if options.workers is not None:
        # A job keeps the count it was queued with (sift import --workers), and a machine
        # with fewer cores may be the one to run it.
        return min(options.workers, os.cpu_count() or 1)
    # This process and the database server keep one core busy; the others prepare batches.
    return max(1, (os.cpu_count() or 1) - 1) if size >= PARALLEL_FROM_BYTES else 0


def _records(
    stream: IO[bytes], options: ImportOptions, resume_after: int, lines: bool, found: set[str]
) -> Iterator[Item]:
    read = read_records_or_lines if lines else read_records
    for record in read(stream, options.container, columns=options.columns, found=found):
        if record.number > resume_after:
            yield record


def unmatched_columns(columns: Mapping[str, str], found: set[str]) -> list[str]:
    """A warning for each mapped JSON key that no record of the file has: mistyped, the
    mapping was ignored without a word, and the field it was meant for went without."""
    return [
        f"columns: no record has the key {source!r} (mapped to {target!r}), so nothing was"
        " mapped from it; is it spelled as in the file?"
        for source, target in columns.items()
        if source not in found
    ]


def _detect_format(first: list[Item], options: ImportOptions) -> str | None:
    if options.fmt is not None:
        return options.fmt
    try:
        return detect_format(first, options.columns)
    except FormatError as exc:
        hint = "name the format (sift import --format, or the upload form's Format)"
        raise ImportFailed(f"{exc}; {hint}, or map the fields to one") from None


def _prepared(
    batches: Iterator[list[Item]],
    fmt_holder: list[str | None],
    options: ImportOptions,
    limits: Limits,
    postgres: bool,
    executor: Executor | None,
) -> Iterator[PreparedBatch]:
    """Prepared batches in file order, with at most a few in flight (memory stays flat)."""
    pending: deque[Future[PreparedBatch]] = deque()
    window = 2 * getattr(executor, "_max_workers", 1) + 1
    for batch in batches:
        if not fmt_holder:
            fmt_holder.append(_detect_format(batch, options))
        fmt = fmt_holder[0]
        if executor is None:
            yield prepare_batch(batch, fmt, limits, postgres, options.columns)
            continue
        pending.append(
            executor.submit(prepare_batch, batch, fmt, limits, postgres, options.columns)
        )
        if len(pending) >= window:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def _store_batch(
    session: Session,
    dataset: Dataset,
    prepared: PreparedBatch,
    so_far: IngestReport,
    on_batch: BatchHook | None,
    bytes_read: int,
) -> IngestReport:
    batch = store_prepared(session, dataset, prepared)
    if on_batch is not None:
        on_batch(session, IngestReport.combined(so_far, batch), prepared.last_number, bytes_read)
    return batch


@contextmanager
def _merging_search_index(
    make_session: sessionmaker[Session], session: Session, in_background: bool
) -> Iterator[None]:
    """Keep the search index's pending list short (Postgres). While a large import runs
    (`in_background`), a second connection merges it every few seconds, on the core the
    import leaves idle when it waits; the import's own inserts then never stop to merge it
    (a merge of 64 MB took a second or two, long enough to drain the pipeline of prepared
    batches). When any import ends, what is left is merged, so searches stop reading it."""
    if not is_postgres(session):
        yield
        return
    stop = threading.Event()
    thread = None
    # A first merge tells whether this database user may merge (it must own the index).
    if in_background and merge_pending_search_entries(make_session) is not None:
        repositories.leave_search_merges_elsewhere(session)
        thread = threading.Thread(
            target=_merge_until, args=(make_session, stop), name="sift-index-merge", daemon=True
        )
        thread.start()
    try:
        yield
    finally:
        if thread is not None:
            stop.set()
            thread.join()
        merge_pending_search_entries(make_session)


def _merge_until(make_session: sessionmaker[Session], stop: threading.Event) -> None:
    # A merge that fails is logged and tried again at the next tick: the import's inserts
    # count on this thread to keep the pending list short.
    while not stop.wait(MERGE_EVERY_SECONDS):
        merge_pending_search_entries(make_session)


def _position(stream: IO[bytes], path: Path, size: int) -> Callable[[int], int]:
    """How far an import is into its file, in bytes, once record `number` is stored: where
    the file has been read to or, for Parquet (whose reader starts at the file's end), the
    share of its rows."""
    rows = parquet_row_count(path)
    if rows:
        return lambda number: min(size, size * number // rows)
    return lambda _number: stream.tell()


def import_file(
    make_session: sessionmaker[Session],
    dataset_id: int,
    path: Path,
    options: ImportOptions,
    limits: Limits,
    *,
    resume_after: int = 0,
    on_batch: BatchHook | None = None,
    progress: Callable[[int, IngestReport], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_rejected: Callable[[list[Problem]], None] | None = None,
) -> tuple[IngestReport, str | None]:
    """Import a file into a dataset; returns the report and the format that was used. When
    `should_stop` says so before a batch, ImportStopped is raised: the batches committed so
    far stay (an all-or-nothing import keeps none)."""
    report = IngestReport()
    fmt_holder: list[str | None] = []
    found: set[str] = set()  # the mapped keys (or columns) that the file has
    size = path.stat().st_size
    workers = _worker_count(options, size)
    with (
        make_session() as session,
        path.open("rb") as stream,
        _merging_search_index(make_session, session, in_background=workers > 0),
    ):
        dataset = session.get_one(Dataset, dataset_id)
        postgres = is_postgres(session)
        executor = _executor(workers)
        position = _position(stream, path, size)
        try:
            # Worker processes parse JSONL lines themselves (see formats.records.Line).
            records = _records(stream, options, resume_after, executor is not None, found)
            batches = batched(records, options.batch_size)
            for prepared in _prepared(batches, fmt_holder, options, limits, postgres, executor):
                # Asked to stop: before the next batch, so a stop during the last one lets
                # the import end (it had failed, everything stored).
                if should_stop is not None and should_stop():
                    session.rollback()  # an all-or-nothing import's batches so far
                    raise ImportStopped
                done = position(prepared.last_number)
                found |= prepared.found
                if on_rejected is not None and prepared.rejected:
                    on_rejected(prepared.rejected)  # before the batch commits: see run_job
                if options.atomic:
                    report.merge(store_prepared(session, dataset, prepared))
                    session.flush()
                else:
                    store = partial(
                        _store_batch, session, dataset, prepared, report, on_batch, done
                    )
                    report.merge(commit_retrying(session, store))
                if progress is not None:
                    progress(done, report)
        except FormatError as exc:
            if options.atomic:
                session.rollback()
            raise ImportFailed(str(exc), fmt_holder[0] if fmt_holder else options.fmt) from None
        finally:
            if executor is not None:
                executor.shutdown(cancel_futures=True)
        if not resume_after:  # a resumed run has not seen the records before it
            report.warnings += unmatched_columns(options.columns, found)
        if options.atomic:
            if report.rejected:
                session.rollback()
                report.created = report.updated = 0
            else:
                if on_batch is not None:
                    on_batch(session, report, 0, size)
                session.commit()
    return report, (fmt_holder[0] if fmt_holder else options.fmt)
