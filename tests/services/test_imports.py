"""File imports and import jobs, committed for real in a database of their own."""

import csv
import gzip
import io
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard
from hypothesis import example, given
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from app import dbschema, repositories
from app.db import make_engine, make_sessionmaker
from app.errors import NotFound
from app.models import Dataset, Example, ImportJob
from app.models.types import utcnow
from app.repositories import ingest as ingest_repo
from app.services import datasets, jobs
from app.services.imports import (
    PARALLEL_FROM_BYTES,
    ImportFailed,
    ImportOptions,
    _worker_count,
    import_file,
)
from app.services.ingest import IngestReport, Limits
from app.worker import ThreadRunner
from tests.conftest import fresh_database_url
from tests.generated import encode, generated_cases, items, json_values, texts

LIMITS = Limits()


def alpaca(i: int) -> dict[str, Any]:
    return {"instruction": f"Task number {i}", "input": "", "output": f"Done {i} quokka"}


@pytest.fixture(scope="module")
def imports_engine(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    url = fresh_database_url(backend, "sift_test_imports", tmp_path_factory.mktemp("imports"))
    dbschema.upgrade(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


@pytest.fixture
def make_session(imports_engine: Engine) -> sessionmaker[Session]:
    return make_sessionmaker(imports_engine)


@pytest.fixture
def dataset_id(
    make_session: sessionmaker[Session], request: pytest.FixtureRequest
) -> Iterator[int]:
    slug = "imp-" + str(abs(hash(request.node.nodeid)) % 10**8)
    with make_session() as session:
        ds = datasets.create_dataset(session, None, slug)
        session.commit()
        ds_id = ds.id
    yield ds_id
    with make_session() as session:
        session.delete(session.get_one(Dataset, ds_id))
        session.commit()


def stored(make_session: sessionmaker[Session], dataset_id: int) -> int:
    with make_session() as session:
        query = select(func.count()).where(Example.dataset_id == dataset_id)
        return int(session.scalar(query) or 0)


def in_id_order(make_session: sessionmaker[Session], dataset_id: int, column: Any) -> list[Any]:
    """One column of a dataset's examples, in id order."""
    with make_session() as session:
        query = select(column).where(Example.dataset_id == dataset_id).order_by(Example.id)
        return list(session.scalars(query))


def write(path: Path, records: list[dict[str, Any]], container: str) -> Path:
    if container == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in records))
    elif container == "json":
        path.write_text(json.dumps(records, indent=1))
    elif container == "csv":
        import csv

        with path.open("w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["q", "a"])
            writer.writerows([[r["instruction"], r["output"]] for r in records])
    elif container == "parquet":
        pq.write_table(pa.Table.from_pylist(records), path)
    return path


@pytest.mark.parametrize("container", ["json", "jsonl", "csv", "parquet", "jsonl.gz", "json.zst"])
def test_every_container_imports(
    make_session: sessionmaker[Session], dataset_id: int, tmp_path: Path, container: str
) -> None:
    records = [alpaca(i) for i in range(25)]
    base = container.split(".")[0]
    path = write(tmp_path / f"data.{base}", records, base)
    if container.endswith(".gz"):
        path = tmp_path / "data.jsonl.gz"
        path.write_bytes(gzip.compress((tmp_path / "data.jsonl").read_bytes()))
    if container.endswith(".zst"):
        path = tmp_path / "data.json.zst"
        path.write_bytes(zstandard.ZstdCompressor().compress((tmp_path / "data.json").read_bytes()))
    columns = {"q": "instruction", "a": "output"} if base == "csv" else {}
    options = ImportOptions(columns=columns, batch_size=10)
    report, fmt = import_file(make_session, dataset_id, path, options, LIMITS)
    assert (fmt, report.created, report.rejected) == ("alpaca", 25, 0)
    assert stored(make_session, dataset_id) == 25


def test_a_parquet_import_shows_progress_by_its_rows(
    make_session: sessionmaker[Session], dataset_id: int, tmp_path: Path
) -> None:
    """Parquet's reader starts at the file's end (its footer), so how far it has read said
    99% from the first batch on; the progress is the share of rows stored instead."""
    path = write(tmp_path / "rows.parquet", [alpaca(i) for i in range(25)], "parquet")
    size = path.stat().st_size
    done: list[int] = []
    options = ImportOptions(batch_size=10)
    import_file(
        make_session, dataset_id, path, options, LIMITS, progress=lambda d, _: done.append(d)
    )
    assert done == [size * 10 // 25, size * 20 // 25, size]


def test_bad_lines_reported_good_ones_kept_and_rerun_adds_nothing(
    make_session: sessionmaker[Session], dataset_id: int, tmp_path: Path
) -> None:
    lines = [json.dumps(alpaca(i)) for i in range(6)]
    lines[2] = "{broken"
    lines[4] = json.dumps({"instruction": ["not", "text"], "output": "x"})
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n")
    report, _ = import_file(make_session, dataset_id, path, ImportOptions(batch_size=2), LIMITS)
    assert (report.created, report.rejected) == (4, 2)
    assert [(p.number, p.reason.split(":")[0]) for p in report.errors] == [
        (3, "line 3"),
        (5, "instruction"),
    ]
    again, _ = import_file(make_session, dataset_id, path, ImportOptions(batch_size=2), LIMITS)
    assert (again.created, again.duplicates, again.rejected) == (0, 4, 2)
    assert stored(make_session, dataset_id) == 4


def test_atomic_import_stores_nothing_when_a_line_is_bad(
    make_session: sessionmaker[Session], dataset_id: int, tmp_path: Path
) -> None:
    path = tmp_path / "atomic.jsonl"
    path.write_text(json.dumps(alpaca(1)) + "\n{oops\n" + json.dumps(alpaca(2)) + "\n")
    report, _ = import_file(
        make_session, dataset_id, path, ImportOptions(atomic=True, batch_size=1), LIMITS
    )
    assert report.rejected == 1 and report.errors[0].number == 2
    assert stored(make_session, dataset_id) == 0


def test_an_atomic_job_with_bad_lines_reads_the_whole_file_and_says_so(
    make_session: sessionmaker[Session], dataset_id: int, tmp_path: Path
) -> None:
    """Its page said '0% · 0 B read' beside 20,001 records received."""
    path = tmp_path / "atomic-job.jsonl"
    path.write_text(json.dumps(alpaca(1)) + "\n{oops\n" + json.dumps(alpaca(2)) + "\n")
    with make_session() as session:
        dataset = session.get_one(Dataset, dataset_id)
        job_id = jobs.create_job(
            session, None, dataset, path.name, path, ImportOptions(atomic=True)
        ).id
        session.commit()
    job = jobs.run_job(make_session, job_id, LIMITS)
    assert job.status == "failed" and job.bytes_done == job.size_bytes > 0
    assert job.error == "1 bad record, and the import was all or nothing: nothing was stored"
    assert stored(make_session, dataset_id) == 0


def test_unreadable_file_fails_clearly(
    make_session: sessionmaker[Session], dataset_id: int, tmp_path: Path
) -> None:
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(
        gzip.compress(b"".join(json.dumps(alpaca(i)).encode() + b"\n" for i in range(50)))[:-30]
    )
    with pytest.raises(ImportFailed, match="truncated or corrupt"):
        import_file(make_session, dataset_id, path, ImportOptions(), LIMITS)
    unknown = tmp_path / "odd.jsonl"
    unknown.write_text(json.dumps({"foo": 1}) + "\n")
    with pytest.raises(ImportFailed, match="format"):
        import_file(make_session, dataset_id, unknown, ImportOptions(), LIMITS)


def test_parallel_workers_give_the_same_result(
    backend: str, make_session: sessionmaker[Session], dataset_id: int, tmp_path: Path
) -> None:
    path = write(tmp_path / "many.jsonl", [alpaca(i) for i in range(300)], "jsonl")
    options = ImportOptions(batch_size=40, workers=2)
    report, _ = import_file(make_session, dataset_id, path, options, LIMITS)
    assert report.created == 300
    ids = in_id_order(make_session, dataset_id, Example.external_id)
    firsts = in_id_order(make_session, dataset_id, Example.messages)
    with make_session() as session:
        # On Postgres a second connection merged the search index while the batches went in,
        # and what was left when the import ended: a search no longer reads a pending list.
        search = repositories.ExampleFilters(q="quokka")
        assert repositories.count_examples(session, dataset_id, search) == 300
        merged = repositories.merge_search_index(session)
        assert merged == (0 if backend == "postgres" else None)  # None: SQLite has no list
    assert ids == [None] * 300
    assert [m[0]["content"] for m in firsts] == [f"Task number {i}" for i in range(300)]


@pytest.mark.parametrize(("container", "workers"), [("jsonl", 1), ("jsonl", 0), ("json", 0)])
def test_a_json_file_keys_are_mapped_like_columns(
    make_session: sessionmaker[Session],
    dataset_id: int,
    tmp_path: Path,
    container: str,
    workers: int,
) -> None:
    """OpenOrca, MetaMathQA, GSM8K and the like name their fields their own way (question,
    response, system_prompt): with no way to map a JSON file's keys, every record was refused.
    The mapping of CSV columns now maps them, in the process that parses JSONL lines too."""
    records = [
        {"system_prompt": "Be brief.", "question": f"Q{i} about quokkas?", "response": f"A{i}"}
        for i in range(30)
    ]
    records[7]["instruction"] = "a field the mapping would overwrite"
    path = write(tmp_path / f"orca.{container}", records, container)
    columns = {"system_prompt": "system", "question": "instruction", "response": "output"}
    options = ImportOptions(columns=columns, batch_size=10, workers=workers)
    report, fmt = import_file(make_session, dataset_id, path, options, LIMITS)
    assert fmt == "alpaca"
    assert (report.created, report.rejected) == (29, 1)
    unit = "line" if container == "jsonl" else "record"
    assert [(p.number, p.reason) for p in report.errors] == [
        (8, f"{unit} 8: columns: 'question' goes to 'instruction', which the record has already")
    ]
    with make_session() as session:
        first = session.scalars(
            select(Example).where(Example.dataset_id == dataset_id).order_by(Example.id)
        ).first()
        assert first is not None
        assert [(m["role"], m["content"]) for m in first.messages] == [
            ("system", "Be brief."),
            ("user", "Q0 about quokkas?"),
            ("assistant", "A0"),
        ]
        assert set(first.meta) <= {"_layout"}  # every key was mapped: none is left over


@pytest.mark.parametrize(
    ("container", "workers"), [("jsonl", 1), ("jsonl", 0), ("json", 0), ("parquet", 0)]
)
def test_a_mapped_key_that_no_record_has_is_reported(
    make_session: sessionmaker[Session],
    dataset_id: int,
    tmp_path: Path,
    container: str,
    workers: int,
) -> None:
    """A mistyped key in a JSON file's mapping was ignored without a word: the import
    "succeeded", and the field it was for went without (here each system prompt stayed in
    metadata). A key some records have is no mistake; a table's columns are checked by its
    header."""
    records = [{"system": f"Be brief {i}.", "q": f"Q{i}", "a": f"A{i}"} for i in range(30)]
    records[25]["id"] = "late"  # in one record of the last batch
    path = write(tmp_path / f"typo.{container}", records, container)
    columns = {"q": "instruction", "a": "output"}
    if container != "parquet":  # there, a column the file lacks is an error of its own
        columns.update({"id": "id", "sytem": "system"})
    options = ImportOptions(columns=columns, batch_size=10, workers=workers)
    report, _ = import_file(make_session, dataset_id, path, options, LIMITS)
    assert (report.created, report.rejected) == (30, 0)
    expected = [
        "columns: no record has the key 'sytem' (mapped to 'system'), so nothing was mapped"
        " from it; is it spelled as in the file?"
    ]
    assert report.warnings == ([] if container == "parquet" else expected)
    assert IngestReport.from_dict(report.as_dict()).warnings == report.warnings


def import_into_new_dataset(
    make_session: sessionmaker[Session], path: Path, workers: int
) -> tuple[IngestReport, str | None, int]:
    """Import a file in batches of 4 into a dataset of its own: report, format, dataset id."""
    with make_session() as session:
        dataset = datasets.create_dataset(session, None, f"{path.stem}-{workers}")
        session.commit()
        dataset_id = dataset.id
    options = ImportOptions(batch_size=4, workers=workers)
    report, fmt = import_file(make_session, dataset_id, path, options, LIMITS)
    return report, fmt, dataset_id


def test_workers_read_bad_lines_as_the_import_does_in_process(
    make_session: sessionmaker[Session], tmp_path: Path
) -> None:
    """Worker processes get a large file's JSONL lines unparsed and parse them themselves:
    the report must be the same, bad lines named by number, blank ones skipped."""
    good = [json.dumps(alpaca(i)).encode() for i in range(6)]
    lines = [
        b"\xef\xbb\xbf   ",  # a byte-order mark, then nothing
        b"",
        b"\xff" + good[0],  # not UTF-8
        good[1],  # the first readable record: the format is told from it
        b"{not json",
        b"[1, 2]",
        json.dumps({"instruction": "no output"}).encode(),
        b"   ",
        *good[2:],
    ]
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    reports = []
    for workers in (0, 1):
        report, fmt, other_id = import_into_new_dataset(make_session, path, workers)
        assert fmt == "alpaca"
        assert stored(make_session, other_id) == 5
        reports.append(report.as_dict())
    assert reports[0] == reports[1]
    assert reports[0]["received"] == 9 and reports[0]["created"] == 5
    assert [e["index"] for e in reports[0]["errors"]] == [3, 5, 6, 7]
    assert "line 3: invalid UTF-8" in reports[0]["errors"][0]["error"]


def test_workers_tell_the_format_past_blank_lines_as_the_import_does_in_process(
    make_session: sessionmaker[Session], tmp_path: Path
) -> None:
    """Blank lines do not count towards a batch, so the format is told from the first records
    whichever process parses them: here alpaca, and the ShareGPT record is rejected."""
    sharegpt = {"conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Yo"}]}
    lines = [b""] * 10 + [json.dumps(r).encode() for r in (alpaca(1), sharegpt, alpaca(2))]
    path = tmp_path / "blank-first.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    for workers in (0, 1):
        report, fmt, _ = import_into_new_dataset(make_session, path, workers)
        assert fmt == "alpaca"
        assert (report.created, report.rejected) == (2, 1)
        assert report.errors[0].number == 12


def make_job(make_session: sessionmaker[Session], dataset_id: int, path: Path) -> int:
    with make_session() as session:
        dataset = session.get_one(Dataset, dataset_id)
        job = jobs.create_job(session, None, dataset, path.name, path, ImportOptions(batch_size=50))
        session.commit()
        return job.id


def test_the_format_is_told_from_the_first_record_that_fits_one(
    make_session: sessionmaker[Session], dataset_id: int, tmp_path: Path
) -> None:
    """A first record with its output left out failed the whole file: 'could not tell the
    format from record 1'. It is now one bad record, and the file's format is the next's."""
    records = [{"instruction": "no output"}] + [alpaca(i) for i in range(5)]
    path = write(tmp_path / "first-bad.jsonl", records, "jsonl")
    report, fmt = import_file(make_session, dataset_id, path, ImportOptions(), LIMITS)
    assert fmt == "alpaca" and (report.created, report.rejected) == (5, 1)
    assert report.errors[0].number == 1 and "output" in report.errors[0].reason
    nothing = write(tmp_path / "none-fit.jsonl", [{"question": "q"}, {"answer": "a"}], "jsonl")
    with pytest.raises(ImportFailed, match=r"^could not tell the format from record 1: .+; name"):
        import_file(make_session, dataset_id, nothing, ImportOptions(), LIMITS)


def test_a_json_array_broken_part_way_fails_the_job_saying_what_was_kept(
    make_session: sessionmaker[Session], dataset_id: int, tmp_path: Path
) -> None:
    """A JSON array with one broken element in the middle: the job 'succeeded', 100% read,
    with one bad record, and the thousand records after it were never read."""
    text = json.dumps([alpaca(i) for i in range(200)], indent=1)
    broken = text.replace('"Task number 120"', '"Task number 120" oops', 1)
    path = tmp_path / "broken.json"
    path.write_text(broken)
    job = jobs.run_job(make_session, make_job(make_session, dataset_id, path), LIMITS)
    assert job.status == "failed"
    assert (job.error or "").startswith("record 121, line ")
    assert "invalid JSON" in (job.error or "") and "the rest of the file cannot be read" in (
        job.error or ""
    )
    # Batches of 50: the first two were stored before the broken one, and are kept.
    assert (job.error or "").endswith(
        "the 100 examples stored before that are kept; once the file is mended, importing it"
        " again stores nothing twice"
    )
    assert job.report is not None and job.report["created"] == 100
    assert job.format == "alpaca"  # as read before the break
    assert stored(make_session, dataset_id) == 100


def test_thread_runner_runs_and_resumes_cut_off_jobs(
    make_session: sessionmaker[Session], dataset_id: int, tmp_path: Path
) -> None:
    path = write(tmp_path / "job.jsonl", [alpaca(i) for i in range(120)], "jsonl")
    job_id = make_job(make_session, dataset_id, path)
    # As if a worker died after committing the first 50 records.
    import_file(make_session, dataset_id, path, ImportOptions(batch_size=50), LIMITS)
    with make_session() as session:
        session.execute(ImportJob.__table__.delete().where(ImportJob.id == job_id))
        session.commit()
    job_id = make_job(make_session, dataset_id, path)
    with make_session() as session:
        job = session.get_one(ImportJob, job_id)
        job.status, job.resume_after = "running", 50
        job.bytes_done = first_50 = sum(map(len, path.read_bytes().splitlines(True)[:50]))
        job.heartbeat_at = utcnow() - timedelta(minutes=5)
        session.commit()
    runner = ThreadRunner(make_session, LIMITS)
    runner.start()
    deadline = time.time() + 30
    while time.time() < deadline:
        with make_session() as session:
            job = session.get_one(ImportJob, job_id)
            if job.status in ("succeeded", "failed"):
                break
        time.sleep(0.1)
    runner.stop()
    assert job.status == "succeeded", job.error
    assert job.report["received"] == 70  # records 51..120 only
    assert job.start_bytes == first_50  # its pace counts what this run read
    assert stored(make_session, dataset_id) == 120


def test_a_cut_off_run_that_stored_nothing_starts_again_from_the_top(
    make_session: sessionmaker[Session], dataset_id: int, tmp_path: Path
) -> None:
    """An all-or-nothing import commits only at its end; cut off, it has read 800 bytes but
    stored nothing, and the next run reads the file again: its progress and pace start at 0."""
    path = write(tmp_path / "job.jsonl", [alpaca(i) for i in range(10)], "jsonl")
    job_id = make_job(make_session, dataset_id, path)
    with make_session() as session:
        job = session.get_one(ImportJob, job_id)
        job.status, job.resume_after, job.bytes_done = "running", 0, 800
        job.heartbeat_at = utcnow() - timedelta(minutes=5)
        session.commit()
    with make_session() as session:
        job = session.get_one(ImportJob, job_id)
        assert ingest_repo.claim_job(session, job)
        session.commit()
    with make_session() as session:
        job = session.get_one(ImportJob, job_id)
        assert (job.status, job.bytes_done, job.start_bytes) == ("running", 0, 0)


def test_a_job_uses_no_more_workers_than_the_machine_has_cores() -> None:
    """`sift import --workers 64` is kept with the job; a smaller machine may be the one
    to run it."""
    cores = os.cpu_count() or 1
    many = ImportOptions(workers=64)
    assert _worker_count(many, PARALLEL_FROM_BYTES) == min(64, cores)
    assert _worker_count(ImportOptions(workers=0), PARALLEL_FROM_BYTES) == 0


def test_killed_import_keeps_whole_batches_and_reruns_without_duplicates(
    imports_engine: Engine, make_session: sessionmaker[Session], dataset_id: int, tmp_path: Path
) -> None:
    records = [alpaca(i) | {"output": f"Done {i} " + "lorem ipsum " * 40} for i in range(6000)]
    path = write(tmp_path / "big.jsonl", records, "jsonl")
    with make_session() as session:
        slug = session.get_one(Dataset, dataset_id).slug
    env = {**os.environ, "SIFT_DATABASE_URL": imports_engine.url.render_as_string(False)}
    cmd = [
        sys.executable,
        "-m",
        "app",
        "import",
        str(path),
        "--dataset",
        slug,
        "--batch-size",
        "100",
        "--workers",
        "0",
        "--quiet",
    ]
    process = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while stored(make_session, dataset_id) < 300 and time.time() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    cut = stored(make_session, dataset_id)
    assert 0 < cut < 6000 and cut % 100 == 0  # whole batches only
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert stored(make_session, dataset_id) == 6000
    assert f"{cut} duplicates" in done.stdout


def test_ctrl_c_stops_sift_import_for_good(
    imports_engine: Engine, make_session: sessionmaker[Session], dataset_id: int, tmp_path: Path
) -> None:
    """Ctrl-C left the job 'running', and a server finished it a minute later behind the
    user's back (who may have picked the wrong dataset). Now the job fails saying what it
    kept, and no worker resumes it."""
    records = [alpaca(i) | {"output": f"Done {i} " + "lorem ipsum " * 40} for i in range(6000)]
    path = write(tmp_path / "big.jsonl", records, "jsonl")
    with make_session() as session:
        slug = session.get_one(Dataset, dataset_id).slug
    env = {**os.environ, "SIFT_DATABASE_URL": imports_engine.url.render_as_string(False)}
    cmd = [sys.executable, "-m", "app", "import", str(path), "--dataset", slug,
           "--batch-size", "100", "--workers", "1", "--quiet"]  # fmt: skip
    process = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while stored(make_session, dataset_id) < 300 and time.time() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err.decode()[-3000:]
    cut = stored(make_session, dataset_id)
    assert 0 < cut < 6000 and cut % 100 == 0
    assert b"Traceback" not in err
    assert f"the {cut:,} examples stored before that are kept".encode() in err
    with make_session() as session:
        job = session.scalars(
            select(ImportJob)
            .where(ImportJob.dataset_id == dataset_id)
            .order_by(ImportJob.id.desc())
        ).first()
        assert job is not None and job.status == "failed" and job.options["origin"] == "cli"
        assert (job.error or "").startswith("stopped (Ctrl-C or SIGTERM)")
        assert job.report is not None and job.report["created"] == cut
        assert job.id not in jobs.jobs_to_resume(session)


def test_sift_import_prints_every_bad_record(
    imports_engine: Engine, make_session: sessionmaker[Session], dataset_id: int, tmp_path: Path
) -> None:
    """It printed the report's first 1,000 and '... and 200 more bad records'."""
    lines = [json.dumps({"instruction": f"no output {i}"}) for i in range(1200)]
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join([json.dumps(alpaca(0)), *lines]) + "\n")
    with make_session() as session:
        slug = session.get_one(Dataset, dataset_id).slug
    env = {
        **os.environ,
        "SIFT_DATABASE_URL": imports_engine.url.render_as_string(False),
        "SIFT_HOME": str(tmp_path / "home"),
    }
    done = subprocess.run(
        [sys.executable, "-m", "app", "import", str(path), "--dataset", slug, "--quiet"],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    printed = [line for line in done.stderr.splitlines() if line.startswith("bad.jsonl:")]
    assert len(printed) == 1200 and printed[-1] == "bad.jsonl:1201: output: missing"
    assert "more bad records" not in done.stderr


def test_a_sift_import_whose_process_died_is_failed_not_resumed(
    make_session: sessionmaker[Session], dataset_id: int, tmp_path: Path
) -> None:
    path = write(tmp_path / "cli.jsonl", [alpaca(i) for i in range(10)], "jsonl")
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)  # fmt: skip
    dead_pid = int(ended.stdout)
    with make_session() as session:
        dataset = session.get_one(Dataset, dataset_id)
        cli = jobs.create_job(session, None, dataset, path.name, path, ImportOptions(), "cli")
        web = jobs.create_job(session, None, dataset, path.name, path, ImportOptions())
        fresh = jobs.create_job(session, None, dataset, path.name, path, ImportOptions(), "cli")
        # Alive (this process), with no heartbeat for minutes: an all-or-nothing import on
        # SQLite writes none until its end, and must not be taken for dead.
        alive = jobs.create_job(session, None, dataset, path.name, path, ImportOptions(), "cli")
        long_ago = utcnow() - timedelta(minutes=5)
        for job in (cli, web, alive):  # as if killed while running, five minutes ago
            job.status, job.started_at, job.heartbeat_at = "running", long_ago, long_ago
        for job in (cli, fresh):
            job.options = {**job.options, "pid": dead_pid}
        session.commit()
        assert jobs.jobs_to_resume(session) == [web.id]  # `fresh` is about to be claimed
        session.commit()
        assert session.get_one(ImportJob, cli.id).status == "failed"
        error = session.get_one(ImportJob, cli.id).error or ""
        assert error.startswith("the sift import that ran it stopped")
        assert "nothing was stored" in error
        assert session.get_one(ImportJob, fresh.id).status == "queued"
        assert session.get_one(ImportJob, alive.id).status == "running"


def test_a_stop_asked_during_the_last_batch_lets_the_import_end(
    make_session: sessionmaker[Session], dataset_id: int, tmp_path: Path
) -> None:
    """Ctrl-C during the last batch failed the job, though everything was stored."""

    path = write(tmp_path / "last.jsonl", [alpaca(i) for i in range(40)], "jsonl")
    job_id = make_job(make_session, dataset_id, path)  # one batch of 50: the last
    stop = threading.Event()
    job = jobs.run_job(make_session, job_id, LIMITS, lambda *_: stop.set(), stop=stop)
    assert stop.is_set() and job.status == "succeeded" and job.report["created"] == 40


def test_every_rejected_record_is_written_down_once_even_across_a_resume(
    make_session: sessionmaker[Session], dataset_id: int, tmp_path: Path
) -> None:
    """A report lists the first 1,000 rejected records; a lead fixing a file needs them all.
    Each batch's are written before it commits, so a run cut off in between writes some
    again when resumed: the file is cut back to its size at the last commit first."""

    lines = [json.dumps(alpaca(i) if i % 5 == 0 else {"instruction": f"no output {i}"})
             for i in range(3000)]  # fmt: skip
    rejects = tmp_path / "uploads"  # the upload folder: an upload's rejects are beside it
    rejects.mkdir()
    path = rejects / "many-bad.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with make_session() as session:
        dataset = session.get_one(Dataset, dataset_id)
        options = ImportOptions(batch_size=1000, workers=0)
        job_id = jobs.create_job(session, None, dataset, path.name, path, options).id
        session.commit()
    stop = threading.Event()
    job = jobs.run_job(make_session, job_id, LIMITS, lambda *_: stop.set(), stop, rejects)
    assert job.status == "queued" and job.resume_after == 1000
    written = jobs.rejects_path(rejects, job_id)
    with written.open("ab") as out:  # as if the next batch had written its rejects and died
        out.write(b'{"number": 1002, "error": "from a batch that never committed"}\n')
    job = jobs.run_job(make_session, job_id, LIMITS, uploads=rejects)
    assert job.status == "succeeded" and job.report is not None
    assert (job.report["rejected"], len(job.report["errors"])) == (2400, 1000)
    listed = [json.loads(line) for line in written.read_bytes().splitlines()]
    assert [p["number"] for p in listed] == [i + 1 for i in range(3000) if i % 5]
    assert listed[0] == {"number": 2, "error": "output: missing"}
    assert job.report[jobs.REJECTS_BYTES] == written.stat().st_size


def test_a_run_that_fails_part_way_lists_only_what_its_committed_batches_rejected(
    make_session: sessionmaker[Session],
    dataset_id: int,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The batch it was on had written its rejects, and the file (offered as "all N rejected
    records") disagreed with the report."""
    from app.services import imports

    lines = [json.dumps(alpaca(i) if i % 2 else {"instruction": f"bad {i}"}) for i in range(200)]
    (tmp_path / "rejects").mkdir()
    path = tmp_path / "rejects" / "half-bad.jsonl"
    path.write_text("\n".join(lines) + "\n")
    job_id = make_job(make_session, dataset_id, path)  # batches of 50
    real_store = imports.store_prepared
    calls: list[int] = []

    def store_then_break(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("the disk went away")
        return real_store(*args, **kwargs)

    monkeypatch.setattr(imports, "store_prepared", store_then_break)
    job = jobs.run_job(make_session, job_id, LIMITS, uploads=tmp_path / "rejects")
    assert job.status == "failed" and job.report is not None
    written = jobs.rejects_path(tmp_path / "rejects", job_id).read_bytes().splitlines()
    assert job.report["rejected"] == len(written) == 25
    assert job.report[jobs.REJECTS_BYTES] == sum(len(line) + 1 for line in written)
    # A rejects directory that cannot be made fails the job, saying so (it stayed running):
    # `sift import` keeps them in its own upload folder.
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    mine = tmp_path / "mine.jsonl"  # the user's own file (an upload is gone once imported)
    mine.write_text("\n".join(lines) + "\n")
    with make_session() as session:
        dataset = session.get_one(Dataset, dataset_id)
        cli_job = jobs.create_job(session, None, dataset, mine.name, mine, ImportOptions(), "cli")
        session.commit()
        other = jobs.run_job(make_session, cli_job.id, LIMITS, uploads=blocker)
    assert other.status == "failed" and "not-a-dir" in (other.error or "")


def take_over(make_session: sessionmaker[Session], job_id: int) -> datetime:
    """Claim a running job as another worker would: a new run, started now; its start."""
    with make_session() as session:
        job = session.get_one(ImportJob, job_id)
        job.started_at = job.heartbeat_at = utcnow() + timedelta(seconds=1)
        session.commit()
        return job.started_at


def test_a_run_whose_job_another_worker_took_over_stops(
    make_session: sessionmaker[Session], dataset_id: int, tmp_path: Path
) -> None:
    """A batch that waited past the stale time (on a lock) let a second worker claim the job;
    both then ran it, both wrote its progress, and its rejects file listed records twice. The
    first run now stops at its next batch, which it rolls back, and leaves the job alone."""
    path = write(tmp_path / "taken.jsonl", [alpaca(i) for i in range(200)], "jsonl")
    job_id = make_job(make_session, dataset_id, path)  # batches of 50
    taken: list[object] = []

    def another_worker_claims(*_args: object) -> None:
        if not taken:
            taken.append(take_over(make_session, job_id))

    job = jobs.run_job(make_session, job_id, LIMITS, another_worker_claims)
    assert job.status == "running" and job.started_at == taken[0]  # the other run's
    assert stored(make_session, dataset_id) == 50  # the first batch; the second rolled back
    assert job.report is not None and job.report["created"] == 50


def test_a_run_taken_over_leaves_the_new_runs_rejects_file_alone(
    make_session: sessionmaker[Session], dataset_id: int, tmp_path: Path
) -> None:
    """Every run of a job writes one rejects file, beside the upload. A run taken over wrote
    the rejects of its next batch into the new run's file before it noticed, and one that had
    written none removed the file as empty when it stopped."""
    uploads = tmp_path / "uploads"
    records = [alpaca(i) if not 50 <= i < 100 else {"instruction": f"bad {i}"} for i in range(200)]
    uploads.mkdir()
    path = write(uploads / "taken.jsonl", records, "jsonl")
    job_id = make_job(make_session, dataset_id, path)  # batches of 50: the second is bad
    theirs = b'{"number": 77, "error": "written by the run that took the job over"}\n'

    def another_worker_claims(*_args: object) -> None:
        with make_session() as session:
            job = session.get_one(ImportJob, job_id)
            if job.started_at is not None and job.started_at < utcnow():
                job.started_at = job.heartbeat_at = utcnow() + timedelta(seconds=1)
                session.commit()
                jobs.rejects_path(uploads, job_id).write_bytes(theirs)

    job = jobs.run_job(make_session, job_id, LIMITS, another_worker_claims, uploads=uploads)
    assert job.status == "running" and stored(make_session, dataset_id) == 50
    assert jobs.rejects_path(uploads, job_id).read_bytes() == theirs
    assert path.exists()  # the job has not ended: the other run reads its upload


def test_a_run_told_to_stop_after_its_job_was_taken_over_leaves_the_job_alone(
    make_session: sessionmaker[Session], dataset_id: int, tmp_path: Path
) -> None:
    """A server shutting down queued its job again for the next worker, though another run
    had taken it over: the sweep then started a third run beside the second."""
    path = write(tmp_path / "taken.jsonl", [alpaca(i) for i in range(200)], "jsonl")
    job_id = make_job(make_session, dataset_id, path)  # batches of 50
    stop = threading.Event()
    theirs: list[Any] = []

    def taken_over_then_stopped(*_args: object) -> None:
        if not theirs:
            theirs.append(take_over(make_session, job_id))
        stop.set()

    job = jobs.run_job(make_session, job_id, LIMITS, taken_over_then_stopped, stop)
    assert (job.status, job.started_at, job.heartbeat_at) == ("running", theirs[0], theirs[0])


def test_a_job_that_an_older_sift_import_queued_never_removes_its_file(
    make_session: sessionmaker[Session], dataset_id: int, tmp_path: Path
) -> None:
    """Jobs queued before jobs said their origin (web, or cli) say none; a worker may run
    such a `sift import` job, and its file is the user's own."""
    # Named as uploads are, for the origin alone to tell.
    mine = write(tmp_path / f"{'0' * 32}-mine.jsonl", [alpaca(1)], "jsonl")
    job_id = make_job(make_session, dataset_id, mine)
    with make_session() as session:
        job = session.get_one(ImportJob, job_id)
        job.options = {key: v for key, v in job.options.items() if key != "origin"}
        session.commit()
    job = jobs.run_job(make_session, job_id, LIMITS, uploads=tmp_path / "uploads")
    assert job.status == "succeeded" and mine.exists()


def test_a_sweep_that_fails_leaves_the_worker_running(
    make_session: sessionmaker[Session],
    dataset_id: int,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Looking for jobs to resume now writes (it fails dead `sift import` jobs); on SQLite a
    long all-or-nothing import holds the lock, the write timed out, and the exception ended
    the worker thread: every job submitted after waited for ever."""
    from sqlalchemy.exc import OperationalError

    calls: list[int] = []

    def locked(session: Session) -> list[int]:
        calls.append(1)
        raise OperationalError("UPDATE import_jobs", {}, Exception("database is locked"))

    monkeypatch.setattr(jobs, "jobs_to_resume", locked)
    runner = ThreadRunner(make_session, LIMITS)
    runner.start()
    try:
        path = write(tmp_path / "after.jsonl", [alpaca(i) for i in range(5)], "jsonl")
        job_id = make_job(make_session, dataset_id, path)
        runner.submit(job_id)
        deadline = time.time() + 30
        status = "queued"
        while status != "succeeded" and time.time() < deadline:
            time.sleep(0.1)
            with make_session() as session:
                status = session.get_one(ImportJob, job_id).status
    finally:
        runner.stop()
    assert calls and status == "succeeded"


def test_a_server_shutting_down_stops_its_job_between_batches_for_the_next_start(
    make_session: sessionmaker[Session], dataset_id: int, tmp_path: Path
) -> None:
    """The server's shutdown waited 30 s while the import ran on, then left it 'running' for
    a minute after the restart. The job now stops after the batch it is on, queued to be
    resumed at once by the next worker, which stores the rest."""

    path = write(tmp_path / "stop.jsonl", [alpaca(i) for i in range(200)], "jsonl")
    job_id = make_job(make_session, dataset_id, path)  # batches of 50
    stop = threading.Event()
    job = jobs.run_job(make_session, job_id, LIMITS, lambda *_: stop.set(), stop=stop)
    assert (job.status, job.resume_after, job.error) == ("queued", 50, None)
    assert stored(make_session, dataset_id) == 50
    with make_session() as session:
        assert jobs.jobs_to_resume(session) == [job_id]
    job = jobs.run_job(make_session, job_id, LIMITS)
    assert job.status == "succeeded" and job.report is not None
    assert job.report["created"] == 200 and stored(make_session, dataset_id) == 200


def run_together(*works: Callable[[], object]) -> list[BaseException]:
    """Run each function in a thread of its own, all at once; what they raised."""
    errors: list[BaseException] = []

    def guarded(work: Callable[[], object]) -> None:
        try:
            work()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(work,)) for work in works]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return errors


def test_concurrent_batches_sharing_content_both_succeed(
    backend: str, make_session: sessionmaker[Session], dataset_id: int
) -> None:
    """Two writers storing the same examples in opposite orders. Both take the content key
    in the order of the hashes, so the second waits for the first and neither is aborted:
    each in its own batch order, they deadlocked, and one was run again (pushes from six
    clients were refused with 503s)."""

    from app.services.examples import stage_examples, store_staged
    from tests.factories import chat

    items = [chat(f"shared question {i}", f"answer {i}") for i in range(2000)]
    barrier = threading.Barrier(2)
    results: list[int] = []

    def write(batch: list[Any]) -> None:
        with make_session() as session:
            dataset = session.get_one(Dataset, dataset_id)
            staged = stage_examples(batch, backend == "postgres")
            barrier.wait()
            result = store_staged(session, dataset, staged)  # once: no retry
            session.commit()
            results.append(len(result.created))

    assert run_together(lambda: write(items), lambda: write(items[::-1])) == []
    assert sum(results) == 2000
    assert stored(make_session, dataset_id) == 2000
    ids = in_id_order(make_session, dataset_id, Example.id)
    firsts = in_id_order(make_session, dataset_id, Example.messages)
    # Ids still follow each writer's batch order, whichever stored an item.
    numbers = [int(m[0]["content"].split()[-1]) for m in firsts]
    assert len(ids) == 2000 and (numbers == sorted(numbers) or numbers == sorted(numbers)[::-1])


def test_a_writer_that_loses_the_race_for_a_new_external_id_updates_it(
    backend: str, make_session: sessionmaker[Session], dataset_id: int
) -> None:
    """Two pushes naming the same new ids: the second looked them up before the first
    committed, so its insert waited, did nothing, and every item was reported 'same content
    as an example already stored' though no example held it: its content was lost. Now the
    loser looks the ids up again and updates them, as a later push would."""

    from app.db import commit_retrying
    from app.services.examples import stage_examples, store_staged
    from tests.factories import chat

    def items(tag: str) -> list[Any]:
        # A stored id in the batch sends it through the staging table (lookup, then insert).
        seed = chat(f"seed {tag}", "seed answer", external_id="seed")
        return [seed] + [chat(f"{tag} {i}", "answer", external_id=f"n{i}") for i in range(50)]

    with make_session() as session:
        dataset = session.get_one(Dataset, dataset_id)
        store_staged(
            session,
            dataset,
            stage_examples([chat("seed", "x", external_id="seed")], backend == "postgres"),
        )
        session.commit()
    first_looked_up = threading.Event()
    results: dict[str, Any] = {}

    def write(tag: str, hold: bool) -> None:
        with make_session() as session:
            dataset = session.get_one(Dataset, dataset_id)
            staged = stage_examples(items(tag), backend == "postgres")
            if hold:  # store, then wait before committing while the other one runs
                results[tag] = store_staged(session, dataset, staged)
                first_looked_up.set()
                time.sleep(1.5)
                session.commit()
            else:
                first_looked_up.wait(10)
                results[tag] = commit_retrying(
                    session, lambda: store_staged(session, dataset, staged)
                )

    assert run_together(lambda: write("alpha", True), lambda: write("beta", False)) == []
    assert len(results["alpha"].created) == 50
    beta = results["beta"]
    assert beta.duplicates == [] and len(beta.updated) == 51
    with make_session() as session:
        rows = session.execute(
            select(Example.messages, Example.version).where(
                Example.dataset_id == dataset_id, Example.external_id.like("n%")
            )
        ).all()
    assert len(rows) == 50
    assert {(m[0]["content"].split()[0], v) for m, v in rows} == {("beta", 2)}


def test_an_update_that_loses_the_race_for_its_new_content_is_a_duplicate(
    backend: str, make_session: sessionmaker[Session], dataset_id: int
) -> None:
    """A push giving an example new content that another push stored meanwhile: its look-up
    did not see the other's row, its update broke the unique key, and the push answered 409
    "clashed with a concurrent one". Run again (commit_retrying), it is a duplicate."""

    from app.db import commit_retrying
    from app.services.examples import stage_examples, store_staged
    from tests.factories import chat

    postgres = backend == "postgres"
    with make_session() as session:
        dataset = session.get_one(Dataset, dataset_id)
        store_staged(
            session, dataset, stage_examples([chat("old", "x", external_id="a")], postgres)
        )
        session.commit()
    other_stored = threading.Event()
    results: dict[str, Any] = {}

    def store_new_content() -> None:
        with make_session() as session:
            dataset = session.get_one(Dataset, dataset_id)
            results["other"] = store_staged(
                session, dataset, stage_examples([chat("new", "y")], postgres)
            )
            other_stored.set()
            time.sleep(1.5)  # committed while the update waits on its key
            session.commit()

    def update_to_it() -> None:
        other_stored.wait(10)
        with make_session() as session:
            dataset = session.get_one(Dataset, dataset_id)
            staged = stage_examples([chat("new", "y", external_id="a")], postgres)
            results["update"] = commit_retrying(
                session, lambda: store_staged(session, dataset, staged)
            )

    assert run_together(store_new_content, update_to_it) == []
    assert len(results["other"].created) == 1
    update = results["update"]
    assert (update.updated, len(update.duplicates)) == ([], 1)
    with make_session() as session:
        kept = session.scalars(
            select(Example.messages).where(
                Example.dataset_id == dataset_id, Example.external_id == "a"
            )
        ).one()
    assert kept[0]["content"] == "old"


def test_a_large_job_refreshes_the_planner_statistics(
    backend: str,
    make_session: sessionmaker[Session],
    dataset_id: int,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from sqlalchemy import text

    monkeypatch.setattr(jobs, "ANALYZE_AFTER", 10)
    path = write(tmp_path / "stats.jsonl", [alpaca(i) for i in range(12)], "jsonl")
    job = jobs.run_job(make_session, make_job(make_session, dataset_id, path), LIMITS)
    assert job.status == "succeeded"
    with make_session() as session:
        if backend == "postgres":
            # Analysed, and vacuumed: its pages are marked all-visible, so counts can read
            # the indexes alone.
            query = (
                "SELECT s.last_analyze IS NOT NULL AND c.relallvisible > 0"
                " FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid"
                " WHERE s.relname = 'examples'"
            )
        else:
            query = "SELECT count(*) > 0 FROM sqlite_stat1 WHERE tbl = 'examples'"
        assert session.execute(text(query)).scalar_one()


def test_a_job_leaves_the_search_index_merged(
    backend: str, make_session: sessionmaker[Session], dataset_id: int, tmp_path: Path
) -> None:
    """Imports let the search index's pending list grow large (a search reads all of it), so a
    finished job merges it: merging again finds nothing left."""
    from sqlalchemy import text

    if backend != "postgres":
        pytest.skip("the GIN pending list is Postgres-only")
    path = write(tmp_path / "merge.jsonl", [alpaca(i) for i in range(300)], "jsonl")
    job = jobs.run_job(make_session, make_job(make_session, dataset_id, path), LIMITS)
    assert job.status == "succeeded"
    with make_session() as session:
        merge = "SELECT gin_clean_pending_list('ix_examples_search'::regclass)"
        assert session.execute(text(merge)).scalar_one() == 0
        found = repositories.page_examples(
            session, dataset_id, repositories.ExampleFilters(q="quokka"), None, 10
        ).items
        assert len(found) == 10


def test_an_atomic_job_keeps_beating_while_it_runs(
    backend: str, make_session: sessionmaker[Session], dataset_id: int, tmp_path: Path
) -> None:
    """An all-or-nothing import commits only at the end; meanwhile its heartbeat must move,
    or another worker would take it for cut off and run it a second time."""
    path = write(tmp_path / "atomic.jsonl", [alpaca(i) for i in range(4500)], "jsonl")
    with make_session() as session:
        dataset = session.get_one(Dataset, dataset_id)
        options = ImportOptions(atomic=True)  # jobs read in batches of 2,000: three here
        job_id = jobs.create_job(session, None, dataset, path.name, path, options).id
        session.commit()
    seen: list[object] = []

    def watch(_done: int, _report: object) -> None:
        with make_session() as session:
            seen.append(session.get_one(ImportJob, job_id).heartbeat_at)

    job = jobs.run_job(make_session, job_id, LIMITS, watch)
    assert job.status == "succeeded" and job.report["created"] == 4500
    if backend == "postgres":
        assert len(set(seen)) == 3  # a new beat after each of the three batches


# Generated files (Hypothesis, strategies in tests/generated.py): whatever file a lead imports,
# the import either fails with a message (ImportFailed) or reports on every record, with counts
# that add up and match what was stored; an all-or-nothing import with a bad record stores
# nothing. Files include broken compression, stray bytes and ragged CSV.
_names = itertools.count()


def _csv(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode("utf-8", "surrogatepass")


cells = st.lists(st.lists(texts, max_size=4), max_size=6)
# Readable Parquet tables: columns of the formats' keys (and dotted ones) holding text, numbers
# (NaN and infinities too), booleans, lists, and lists of messages, any of them null.
_parquet_texts = texts.filter(lambda t: "\ud800" not in t)  # Parquet holds valid UTF-8 only
_PARQUET_NAMES = [
    "instruction", "input", "output", "system", "history", "conversations", "messages",
    "prompt", "completion", "chosen", "rejected", "label", "id", "meta.source", "meta",
]  # fmt: skip
# The columns a format needs, which most tables start from (with text in them, mostly).
_PARQUET_FORMATS = [
    [], ["instruction", "output"], ["conversations"], ["messages"], ["prompt", "completion"],
]  # fmt: skip
_PARQUET_CELLS = [
    st.one_of(st.none(), _parquet_texts),
    st.one_of(st.none(), st.integers(min_value=-(2**63), max_value=2**63 - 1)),
    st.floats(),
    st.one_of(st.none(), st.booleans()),
    st.lists(_parquet_texts, max_size=3),
    st.lists(st.fixed_dictionaries({"from": _parquet_texts, "value": _parquet_texts}), max_size=3),
    st.lists(
        st.fixed_dictionaries(
            {"role": _parquet_texts, "content": st.one_of(st.none(), _parquet_texts)}
        ),
        max_size=3,
    ),
]


@st.composite
def parquet_tables(draw: st.DrawFn) -> tuple[str, bytes]:
    base = draw(st.sampled_from(_PARQUET_FORMATS))
    extra = draw(st.lists(st.sampled_from(_PARQUET_NAMES), max_size=3, unique=True))
    names = list(dict.fromkeys([*base, *extra])) or ["instruction"]
    rows = draw(st.integers(min_value=0, max_value=4))
    text_cell = st.one_of(_parquet_texts, st.just("a question"))
    columns: dict[str, list[Any]] = {}
    for name in names:
        if name in ("conversations", "messages") and name in base:
            cell = draw(st.sampled_from(_PARQUET_CELLS[-2:]))
        elif name in base and draw(st.integers(0, 3)):
            cell = text_cell
        else:
            cell = draw(st.sampled_from(_PARQUET_CELLS))
        columns[name] = draw(st.lists(cell, min_size=rows, max_size=rows))
    out = io.BytesIO()
    pq.write_table(pa.table(columns), out)
    return ("parquet", out.getvalue())


HEADERS = ["instruction", "output", "meta", "meta.source", "a.b"]
files = st.one_of(
    items.map(lambda xs: ("jsonl", b"\n".join(encode(x) for x in xs) + b"\n")),
    items.map(lambda xs: ("json", encode(xs))),
    json_values.map(lambda x: ("json", encode(x))),
    st.lists(st.one_of(items.map(encode), st.binary(max_size=30)), max_size=6).map(
        lambda lines: ("jsonl", b"\n".join(lines))
    ),
    cells.map(lambda rows: ("csv", _csv([["instruction", "output"], *rows]))),
    # Headers whose dotted names nest fields in groups, and may clash.
    st.lists(st.sampled_from(HEADERS), min_size=1, max_size=4, unique=True).flatmap(
        lambda header: st.lists(
            st.lists(texts, min_size=len(header), max_size=len(header)), min_size=1, max_size=3
        ).map(lambda rows: ("csv", _csv([header, *rows])))
    ),
    cells.map(lambda rows: ("tsv", _csv(rows).replace(b",", b"\t"))),
    st.binary(max_size=200).map(lambda raw: ("parquet", raw)),
    parquet_tables(),
    st.binary(max_size=200).map(lambda raw: ("jsonl.gz", raw)),
    items.map(lambda xs: ("jsonl.gz", gzip.compress(b"\n".join(encode(x) for x in xs))[:-5])),
    items.map(lambda xs: ("json.zst", zstandard.compress(encode(xs)))),
)


@generated_cases(150)
# A header that nests a field in a group of the same name (it crashed the reader), always.
@example(file=("csv", b"meta,meta.source,instruction,output\nx,y,q,a\n"), atomic=False, fmt=None)
@given(
    file=files,
    atomic=st.booleans(),
    fmt=st.sampled_from([None, "alpaca", "sharegpt"]),
)
def test_an_import_reports_on_every_record_or_fails_with_a_message(
    make_session: sessionmaker[Session],
    dataset_id: int,
    tmp_path: Path,
    file: tuple[str, bytes],
    atomic: bool,
    fmt: str | None,
) -> None:
    suffix, content = file
    path = tmp_path / f"generated-{next(_names)}.{suffix}"
    path.write_bytes(content)
    before = stored(make_session, dataset_id)
    options = ImportOptions(fmt=fmt, atomic=atomic, workers=0)
    try:
        report, _ = import_file(make_session, dataset_id, path, options, LIMITS)
    except ImportFailed as exc:
        assert str(exc)  # says what is wrong with the file
        if atomic:
            assert stored(make_session, dataset_id) == before
        return
    after = stored(make_session, dataset_id)
    counts: dict[str, Any] = report.counts()
    assert len(report.errors) == report.rejected or report.rejected > len(report.errors) >= 1000
    assert all(problem.reason for problem in report.errors)
    if atomic and report.rejected:
        # Nothing stored: the report lists the bad records, and counts nothing as created.
        assert after == before and report.created == report.updated == 0
        return
    added = sum(counts[k] for k in ("created", "updated", "unchanged", "duplicates", "rejected"))
    assert added == counts["received"], counts
    assert after - before == report.created


def test_a_job_that_hits_an_unexpected_error_fails_with_it_and_is_not_run_again(
    make_session: sessionmaker[Session],
    dataset_id: int,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Left running, a job whose import raised (a bug, say) was taken for cut off a minute
    later and run again, failing the same way each time."""
    path = write(tmp_path / "job.jsonl", [alpaca(i) for i in range(5)], "jsonl")
    job_id = make_job(make_session, dataset_id, path)

    def broken(*_args: object, **_kwargs: object) -> object:
        raise RuntimeError("the analyzer tripped")

    monkeypatch.setattr(jobs, "import_file", broken)
    job = jobs.run_job(make_session, job_id, LIMITS)
    assert job.status == "failed"
    assert "unexpected error (RuntimeError: the analyzer tripped)" in (job.error or "")
    assert "what it stored is kept" in (job.error or "")
    with make_session() as session:
        assert not jobs.is_stale(session.get_one(ImportJob, job_id))
        assert jobs.jobs_to_resume(session) == []


def test_a_run_that_stops_part_way_reports_what_it_stored(
    make_session: sessionmaker[Session], dataset_id: int, tmp_path: Path
) -> None:
    """The batches committed before the file turned out broken are stored, and the job's
    report counts them (it was overwritten with an empty one)."""
    lines = b"".join(json.dumps(alpaca(i)).encode() + b"\n" for i in range(3000))
    packed = gzip.compress(lines)
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(packed[: len(packed) * 2 // 3])
    job_id = make_job(make_session, dataset_id, path)  # batches of 50
    job = jobs.run_job(make_session, job_id, LIMITS)
    assert job.status == "failed" and "truncated or corrupt" in (job.error or "")
    kept = stored(make_session, dataset_id)
    assert kept > 0
    assert (job.report["created"], job.report["stored"]) == (kept, True)


def test_a_job_whose_database_went_away_stays_running_to_be_resumed(
    make_session: sessionmaker[Session],
    dataset_id: int,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from sqlalchemy.exc import OperationalError

    path = write(tmp_path / "job.jsonl", [alpaca(i) for i in range(5)], "jsonl")
    job_id = make_job(make_session, dataset_id, path)

    def lost(*_args: object, **_kwargs: object) -> object:
        raise OperationalError("COPY", {}, Exception("server closed the connection"))

    monkeypatch.setattr(jobs, "import_file", lost)
    with pytest.raises(OperationalError):
        jobs.run_job(make_session, job_id, LIMITS)
    with make_session() as session:
        assert session.get_one(ImportJob, job_id).status == "running"


def test_a_worker_finds_an_upload_in_its_own_upload_folder_or_says_what_to_share(
    make_session: sessionmaker[Session], dataset_id: int, tmp_path: Path
) -> None:
    """Scaled out, the server that takes an upload in is not the worker that imports it. A
    worker on another machine failed with "No such file or directory: <the server's path>",
    even where both machines mount one shared folder (at different paths)."""
    server, worker = tmp_path / "server-uploads", tmp_path / "worker-mount"
    data = b"".join(json.dumps(alpaca(i)).encode() + b"\n" for i in range(30))
    saved = jobs.save_upload(io.BytesIO(data), "data.jsonl", server)
    job_id = make_job(make_session, dataset_id, saved)
    worker.mkdir()
    shutil.move(saved, worker / saved.name)  # the same shared folder, seen from the worker
    job = jobs.run_job(make_session, job_id, LIMITS, uploads=worker)
    assert job.status == "succeeded" and stored(make_session, dataset_id) == 30

    lost = jobs.save_upload(io.BytesIO(data), "other.jsonl", server)
    with make_session() as session:
        dataset = session.get_one(Dataset, dataset_id)
        job_id = jobs.create_job(session, None, dataset, "other.jsonl", lost, ImportOptions()).id
        session.commit()
    lost.unlink()  # on the server's disk alone, which the worker does not see
    job = jobs.run_job(make_session, job_id, LIMITS, uploads=worker)
    assert job.status == "failed"
    assert job.error == (
        f"the uploaded file 'other.jsonl' is not in this machine's upload folder ({worker}):"
        " every app server and `sift worker` must share one upload folder (SIFT_UPLOAD_DIR);"
        " once they do, upload the file again"
    )


def test_an_uploads_rejects_are_listed_beside_it_where_every_server_sees_them(
    make_session: sessionmaker[Session], dataset_id: int, tmp_path: Path
) -> None:
    """A worker whose own SIFT_UPLOAD_DIR is wrong still reaches an upload by its path (every
    machine mounting the share at one path): it imported the file, but wrote the rejected
    records in its own folder, and the page blamed a `sift import` on another machine."""
    shared, wrong = tmp_path / "shared", tmp_path / "worker-local"
    data = json.dumps(alpaca(1)).encode() + b"\n" + b'{"instruction": "no output"}\n'
    saved = jobs.save_upload(io.BytesIO(data), "some-bad.jsonl", shared)
    job = jobs.run_job(make_session, make_job(make_session, dataset_id, saved), LIMITS,
                       uploads=wrong)  # fmt: skip
    assert job.status == "succeeded" and job.report is not None and job.report["rejected"] == 1
    assert jobs.rejects_list(shared, job) == jobs.RejectsList(
        here=jobs.rejects_path(shared, job.id)
    )  # what a server on the share serves
    assert json.loads(jobs.rejects_file(shared, job).read_bytes()) == {
        "number": 2,
        "error": "output: missing",
    }
    with pytest.raises(NotFound, match="must share one"):
        jobs.rejects_file(wrong, job)


def test_an_upload_is_removed_when_its_job_ends_and_a_users_own_file_never(
    make_session: sessionmaker[Session], dataset_id: int, tmp_path: Path
) -> None:
    """After 18 imports all 18 uploads (195 MB) were still in the shared folder: nothing ever
    removed one. A file given to `sift import` is the user's own, and stays."""
    uploads = tmp_path / "uploads"
    good = json.dumps(alpaca(1)).encode() + b"\n"
    done = jobs.save_upload(io.BytesIO(good), "good.jsonl", uploads)
    broken = jobs.save_upload(io.BytesIO(b"[{]"), "broken.json", uploads)
    for path, status in ((done, "succeeded"), (broken, "failed")):
        job = jobs.run_job(make_session, make_job(make_session, dataset_id, path), LIMITS,
                           uploads=uploads)  # fmt: skip
        assert job.status == status and not path.exists()
    mine = write(tmp_path / "mine.jsonl", [alpaca(2)], "jsonl")
    with make_session() as session:
        dataset = session.get_one(Dataset, dataset_id)
        job_id = jobs.create_job(session, None, dataset, mine.name, mine, ImportOptions(), "cli").id
        session.commit()
    assert jobs.run_job(make_session, job_id, LIMITS, uploads=uploads).status == "succeeded"
    assert mine.exists()
