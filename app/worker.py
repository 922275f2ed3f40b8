"""Background import jobs: a Postgres queue (procrastinate) shared by every app server, or a
thread in the one process that owns an embedded SQLite file.

Either way the job's own row is the truth (status, progress, report); the queue only says
which job to run next. A sweep every SWEEP_SECONDS re-submits jobs that are queued or whose
worker stopped beating (a killed process, a restart), so no job is lost.
"""

import asyncio
import contextlib
import logging
import queue
import signal
import threading
from pathlib import Path
from typing import Protocol

from sqlalchemy import make_url
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.db import make_engine, make_sessionmaker
from app.services import jobs
from app.services.examples import merge_pending_search_entries
from app.services.ingest import Limits

log = logging.getLogger("sift.worker")
SWEEP_SECONDS = 30.0
TASK_NAME = "sift.run_import"
QUEUE = "imports"


class JobRunner(Protocol):
    """Runs import jobs in the background."""

    def start(self) -> None: ...

    def submit(self, job_id: int) -> None: ...

    def stop(self) -> None: ...


def _run(
    make_session: sessionmaker[Session],
    job_id: int,
    limits: Limits,
    stop: threading.Event,
    uploads: Path | None = None,
) -> None:
    try:
        jobs.run_job(make_session, job_id, limits, stop=stop, uploads=uploads)
    except Exception:  # a job's failure must not stop the worker
        log.exception("import job %s failed", job_id)


def _stale(make_session: sessionmaker[Session]) -> list[int]:
    """Jobs to (re)start; none this time when the database cannot answer (a lock held by an
    import, a restart): the next sweep asks again, and the worker lives on."""
    try:
        with make_session() as session:
            found = jobs.jobs_to_resume(session)
            session.commit()  # `sift import` jobs whose process is gone are marked failed
            return found
    except Exception:
        log.exception("looking for import jobs to resume failed; the next sweep tries again")
        return []


class ThreadRunner:
    """One worker thread in this process (the embedded SQLite default)."""

    def __init__(
        self,
        make_session: sessionmaker[Session],
        limits: Limits,
        run_worker: bool = True,
        uploads: Path | None = None,
    ) -> None:
        self.make_session, self.limits, self.run_worker = make_session, limits, run_worker
        self.uploads = uploads
        self.queue: queue.Queue[int | None] = queue.Queue()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="sift-jobs", daemon=True)

    def start(self) -> None:
        """Start the thread; it picks up jobs left over from the last run first."""
        if self.run_worker:
            self.thread.start()

    def submit(self, job_id: int) -> None:
        """Run this job soon (or leave it queued for `sift worker` when this process runs none)."""
        if self.run_worker:
            self.queue.put(job_id)

    def stop(self) -> None:
        """Let the current job finish its batch (it is queued again, to be resumed at the next
        start), then stop."""
        if self.thread.is_alive():
            self.stopping.set()
            self.queue.put(None)
            self.thread.join(timeout=30)

    def _loop(self) -> None:
        for stale in _stale(self.make_session):
            self.queue.put(stale)
        while True:
            try:
                item = self.queue.get(timeout=SWEEP_SECONDS)
            except queue.Empty:
                for stale in _stale(self.make_session):
                    self.queue.put(stale)
                continue
            if item is None or self.stopping.is_set():
                return
            _run(self.make_session, item, self.limits, self.stopping, self.uploads)


def _conninfo(database_url: str) -> str:
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


class QueueRunner:
    """procrastinate on Postgres: jobs go through a shared queue; any app server or
    `sift worker` process with `run_worker` takes them."""

    def __init__(
        self,
        settings: Settings,
        make_session: sessionmaker[Session],
        limits: Limits,
        run_worker: bool,
    ) -> None:
        from procrastinate import App, PsycopgConnector, SyncPsycopgConnector

        conninfo = _conninfo(settings.database_url)
        self.make_session, self.limits, self.run_worker = make_session, limits, run_worker
        self.defer_app = App(
            connector=SyncPsycopgConnector(conninfo=conninfo, min_size=1, max_size=2)
        )
        self.opened = False
        self.worker_app = App(connector=PsycopgConnector(conninfo=conninfo, min_size=1, max_size=4))

        self.stopping = threading.Event()

        @self.worker_app.task(name=TASK_NAME, queue=QUEUE)
        def run_import(job_id: int) -> None:
            _run(self.make_session, job_id, self.limits, self.stopping, settings.uploads)

        self.loop: asyncio.AbstractEventLoop | None = None
        self.task: asyncio.Task[None] | None = None
        self.thread = threading.Thread(target=self._thread, name="sift-queue", daemon=True)

    def start(self) -> None:
        """Start the worker thread when this process runs jobs (it first re-queues the jobs
        left waiting or cut off)."""
        if self.run_worker:
            for job_id in _stale(self.make_session):
                self.submit(job_id)
            self.thread.start()

    def submit(self, job_id: int) -> None:
        """Queue the job (once: a job already waiting is not queued twice)."""
        from procrastinate.exceptions import AlreadyEnqueued

        if not self.opened:
            self.defer_app.open()
            self.opened = True
        task = self.defer_app.configure_task(
            TASK_NAME, queue=QUEUE, queueing_lock=f"import-{job_id}"
        )
        with contextlib.suppress(AlreadyEnqueued):
            task.defer(job_id=job_id)

    def stop(self) -> None:
        """Stop the worker (after the current job's batch: the job is queued again for a
        worker to resume) and close the queue."""
        self.stopping.set()
        if self.loop is not None and self.task is not None:
            self.loop.call_soon_threadsafe(self.task.cancel)
            self.thread.join(timeout=30)
        if self.opened:
            self.defer_app.close()

    def _thread(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.task = asyncio.current_task()
        async with self.worker_app.open_async():
            sweeper = asyncio.create_task(self._sweep())
            try:
                await self.worker_app.run_worker_async(
                    queues=[QUEUE], install_signal_handlers=False, wait=True
                )
            except asyncio.CancelledError:
                pass
            finally:
                sweeper.cancel()

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            for job_id in await asyncio.to_thread(_stale, self.make_session):
                await asyncio.to_thread(self.submit, job_id)
            # Pushes let the search index's pending list grow; merge it (free when empty).
            await asyncio.to_thread(merge_pending_search_entries, self.make_session)


def make_runner(
    settings: Settings, make_session: sessionmaker[Session], run_worker: bool
) -> JobRunner:
    """The runner for this database: the shared queue on Postgres, a thread on SQLite."""
    limits = Limits.of(settings)
    if settings.is_sqlite:
        return ThreadRunner(make_session, limits, run_worker, settings.uploads)
    return QueueRunner(settings, make_session, limits, run_worker)


def run_forever(settings: Settings) -> None:
    """`sift worker`: run jobs until SIGINT or SIGTERM."""
    engine = make_engine(settings.database_url)
    runner = make_runner(settings, make_sessionmaker(engine), run_worker=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    runner.start()
    print("sift worker: running import jobs (Ctrl-C to stop)")
    stop.wait()
    runner.stop()
    engine.dispose()
