"""Background import jobs through the Postgres queue (procrastinate), as several app servers
and `sift worker` processes share them."""

import json
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from app import dbschema
from app.config import Settings
from app.db import make_engine, make_sessionmaker
from app.models import Dataset, ImportJob
from app.models.types import utcnow
from app.services import datasets, jobs
from app.services.imports import ImportOptions
from app.worker import QueueRunner, make_runner
from tests.conftest import POSTGRES_ADMIN_URL, fresh_database_url

pytestmark = pytest.mark.skipif(POSTGRES_ADMIN_URL is None, reason="needs Postgres")


@pytest.fixture(scope="module")
def queue_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, Engine]]:
    url = fresh_database_url("postgres", "sift_test_queue", tmp_path_factory.mktemp("queue"))
    dbschema.upgrade(url)
    engine = make_engine(url)
    settings = Settings(database_url=url, home=tmp_path_factory.mktemp("home"), secret_key="q" * 48)
    yield settings, engine
    engine.dispose()


def _job(make_session: sessionmaker[Session], path: Path, slug: str) -> int:
    with make_session() as session:
        dataset = datasets.create_dataset(session, None, slug)
        job = jobs.create_job(session, None, dataset, path.name, path, ImportOptions())
        session.commit()
        return job.id


def _wait(make_session: sessionmaker[Session], job_id: int) -> ImportJob:
    deadline = time.time() + 60
    while time.time() < deadline:
        with make_session() as session:
            job = session.get_one(ImportJob, job_id)
            if job.status in ("succeeded", "failed"):
                return job
        time.sleep(0.2)
    raise AssertionError("the job did not finish")


def _file(tmp_path: Path, n: int) -> Path:
    path = tmp_path / "queued.jsonl"
    path.write_text(
        "".join(json.dumps({"instruction": f"q{i}", "output": f"a{i}"}) + "\n" for i in range(n))
    )
    return path


def test_a_submitted_job_runs_on_the_queue_worker(
    queue_db: tuple[Settings, Engine], tmp_path: Path
) -> None:
    settings, engine = queue_db
    make_session = make_sessionmaker(engine)
    runner = make_runner(settings, make_session, run_worker=True)
    assert isinstance(runner, QueueRunner)
    job_id = _job(make_session, _file(tmp_path, 30), "queued")
    runner.start()
    try:
        runner.submit(job_id)
        runner.submit(job_id)  # queued once: a second submit while it waits is ignored
        job = _wait(make_session, job_id)
    finally:
        runner.stop()
    assert job.status == "succeeded", job.error
    assert job.report["created"] == 30


def test_a_web_only_server_queues_and_a_worker_started_later_runs_it(
    queue_db: tuple[Settings, Engine], tmp_path: Path
) -> None:
    settings, engine = queue_db
    make_session = make_sessionmaker(engine)
    web = make_runner(settings, make_session, run_worker=False)
    web.start()
    job_id = _job(make_session, _file(tmp_path, 10), "later")
    web.submit(job_id)
    time.sleep(0.5)
    with make_session() as session:
        assert session.get_one(ImportJob, job_id).status == "queued"
    web.stop()
    worker = make_runner(settings, make_session, run_worker=True)
    worker.start()
    try:
        job = _wait(make_session, job_id)
    finally:
        worker.stop()
    assert job.status == "succeeded" and job.report["created"] == 10


def test_a_job_cut_off_by_a_dead_server_is_resumed_at_worker_start(
    queue_db: tuple[Settings, Engine], tmp_path: Path
) -> None:
    settings, engine = queue_db
    make_session = make_sessionmaker(engine)
    job_id = _job(make_session, _file(tmp_path, 20), "cutoff")
    with make_session() as session:  # as a server that died mid-job leaves it
        job = session.get_one(ImportJob, job_id)
        job.status, job.started_at = "running", utcnow() - timedelta(minutes=10)
        job.heartbeat_at = utcnow() - timedelta(minutes=10)
        session.commit()
    worker = make_runner(settings, make_session, run_worker=True)
    worker.start()
    try:
        job = _wait(make_session, job_id)
    finally:
        worker.stop()
    assert job.status == "succeeded" and job.report["created"] == 20
    with make_session() as session:
        assert session.get_one(Dataset, job.dataset_id).slug == "cutoff"


def test_the_sweep_merges_what_pushes_left_pending(queue_db: tuple[Settings, Engine]) -> None:
    """Pushes let the search index's pending list grow (a search reads all of it); the
    worker's sweep merges it."""
    from sqlalchemy import text

    from app.services.examples import store_examples
    from app.worker import merge_pending_search_entries
    from tests.factories import chat

    _, engine = queue_db
    make_session = make_sessionmaker(engine)
    with make_session() as session:
        dataset = datasets.create_dataset(session, None, "pushed")
        store_examples(session, dataset, [chat(f"pushed question {i}", "yes") for i in range(200)])
        session.commit()
    merge = text("SELECT gin_clean_pending_list('ix_examples_search'::regclass)")
    merge_pending_search_entries(make_session)
    with make_session() as session:
        assert session.execute(merge).scalar_one() == 0
