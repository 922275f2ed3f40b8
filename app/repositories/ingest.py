"""SQL for import jobs and idempotency keys."""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session, defer

from app.models import IdempotencyKey, ImportJob
from app.models.types import utcnow


def get_idempotency_key(session: Session, user_id: int, key: str) -> IdempotencyKey | None:
    """The stored response for this user's key, if any."""
    return session.scalars(
        select(IdempotencyKey).where(IdempotencyKey.user_id == user_id, IdempotencyKey.key == key)
    ).one_or_none()


def add_idempotency_key(session: Session, record: IdempotencyKey) -> None:
    """Stage a key with its response; flushed so a concurrent twin fails here, not later."""
    session.add(record)
    session.flush()


def add_job(session: Session, job: ImportJob) -> ImportJob:
    """Stage a new import job and flush so its id is known."""
    session.add(job)
    session.flush()
    return job


def get_job(session: Session, job_id: int) -> ImportJob | None:
    """The import job with this id."""
    return session.get(ImportJob, job_id)


def list_jobs(session: Session, dataset_id: int, limit: int = 20) -> list[ImportJob]:
    """A dataset's latest import jobs, newest first."""
    return list(
        session.scalars(
            select(ImportJob)
            .where(ImportJob.dataset_id == dataset_id)
            .order_by(ImportJob.id.desc())
            .limit(limit)
        )
    )


def list_jobs_with_counts(
    session: Session, dataset_id: int, names: Sequence[str], limit: int = 20
) -> list[tuple[ImportJob, dict[str, int]]]:
    """A dataset's latest import jobs, newest first, each with the named counts of its report
    read by the query; the report itself, with its listed problems, is not loaded (the list
    of imports is polled every few seconds while one runs)."""
    counts = [func.coalesce(ImportJob.report[name].as_integer(), 0) for name in names]
    rows = session.execute(
        select(ImportJob, *counts)
        .options(defer(ImportJob.report))
        .where(ImportJob.dataset_id == dataset_id)
        .order_by(ImportJob.id.desc())
        .limit(limit)
    )
    return [(job, dict(zip(names, values, strict=True))) for job, *values in rows]


def unfinished_job_ids(session: Session) -> list[int]:
    """Jobs queued or cut off while running, oldest first."""
    return list(
        session.scalars(
            select(ImportJob.id)
            .where(ImportJob.status.in_(("queued", "running")))
            .order_by(ImportJob.id)
        )
    )


def claim_job(session: Session, job: ImportJob) -> datetime | None:
    """Mark the job running if nobody changed it since it was read (compare and set), so
    two workers that both find it waiting never both run it. Returns the run's start time,
    which names the run (see run_job), or None when another worker has it."""
    now = utcnow()
    fresh_start = case((ImportJob.resume_after == 0, 0), else_=ImportJob.bytes_done)
    result = session.execute(
        update(ImportJob)
        .where(
            ImportJob.id == job.id,
            ImportJob.status == job.status,
            ImportJob.heartbeat_at.is_not_distinct_from(job.heartbeat_at),
        )
        .values(
            status="running",
            started_at=now,
            heartbeat_at=now,
            # A run that stored nothing (an all-or-nothing one commits only at its end) is
            # started again from the top: what it had read counts for nothing.
            bytes_done=fresh_start,
            start_bytes=fresh_start,
        )
        .execution_options(synchronize_session=False)
    )
    return now if result.rowcount else None  # type: ignore[attr-defined]


def own_job(session: Session, job_id: int, claimed: datetime) -> ImportJob | None:
    """The job, its row locked till the transaction ends, while the run that claimed it at
    `claimed` still owns it; None once another run has taken it over. An UPDATE takes the
    lock on both databases (SQLite has no FOR UPDATE: this makes the transaction a writer),
    so no other worker can take the job between this check and the commit."""
    result = session.execute(
        update(ImportJob)
        .where(ImportJob.id == job_id, ImportJob.started_at == claimed)
        .values(heartbeat_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        return None
    return session.get_one(ImportJob, job_id, populate_existing=True)


def touch_job(session: Session, job_id: int, bytes_done: int) -> None:
    """Record that a running job is alive and how far it has read."""
    session.execute(
        update(ImportJob)
        .where(ImportJob.id == job_id)
        .values(heartbeat_at=utcnow(), bytes_done=bytes_done)
        .execution_options(synchronize_session=False)
    )
