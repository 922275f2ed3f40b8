"""Import jobs: created by a lead (browser or CLI), run by a worker, watched with progress."""

import logging
import os
import re
import shutil
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, BinaryIO

import orjson
import psycopg
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from app import repositories
from app.db import is_postgres
from app.errors import NotFound
from app.models import Dataset, ImportJob, JobStatus, User
from app.models.types import utcnow
from app.repositories import ingest as ingest_repo
from app.services.audit import record_audit
from app.services.imports import ImportFailed, ImportOptions, ImportStopped, import_file
from app.services.ingest import COUNTS, IngestReport, Limits, Problem

log = logging.getLogger(__name__)

# Imports that store at least this many examples refresh the table's planner statistics
# (and on Postgres vacuum it: see repositories.refresh_statistics).
ANALYZE_AFTER = 10_000
# A running job whose heartbeat is older than this was cut off (its process died).
STALE_AFTER = timedelta(seconds=60)


def _what_was_kept(report: IngestReport, atomic: bool) -> str:
    """What a run that stopped part-way left stored, in words."""
    stored = report.created + report.updated
    if atomic or not stored:
        return "nothing was stored"
    return f"the {stored:,} example{'' if stored == 1 else 's'} stored before that are kept"


_AGAIN = "importing the file again stores nothing twice"


def create_job(
    session: Session,
    actor: User | None,
    dataset: Dataset,
    filename: str,
    path: Path,
    options: ImportOptions,
    origin: str = "web",
) -> ImportJob:
    """Stage a queued import job for a file already saved at `path`. A job of `sift import`
    (origin "cli") belongs to that process: it is not resumed by a worker (see
    jobs_to_resume)."""
    job = ImportJob(
        dataset_id=dataset.id,
        created_by_id=actor.id if actor else None,
        filename=filename[:300],
        path=str(path),
        size_bytes=path.stat().st_size,
        format=options.fmt,
        container=options.container,
        options={
            "columns": options.columns,
            "atomic": options.atomic,
            "batch_size": options.batch_size,
            "workers": options.workers,
            "origin": origin,
            # Where a `sift import` runs: while that process lives, its job is not cut off,
            # heartbeat or not (an all-or-nothing import on SQLite writes none till its end).
            **({"host": socket.gethostname(), "pid": os.getpid()} if origin == "cli" else {}),
        },
        status=JobStatus.queued.value,
        report={},
    )
    return ingest_repo.add_job(session, job)


def dataset_jobs(session: Session, dataset: Dataset) -> list[ImportJob]:
    """The dataset's latest import jobs, newest first."""
    return ingest_repo.list_jobs(session, dataset.id)


def dataset_job_counts(
    session: Session, dataset: Dataset
) -> list[tuple[ImportJob, dict[str, int]]]:
    """The dataset's latest import jobs, newest first, each with its report's counts alone."""
    return ingest_repo.list_jobs_with_counts(session, dataset.id, COUNTS)


def dataset_job(session: Session, dataset: Dataset, job_id: int) -> ImportJob:
    """One import job of the dataset, or NotFound (a job of another dataset is not found)."""
    job = ingest_repo.get_job(session, job_id)
    if job is None or job.dataset_id != dataset.id:
        raise NotFound(f"no import {job_id} in dataset {dataset.slug!r}")
    return job


def save_upload(source: BinaryIO, filename: str, uploads: Path) -> Path:
    """Copy an uploaded file (streamed, any size) to the uploads folder under a unique name."""
    uploads.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(filename).name)[-100:] or "upload"
    path = uploads / f"{uuid.uuid4().hex}-{safe}"
    with path.open("wb") as out:
        shutil.copyfileobj(source, out, 1 << 20)
    return path


def job_progress(job: ImportJob) -> float:
    """How far the job has read its file, from 0 to 1."""
    if job.status == JobStatus.succeeded.value:
        return 1.0
    return min(1.0, job.bytes_done / job.size_bytes) if job.size_bytes else 0.0


# A pace is given once the current run has read for this long (the first batches are slower:
# worker start-up, format detection).
PACE_AFTER = timedelta(seconds=3)


@dataclass(frozen=True)
class Pace:
    """How fast a job's current run reads its file, and what that leaves.

    Measured from the run's start to its last heartbeat, which the worker writes with the
    bytes read, on its own clock: the figures hold still between batches. A resumed run
    counts only what it read itself; its first moments, skipping the records stored before,
    make it look a little slower at first."""

    bytes_per_second: float
    seconds_left: float | None  # None once the whole file is read (the last batches store)
    records_per_second: float | None  # so far; None for a run that resumed an earlier one


def job_pace(job: ImportJob, received: int) -> Pace | None:
    """The pace of a job's current (or, finished, its last) run, given the records its report
    counts, or None where there is none to tell: waiting, just started, no bytes read in this
    run, or running with a worker that stopped answering."""
    if job.started_at is None or job.status == JobStatus.queued.value:
        return None
    end = job.finished_at
    if end is None:
        if is_stale(job):
            return None
        end = job.heartbeat_at
    if end is None:
        return None
    elapsed = (end - job.started_at).total_seconds()
    read = job.bytes_done - job.start_bytes
    if job.finished_at is None and elapsed < PACE_AFTER.total_seconds():
        return None
    if read <= 0 or elapsed <= 0:
        return None
    rate = read / elapsed
    left = job.size_bytes - job.bytes_done
    seconds_left = left / rate if job.finished_at is None and left > 0 else None
    records = received / elapsed if job.start_bytes == 0 and received else None
    return Pace(rate, seconds_left, records)


def _options(job: ImportJob) -> ImportOptions:
    return ImportOptions(
        fmt=job.format,
        container=job.container,
        columns=dict(job.options.get("columns") or {}),
        atomic=bool(job.options.get("atomic")),
        # Jobs queued before these were kept run with the defaults.
        batch_size=int(job.options.get("batch_size") or ImportOptions.batch_size),
        workers=job.options.get("workers"),
    )


def job_file(job: ImportJob, uploads: Path | None) -> Path | None:
    """The file a job imports, or None where this machine cannot see it. An upload is looked
    for by its name in this machine's upload folder (`uploads`): the server that took it in
    saved it in its own, and a worker on another machine sees the same shared folder,
    perhaps mounted elsewhere."""
    saved = Path(job.path)
    if job.options.get("origin") == "cli" or uploads is None:
        return saved  # a `sift import`'s own file (or no upload folder to look in)
    # Where it was saved: a worker whose own SIFT_UPLOAD_DIR is wrong may still reach it.
    for path in (uploads / saved.name, saved):
        if path.is_file():
            return path
    return None


_UPLOAD_NAME = re.compile(r"[0-9a-f]{32}-.+")  # as save_upload names them


def _an_upload(origin: Any, path: Path) -> bool:
    """Whether a job's file is surely an upload: a web or API job's, named as save_upload
    names them (a job queued by an older `sift import`, which said no origin, holds the
    user's own file)."""
    return origin == "web" and _UPLOAD_NAME.fullmatch(path.name) is not None


def _remove_upload(job_id: int, origin: Any, path: Path | None) -> None:
    """Remove an uploaded file once its job has ended (a new upload is a new job)."""
    if path is None or not _an_upload(origin, path):
        return
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:  # a read-only share, say: the job has ended all the same
        log.warning("import job %s: its upload %s was left in place: %s", job_id, path, exc)


def _rejects_folder(origin: Any, path: Path, uploads: Path) -> Path:
    """Where a job lists its rejected records: beside an uploaded file, in the folder every
    server shares (found there even by a worker whose own SIFT_UPLOAD_DIR is wrong, when
    the upload's path reaches it); a `sift import` keeps them in its own upload folder, as
    does any job whose file is not surely an upload (see _an_upload)."""
    return path.parent if _an_upload(origin, path) else uploads


def _not_here(filename: str, uploads: Path | None) -> str:
    return (
        f"the uploaded file {filename!r} is not in this machine's upload folder ({uploads}):"
        " every app server and `sift worker` must share one upload folder (SIFT_UPLOAD_DIR);"
        " once they do, upload the file again"
    )


def is_stale(job: ImportJob) -> bool:
    """A job to (re)start: queued, or running with no heartbeat for a while."""
    if job.status == JobStatus.queued.value:
        return True
    beat = job.heartbeat_at or job.started_at
    return job.status == JobStatus.running.value and (beat is None or utcnow() - beat > STALE_AFTER)


CUT_OFF_CLI = (
    "the sift import that ran it stopped (killed, or its machine went down); {kept}, and " + _AGAIN
)


def jobs_to_resume(session: Session) -> list[int]:
    """Queued jobs and running ones whose worker stopped answering. A `sift import` whose
    process is gone is not one: its user may have stopped it on purpose, and would not want
    a server to finish it behind their back; it is marked failed here (commit the session)."""
    found = []
    for job_id in ingest_repo.unfinished_job_ids(session):
        job = ingest_repo.get_job(session, job_id)
        if job is None or not is_stale(job):
            continue
        if job.options.get("origin") != "cli":
            found.append(job_id)
        elif _process_alive(job.options):
            continue
        elif job.status == JobStatus.running.value or utcnow() - job.created_at > STALE_AFTER:
            kept = _what_was_kept(IngestReport.from_dict(job.report or {}), _options(job).atomic)
            stop_job(job, JobStatus.failed, CUT_OFF_CLI.format(kept=kept))
    return found


class RunSuperseded(Exception):
    """Another worker took this run's job for cut off and runs it now."""


REJECTS_BYTES = "rejects_bytes"  # in a job's report: the size of its rejects file


def has_rejects(job: ImportJob) -> bool:
    """Whether a job is finished and wrote its rejected records to a file (one still running
    is not offered: its file grows, and its last batch may not commit)."""
    finished = job.status in (JobStatus.succeeded.value, JobStatus.failed.value)
    return finished and bool((job.report or {}).get(REJECTS_BYTES))


@dataclass(frozen=True)
class RejectsList:
    """Where a finished job's list of every rejected record is, seen from a server: `here`
    in its upload folder, to be served; else written by a `sift import` on the machine
    `host`; else (neither) by a worker in an upload folder that this server does not share."""

    here: Path | None = None
    host: str | None = None


def rejects_list(directory: Path, job: ImportJob) -> RejectsList | None:
    """Where a job's rejects file is, from the server whose upload folder is `directory`;
    None when it has none to offer (see has_rejects)."""
    if not has_rejects(job):
        return None
    path = rejects_path(directory, job.id)
    if path.is_file():
        return RejectsList(here=path)
    if job.options.get("origin") == "cli":
        host = job.options.get("host")
        return RejectsList(host=host if isinstance(host, str) and host else "another machine")
    return RejectsList()


def rejects_file(directory: Path, job: ImportJob) -> Path:
    """A finished job's rejects file, or NotFound saying where it is (see rejects_list)."""
    found = rejects_list(directory, job)
    if found is None:
        raise NotFound(f"import {job.id} has no file of rejected records (yet)")
    if found.here is not None:
        return found.here
    if found.host is not None:
        raise NotFound(
            f"import {job.id}'s rejected records were listed by `sift import` on {found.host},"
            " in its output and its own upload folder"
        )
    raise NotFound(
        f"import {job.id}'s rejected records are not in this server's upload folder"
        f" ({directory}): every app server and `sift worker` must share one (SIFT_UPLOAD_DIR)"
    )


def rejects_path(directory: Path, job_id: int) -> Path:
    """Where a job lists every record it rejected, one JSON object a line: {number, error}."""
    return directory / f"import-{job_id}-rejected.jsonl"


class _RejectsFile:
    """A job's rejects file, appended to batch by batch, cut back to `keep` bytes first."""

    def __init__(self, path: Path, keep: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.out = path.open("a+b")
        self.out.truncate(min(keep, self.out.seek(0, os.SEEK_END)))
        self.out.seek(0, os.SEEK_END)

    def write(self, problems: list[Problem]) -> None:
        self.out.write(
            b"".join(
                orjson.dumps({"number": p.number, "error": p.reason}) + b"\n" for p in problems
            )
        )
        self.out.flush()

    def size(self) -> int:
        return self.out.tell()

    def close(self, keep: int | None = None) -> int:
        """Close the file, cut back to `keep` bytes if given; its size. A run that no longer
        owns its job only closes it: the run that took the job over writes it now."""
        if self.out.closed:
            return 0
        if keep is not None and keep < self.out.tell():
            self.out.truncate(keep)
            self.out.seek(keep)
        end = self.out.tell()
        self.out.close()
        return end


def _process_alive(options: dict[str, Any]) -> bool:
    """Whether the `sift import` process that started a job still runs (on this machine;
    one elsewhere cannot be asked, and its heartbeat tells)."""
    pid = options.get("pid")
    if options.get("host") != socket.gethostname() or not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process with that number
        return True
    return True


def stop_job(job: ImportJob, status: JobStatus, error: str | None) -> None:
    """Leave a job that did not run to its end: failed with `error`, or queued again to be
    resumed from its last batch. Its report is what its committed batches saved."""
    job.status, job.error = status.value, error
    if status == JobStatus.failed:
        job.finished_at = job.heartbeat_at = utcnow()
        if job.options.get("atomic"):
            job.report = {**(job.report or {}), "stored": False}
    else:  # queued: taken again at once by the next worker (the heartbeat is not waited out)
        job.heartbeat_at = None


def mark_interrupted(session: Session, job_id: int, why: str) -> ImportJob:
    """Stage a job whose process was told to stop (Ctrl-C) as failed, saying what it kept
    (the caller commits)."""
    job = session.get_one(ImportJob, job_id)
    if job.status in (JobStatus.queued.value, JobStatus.running.value):
        kept = _what_was_kept(IngestReport.from_dict(job.report or {}), _options(job).atomic)
        stop_job(job, JobStatus.failed, f"{why}; {kept}, and {_AGAIN}")
    return job


def run_job(
    make_session: sessionmaker[Session],
    job_id: int,
    limits: Limits,
    progress: Callable[[int, IngestReport], None] | None = None,
    stop: threading.Event | None = None,
    uploads: Path | None = None,
) -> ImportJob:
    """Run (or resume) an import job to the end; progress is saved with every batch. When
    `stop` is set (the server is shutting down), the job stops after the batch it is on and
    is queued again, for the next worker to resume at once. `uploads` is this machine's
    upload folder: an uploaded file is found there (see job_file), every rejected record is
    written to the job's rejects file beside it (a `sift import`'s in `uploads`; see
    rejects_path), and the upload is removed when the job ends. The report itself lists
    the first 1,000."""
    with make_session() as session:
        job = ingest_repo.get_job(session, job_id)
        if job is None:
            raise NotFound(f"no import job {job_id}")
        claimed = ingest_repo.claim_job(session, job) if is_stale(job) else None
        if claimed is None:
            return job  # finished, or another worker has it
        session.commit()
        resume_after, earlier = job.resume_after, IngestReport.from_dict(job.report or {})
        options, path, dataset_id = _options(job), job_file(job, uploads), job.dataset_id
        filename, origin = job.filename, job.options.get("origin")
        # An atomic import commits only at the end, so its liveness is written from another
        # connection. Postgres only: SQLite's one writer is the import itself, and its jobs
        # all run in this one process, which never takes its own job for a dead one.
        beat_apart = options.atomic and is_postgres(session)
        # What the rejects file held at the last committed batch: a batch's rejects are
        # written before it commits, so a run cut off in between left some that a resumed
        # run writes again. Cut back to that size, each bad record is listed once.
        kept_rejects = int((job.report or {}).get(REJECTS_BYTES, 0)) if resume_after else 0
    rejects: _RejectsFile | None = None
    pending: list[Problem] = []  # the rejects of the batch under way

    def take_rejects(problems: list[Problem]) -> None:
        # An all-or-nothing import saves no progress till its end: its rejects are written
        # as they come (its file is cut back to nothing if it stops part-way).
        if rejects is None:
            return
        if options.atomic:
            rejects.write(problems)
        else:
            pending.extend(problems)

    def save_progress(session: Session, report: IngestReport, last: int, done: int) -> None:
        # The job's row locked till the batch commits: no other worker takes the job over
        # between this check and the commit, so only the run that owns it writes its files.
        current = ingest_repo.own_job(session, job_id, claimed)
        if current is None:
            # A batch that waited past STALE_AFTER (on a lock, say) let another worker take
            # the job for cut off and run it: this run stops, its batch rolled back.
            pending.clear()
            raise RunSuperseded
        if rejects is not None and pending:
            rejects.write(pending)
        pending.clear()
        current.report = {
            **IngestReport.combined(earlier, report).as_dict(),
            REJECTS_BYTES: rejects.size() if rejects else 0,
        }
        current.resume_after = max(current.resume_after, last)
        current.bytes_done = done
        current.heartbeat_at = utcnow()

    def beat(done: int, report: IngestReport) -> None:
        if beat_apart:
            with make_session() as other:
                ingest_repo.touch_job(other, job_id, done)
                other.commit()
        if progress is not None:
            progress(done, report)

    status, error = JobStatus.succeeded.value, None
    file_at_fault = True  # a failure the file caused, mended by mending the file
    report = IngestReport()
    fmt = options.fmt
    try:
        if path is None:
            file_at_fault = False  # the set-up's: mending the file would not help
            raise ImportFailed(_not_here(filename, uploads), options.fmt)
        if uploads is not None:  # an unwritable directory fails the job, saying so
            folder = _rejects_folder(origin, path, uploads)
            rejects = _RejectsFile(rejects_path(folder, job_id), kept_rejects)
        report, fmt = import_file(
            make_session,
            dataset_id,
            path,
            options,
            limits,
            resume_after=resume_after,
            on_batch=save_progress,
            progress=beat,
            should_stop=stop.is_set if stop is not None else None,
            on_rejected=take_rejects,
        )
    except RunSuperseded:
        log.warning("import job %s was taken over by another run; this one stops", job_id)
        if rejects is not None:
            rejects.close()
        with make_session() as session:
            return session.get_one(ImportJob, job_id)
    except ImportStopped:
        if rejects is not None:
            rejects.close()  # its size at the last batch is in the report, for the next run
        with make_session() as session:
            owned = ingest_repo.own_job(session, job_id, claimed)
            if owned is None:  # taken over meanwhile: the other run has it, queued or not
                return session.get_one(ImportJob, job_id)
            stop_job(owned, JobStatus.queued, None)
            session.commit()
            return owned
    except (ImportFailed, OSError) as exc:
        status, error = JobStatus.failed.value, str(exc)
        fmt = exc.fmt if isinstance(exc, ImportFailed) else fmt
    except (OperationalError, InterfaceError, psycopg.OperationalError, psycopg.InterfaceError):
        # The database went away (a restart, a failover, a lock held too long): the job stays
        # running and is run again from its last batch once its heartbeat is old.
        if rejects is not None:
            rejects.close()
        raise
    except Exception as exc:
        # Not the file's fault: a bug, say. Left running, the job would be taken for cut off
        # and run again, failing the same way every time; so it fails, with what happened.
        log.exception("import job %s stopped on an unexpected error", job_id)
        status, file_at_fault = JobStatus.failed.value, False
        kept = "it stored nothing" if options.atomic else "what it stored is kept"
        error = (
            f"the import stopped on an unexpected error ({type(exc).__name__}: {exc}); {kept}, "
            f"and {_AGAIN}"
        )
    stopped = status == JobStatus.failed.value  # part-way: `report` holds nothing of this run
    with make_session() as session:
        owned = ingest_repo.own_job(session, job_id, claimed)
        if owned is None:  # another run has it now (see save_progress)
            if rejects is not None:
                rejects.close()
            return session.get_one(ImportJob, job_id)
        job = owned
        # A run that stopped part-way reports what its committed batches saved with them.
        total = (
            IngestReport.from_dict(job.report or {})
            if stopped
            else IngestReport.combined(earlier, report)
        )
        stored = not (options.atomic and (stopped or total.rejected))
        committed = int((job.report or {}).get(REJECTS_BYTES, 0))
        job.report = {**total.as_dict(), "stored": stored}
        if rejects is not None:
            # A run that stopped part-way lists what its committed batches rejected (an
            # all-or-nothing one committed none): the batch it was on is cut off the file.
            keep = None if not stopped else 0 if options.atomic else committed
            job.report[REJECTS_BYTES] = rejects.close(keep)
            if not job.report[REJECTS_BYTES]:
                rejects.path.unlink(missing_ok=True)
        if options.atomic and total.rejected:
            status = JobStatus.failed.value
            bad = f"{total.rejected:,} bad record{'' if total.rejected == 1 else 's'}"
            error = f"{bad}, and the import was all or nothing: nothing was stored"
        elif stopped and error is not None and file_at_fault:
            kept = _what_was_kept(total, options.atomic)
            error += f"; {kept}; once the file is mended, importing it again stores nothing twice"
        job.status, job.error, job.format = status, error, fmt
        job.finished_at = job.heartbeat_at = utcnow()
        # A run that read to the end did, whatever it stored (an all-or-nothing one that found
        # bad records had shown "0 B read" of a file it read whole).
        job.bytes_done = job.bytes_done if stopped else job.size_bytes
        dataset = session.get_one(Dataset, dataset_id)
        creator = session.get(User, job.created_by_id) if job.created_by_id else None
        record_audit(
            session,
            creator,
            "import",
            f"dataset:{dataset.slug}",
            {"job": job_id, "file": job.filename, "status": status, **total.counts()},
        )
        session.commit()
    _remove_upload(job_id, origin, path)
    if total.created + total.updated >= ANALYZE_AFTER:
        with make_session() as session:
            repositories.refresh_statistics(session)
            session.commit()  # SQLite's ANALYZE runs in the session's transaction
    return job
