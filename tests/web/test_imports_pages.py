"""The import pages: upload form, starting a job, a job's progress and report, HTMX polling."""

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from app.formats import FORMATS
from app.formats.containers import CONTAINERS
from app.models import Dataset, ImportJob
from app.models.types import utcnow
from app.services import jobs
from app.web.imports import about
from tests.auth.clients import ClientFactory
from tests.factories import make_dataset
from tests.web.html import attr, classes, executable_parts, one, parse

PAGE = "/datasets/ds/imports"
LINES = "".join(
    json.dumps({"instruction": f"q{i}", "output": f"a{i}"}) + "\n" for i in range(3)
).encode()
HOSTILE = "<img src=x onerror=alert(1)>"
HX = {"HX-Request": "true"}


def _job(session: Session, dataset: Dataset, tmp_path: Path, **fields: Any) -> ImportJob:
    """An import job row as a worker leaves it (succeeded with a report, unless overridden)."""
    path = tmp_path / "upload.jsonl"
    path.write_bytes(LINES)
    values: dict[str, Any] = {
        "dataset_id": dataset.id,
        "filename": "data.jsonl",
        "path": str(path),
        "size_bytes": 2000,
        "bytes_done": 2000,
        "format": "alpaca",
        "options": {"columns": {}, "atomic": False},
        "status": "succeeded",
        "report": {},
        "started_at": utcnow(),
        "finished_at": utcnow(),
    }
    values.update(fields)
    job = ImportJob(**values)
    session.add(job)
    session.flush()
    return job


def _report(**counts: Any) -> dict[str, Any]:
    base = {"received": 0, "created": 0, "updated": 0, "unchanged": 0, "duplicates": 0}
    return {**base, "rejected": 0, "errors": [], "duplicate_items": [], **counts}


def _jobs(session: Session) -> list[ImportJob]:
    return list(session.scalars(select(ImportJob).order_by(ImportJob.id)))


def test_upload_page_is_a_real_multipart_form(client: TestClient, session: Session) -> None:
    make_dataset(session, "ds", name="Support")
    response = client.get(PAGE)
    assert response.status_code == 200
    assert "HX-Request" in response.headers["vary"]
    soup = parse(response)
    form = one(soup, "form.import-form")
    assert (attr(form, "method"), attr(form, "action")) == ("post", PAGE)
    assert attr(form, "enctype") == "multipart/form-data"
    assert one(form, 'input[name="csrf_token"]').get("value")
    assert attr(one(form, 'input[name="file"]'), "type") == "file"
    formats = [attr(o, "value") for o in form.select('select[name="format"] option')]
    assert formats == ["", *FORMATS]
    containers = [attr(o, "value") for o in form.select('select[name="container"] option')]
    assert containers == ["", *CONTAINERS]
    assert one(form, 'textarea[name="columns"]')
    assert "SOURCE=FIELD" in one(form, "#columns-hint").get_text()
    assert attr(one(form, 'input[name="atomic"]'), "type") == "checkbox"
    assert "nothing is stored" in one(form, "#atomic-hint").get_text()
    assert one(soup, "#imports .empty-state h2").get_text() == "No imports yet"
    assert attr(one(soup, "a.json-link"), "href") == "/api/v1/datasets/ds/imports"
    assert executable_parts(soup) == []


def test_the_dataset_page_links_to_imports_for_importers_only(
    client: TestClient, clients: ClientFactory, session: Session
) -> None:
    ds = make_dataset(session, "ds")
    link = one(parse(client.get("/datasets/ds")), "a.import-link")
    assert attr(link, "href") == PAGE
    lead = clients.signed_in("lead")
    assert parse(lead.get("/datasets/ds")).select("a.import-link")
    annotator = clients.signed_in("annotator", member_of=[ds])
    assert parse(annotator.get("/datasets/ds")).select("a.import-link") == []


def test_posting_a_file_starts_a_job_and_goes_to_its_page(
    client: TestClient, session: Session, app: FastAPI
) -> None:
    make_dataset(session, "ds")
    response = client.post(
        PAGE,
        files={"file": ("my data.jsonl", LINES, "application/octet-stream")},
        data={"format": "alpaca", "columns": "q=instruction\na=output", "atomic": "true"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    [job] = _jobs(session)
    assert response.headers["location"] == f"{PAGE}/{job.id}"
    assert (job.status, job.filename, job.size_bytes, job.format) == (
        "queued",
        "my data.jsonl",
        len(LINES),
        "alpaca",
    )
    assert job.options == {
        "columns": {"q": "instruction", "a": "output"},
        "atomic": True,
        "batch_size": 2000,
        "workers": None,  # one per core but one, for a large file
        "origin": "web",  # a worker may resume it (not a `sift import`)
    }
    assert [p.read_bytes() for p in Path(app.state.settings.uploads).iterdir()] == [LINES]

    page = parse(client.get(response.headers["location"]))
    assert classes(one(page, "#job .badge")) == ["badge", "status", "status-queued"]
    assert attr(one(page, "#job"), "hx-trigger") == "every 1s"
    mapping = one(page, ".fact-columns").get_text(" ", strip=True).split()
    assert sorted(mapping) == ["a=output", "q=instruction"]  # JSONB keeps no key order


def test_an_htmx_upload_is_redirected_with_hx_redirect(
    lead_client: TestClient, session: Session
) -> None:
    make_dataset(session, "ds")
    files = {"file": ("x.jsonl", LINES, "application/octet-stream")}
    response = lead_client.post(PAGE, files=files, headers=HX, follow_redirects=False)
    assert response.status_code == 200
    [job] = _jobs(session)
    assert response.headers["HX-Redirect"] == f"{PAGE}/{job.id}"


def test_bad_options_rerender_the_form_naming_the_field(
    client: TestClient, session: Session
) -> None:
    make_dataset(session, "ds")
    files = {"file": ("x.csv", b"q,a\n1,2\n", "text/csv")}
    cases = [
        ({"format": "nope"}, files, "format", "Unknown format 'nope'"),
        ({"container": "xml"}, files, "container", "Must be one of"),
        ({"columns": "q->instruction"}, files, "columns", "Expected SOURCE=FIELD"),
        ({}, {"file": ("", b"", "application/octet-stream")}, "file", "Choose a file"),
        ({}, {"file": ("empty.jsonl", b"", "application/octet-stream")}, "file", "'empty"),
    ]
    for data, upload, field, message in cases:
        response = client.post(PAGE, files=upload, data=data)
        assert response.status_code == 422, (field, response.text)
        soup = parse(response)
        # The error sits under its field and is tied to it, not at the top of the card.
        assert soup.select("#import-error") == []
        assert one(soup, f"#{field}-error").get_text().startswith(message)
        (invalid,) = soup.select('[aria-invalid="true"]')
        assert attr(invalid, "name") == field
        assert f"{field}-error" in attr(invalid, "aria-describedby").split()
        assert one(soup, "form.import-form")  # the whole page, the form filled in again
    kept = parse(client.post(PAGE, files=files, data={"format": "nope", "columns": "q=output"}))
    assert one(kept, 'textarea[name="columns"]').get_text() == "q=output"
    assert _jobs(session) == []

    fragment = client.post(PAGE, files=files, data={"format": "nope"}, headers=HX)
    assert fragment.status_code == 422
    assert fragment.text.lstrip().startswith('<section id="upload"')
    assert "<html" not in fragment.text


def test_the_job_page_shows_counts_and_every_rejected_line(
    client: TestClient, session: Session, tmp_path: Path
) -> None:
    ds = make_dataset(session, "ds")
    report = _report(
        received=9,
        created=5,
        updated=1,
        unchanged=1,
        duplicates=1,
        rejected=1001,
        errors=[
            {"index": 3, "error": "line 3: not valid JSON (Expecting value)"},
            {"index": 7, "error": "record: no known format has the keys x"},
        ],
        duplicate_items=[{"index": 8, "reason": "same content as an earlier item"}],
    )
    job = _job(session, ds, tmp_path, report=report, filename="support.jsonl")

    response = client.get(f"{PAGE}/{job.id}")
    assert response.status_code == 200
    soup = parse(response)
    assert one(soup, "h1").get_text() == f"Import #{job.id}"
    assert one(soup, ".job-filename").get_text() == "support.jsonl"
    counts = {
        attr(tile, "data-count"): one(tile, "dd").get_text() for tile in soup.select(".job-count")
    }
    assert counts == {
        "received": "9",
        "created": "5",
        "updated": "1",
        "unchanged": "1",
        "duplicates": "1",
        "rejected": "1,001",
    }
    rows = [
        (one(tr, ".col-number").get_text(), one(tr, ".problem-reason").get_text())
        for tr in soup.select(".problem-row")
    ]
    # The row's number is not said again in its reason ("line 3: not valid JSON").
    assert rows == [
        ("3", "not valid JSON (Expecting value)"),
        ("7", "record: no known format has the keys x"),
    ]
    assert one(soup, "#rejected-heading .count").get_text() == "1,001"
    assert one(soup, ".job-rejected th.col-number").get_text() == "Line"
    assert "999 more rejected records" in one(soup, ".more-problems").get_text()
    assert [attr(tr, "data-number") for tr in soup.select(".duplicate-row")] == ["8"]
    assert one(soup, ".fact-format").get_text() == "alpaca"
    progress = one(soup, "#job progress")
    assert (attr(progress, "value"), attr(progress, "max")) == ("1.0000", "1")
    assert classes(one(soup, "#job .badge"))[-1] == "status-succeeded"
    # Finished: no polling, no Refresh link.
    assert one(soup, "#job").get("hx-trigger") is None
    assert soup.select(".job-refresh") == []
    assert attr(one(soup, "a.json-link"), "href") == f"/api/v1/datasets/ds/imports/{job.id}"
    assert executable_parts(soup) == []


def test_a_job_that_stored_nothing_says_so_not_succeeded(
    client: TestClient, session: Session, tmp_path: Path
) -> None:
    """An import of the wrong format rejected every record, and showed a green 'Succeeded'
    and a full bar in the list of imports."""
    ds = make_dataset(session, "ds")
    errors = [{"index": i, "error": "response: missing"} for i in (1, 2, 3)]
    refused = _job(session, ds, tmp_path, report=_report(received=3, rejected=3, errors=errors))
    empty = _job(session, ds, tmp_path, report=_report())
    fine = _job(session, ds, tmp_path, report=_report(received=3, created=2, rejected=1))
    badges = {
        attr(row, "id"): (classes(one(row, ".badge"))[-1], one(row, ".badge").get_text())
        for row in parse(client.get(PAGE)).select(".import-row")
    }
    assert badges == {
        f"import-{refused.id}": ("status-nothing", "Nothing stored"),
        f"import-{empty.id}": ("status-nothing", "No records"),
        f"import-{fine.id}": ("status-succeeded", "Succeeded"),
    }
    soup = parse(client.get(f"{PAGE}/{refused.id}"))
    assert one(soup, "#job .badge").get_text() == "Nothing stored"
    text = one(soup, ".job-status-text").get_text()
    assert "every one was rejected: nothing was stored" in text and "format" in text


def test_a_failed_job_shows_its_error(client: TestClient, session: Session, tmp_path: Path) -> None:
    ds = make_dataset(session, "ds")
    report = {**_report(received=2, rejected=1), "stored": False}
    report["errors"] = [{"index": 2, "error": "instruction: field required"}]
    job = _job(
        session,
        ds,
        tmp_path,
        status="failed",
        bytes_done=800,
        error="1 bad record, and the import was all or nothing: nothing was stored",
        report=report,
        options={"columns": {}, "atomic": True},
    )
    soup = parse(client.get(f"{PAGE}/{job.id}"))
    assert "nothing was stored" in one(soup, ".job-error").get_text()
    assert "and stored nothing" in one(soup, ".job-status-text").get_text()
    assert attr(one(soup, "#job progress"), "value") == "0.4000"
    assert one(soup, ".fact-atomic").get_text() == "yes"
    assert one(soup, "#job").get("hx-trigger") is None


def test_the_fragment_is_the_block_and_polls_only_while_unfinished(
    client: TestClient, session: Session, tmp_path: Path
) -> None:
    ds = make_dataset(session, "ds")
    job = _job(
        session,
        ds,
        tmp_path,
        status="running",
        bytes_done=500,
        finished_at=None,
        report=_report(received=4, created=4),
    )
    url = f"{PAGE}/{job.id}"

    full = parse(client.get(url))
    assert attr(one(full, ".job-refresh"), "href") == url  # without JavaScript

    fragment = client.get(url, headers=HX)
    assert fragment.status_code == 200
    assert "HX-Request" in fragment.headers["vary"]
    assert fragment.text.lstrip().startswith('<div id="job"')
    assert "<html" not in fragment.text and "<h1" not in fragment.text
    wrapper = one(parse(fragment), "#job")
    assert (attr(wrapper, "hx-get"), attr(wrapper, "hx-trigger")) == (url, "every 1s")
    assert attr(wrapper, "hx-swap") == "outerHTML"
    assert attr(one(wrapper, "progress"), "value") == "0.2500"
    assert one(wrapper, ".progress-text strong").get_text() == "25%"
    assert "4 records read so far" in one(wrapper, ".job-status-text").get_text()

    # The whole file read, the job still running: it says it is finishing, and polls on.
    job.bytes_done = 2000
    session.flush()
    finishing = one(parse(client.get(url, headers=HX)), "#job")
    assert one(finishing, ".job-status-text").get_text().strip().startswith("Finishing:")
    assert attr(finishing, "hx-trigger") == "every 1s"

    job.status, job.bytes_done, job.finished_at = "succeeded", 2000, utcnow()
    job.report = _report(received=8, created=8)
    session.flush()
    done = one(parse(client.get(url, headers=HX)), "#job")
    assert done.get("hx-trigger") is None and done.get("hx-get") is None
    assert attr(done, "data-status") == "succeeded"
    assert one(done, '[data-count="created"] dd').get_text() == "8"


def test_the_upload_page_lists_recent_jobs_and_refreshes_while_one_runs(
    client: TestClient, session: Session, tmp_path: Path
) -> None:
    ds = make_dataset(session, "ds")
    done = _job(session, ds, tmp_path, report=_report(created=3, rejected=2))
    running = _job(session, ds, tmp_path, status="queued", bytes_done=0, finished_at=None)
    soup = parse(client.get(PAGE))
    rows = soup.select(".import-row")
    assert [attr(r, "id") for r in rows] == [f"import-{running.id}", f"import-{done.id}"]
    assert attr(one(rows[1], ".import-file a"), "href") == f"{PAGE}/{done.id}"
    assert one(rows[1], ".count-created").get_text() == "3"
    assert one(rows[1], ".count-rejected").get_text() == "2"
    assert classes(one(rows[0], ".badge"))[-1] == "status-queued"
    section = one(soup, "#imports")
    assert attr(section, "hx-trigger") == "every 2s"

    running.status, running.finished_at = "succeeded", utcnow()
    session.flush()
    fragment = client.get(PAGE, headers=HX)
    assert fragment.text.lstrip().startswith('<section id="imports"')
    assert one(parse(fragment), "#imports").get("hx-trigger") is None


def test_only_importers_see_the_pages_answering_as_the_api_does(
    clients: ClientFactory, session: Session, tmp_path: Path
) -> None:
    ds = make_dataset(session, "ds")
    make_dataset(session, "other")
    job = _job(session, ds, tmp_path)
    files = {"file": ("x.jsonl", LINES, "application/octet-stream")}
    member = clients.signed_in("annotator", member_of=[ds])
    stranger = clients.signed_in("annotator")
    for browser, expected in ((member, 403), (stranger, 404)):
        for path in (PAGE, f"{PAGE}/{job.id}"):
            assert browser.get(path).status_code == expected
            assert browser.get("/api/v1" + path).status_code == expected
        assert browser.post(PAGE, files=files).status_code == expected
    assert _jobs(session) == [job]
    admin = clients.signed_in("admin")
    assert admin.get(f"/datasets/other/imports/{job.id}").status_code == 404
    assert admin.get(f"{PAGE}/{job.id + 1000}").status_code == 404
    assert clients.anonymous().get(PAGE, follow_redirects=False).status_code == 303


def test_a_job_shows_what_to_check_and_the_key_named_is_text(
    client: TestClient, session: Session, tmp_path: Path
) -> None:
    """A mapped key that no record had (see imports.unmatched_columns): the import succeeded,
    and its page says what to check; the key is the user's text."""
    ds = make_dataset(session, "ds")
    warning = f"columns: no record has the key {HOSTILE!r} (mapped to 'system')"
    job = _job(
        session, ds, tmp_path, report={**_report(received=2, created=2), "warnings": [warning]}
    )
    soup = parse(client.get(f"{PAGE}/{job.id}"))
    assert executable_parts(soup) == []
    assert [p.get_text() for p in soup.select(".job-warning")] == [f"Check: {warning}"]
    clean = _job(session, ds, tmp_path, report=_report(received=2, created=2))
    assert parse(client.get(f"{PAGE}/{clean.id}")).select(".job-warning") == []


def test_hostile_filenames_and_reasons_are_text(
    client: TestClient, session: Session, tmp_path: Path
) -> None:
    ds = make_dataset(session, "ds")
    report = _report(received=1, rejected=1, errors=[{"index": 1, "error": HOSTILE}])
    job = _job(session, ds, tmp_path, filename=f"{HOSTILE}.jsonl", report=report, error=HOSTILE)
    for url in (f"{PAGE}/{job.id}", PAGE):
        soup = parse(client.get(url))
        assert executable_parts(soup) == []
        assert HOSTILE in soup.get_text()
    soup = parse(client.get(f"{PAGE}/{job.id}"))
    assert one(soup, ".problem-reason").get_text() == HOSTILE
    assert one(soup, ".job-filename").get_text() == f"{HOSTILE}.jsonl"
    assert HOSTILE in one(soup, ".job-error").get_text()

    uploaded = client.post(
        PAGE, files={"file": (f"{HOSTILE}.jsonl", LINES, "application/octet-stream")}
    )
    assert uploaded.status_code == 200  # followed the redirect to the new job's page
    assert executable_parts(parse(uploaded)) == []
    assert one(parse(uploaded), ".job-filename").get_text() == f"{HOSTILE}.jsonl"


def test_a_running_job_shows_its_pace_and_the_time_left(
    client: TestClient, session: Session, tmp_path: Path
) -> None:
    ds = make_dataset(session, "ds")
    mb = 1024 * 1024
    # The pace runs from the start to the worker's last heartbeat, written with the bytes read.
    beat = utcnow()
    started = beat - timedelta(seconds=200)
    job = _job(
        session,
        ds,
        tmp_path,
        status="running",
        size_bytes=1000 * mb,
        bytes_done=400 * mb,  # 400 MB in 200 s: 2 MB/s, and 600 MB to go
        started_at=started,
        heartbeat_at=beat,
        finished_at=None,
        report=_report(received=80_000, created=80_000),
    )
    url = f"{PAGE}/{job.id}"
    status = one(parse(client.get(url, headers=HX)), ".progress-text")
    assert (
        status.get_text(" ", strip=True)
        == "40% · 400.0 MB of 1000.0 MB read · 2.0 MB/s · about 5 min left"
    )
    assert client.get(f"/api/v1/datasets/ds/imports/{job.id}").json()["pace"] == {
        "bytes_per_second": 2 * mb,
        "seconds_left": 300.0,
        "records_per_second": 400,
    }

    # A run that resumed at 250 MB counts only what it read: 150 MB in 200 s, 600 MB to go.
    job.start_bytes = 250 * mb
    session.flush()
    pace_text = one(parse(client.get(url)), ".job-pace").get_text(" ", strip=True)
    assert pace_text == "· 768.0 KB/s · about 13 min left"
    pace = client.get(f"/api/v1/datasets/ds/imports/{job.id}").json()["pace"]
    assert (pace["bytes_per_second"], pace["seconds_left"]) == (768 * 1024, 800.0)
    assert pace["records_per_second"] is None  # its report counts the earlier run's records

    # Done: records a second over the run; none for a resumed run.
    job.status, job.bytes_done = "succeeded", 1000 * mb
    job.finished_at = started + timedelta(seconds=500)
    job.report = _report(received=200_000, created=200_000)
    session.flush()
    assert parse(client.get(url)).select(".job-rate") == []
    job.start_bytes = 0
    session.flush()
    done = one(parse(client.get(url)), ".job-status-text").get_text(" ", strip=True)
    assert done == "Finished in 8 min 20 s: 200,000 records read, 400 a second ."
    assert client.get(f"/api/v1/datasets/ds/imports/{job.id}").json()["pace"] == {
        "bytes_per_second": 2 * mb,
        "seconds_left": None,
        "records_per_second": 400,
    }


def test_no_pace_before_there_is_one_to_tell(
    client: TestClient, session: Session, tmp_path: Path
) -> None:
    """Waiting; started less than 3 s before its last heartbeat; or a worker that stopped
    answering (its heartbeat minutes old), whose pace would only fall."""
    ds = make_dataset(session, "ds")
    now = utcnow()
    queued = _job(session, ds, tmp_path, status="queued", bytes_done=0, finished_at=None)
    running = {"status": "running", "bytes_done": 900, "finished_at": None}
    just_started = _job(session, ds, tmp_path, **running, started_at=now, heartbeat_at=now)
    cut_off = _job(
        session,
        ds,
        tmp_path,
        **running,
        started_at=now - timedelta(minutes=5),
        heartbeat_at=now - timedelta(minutes=2),
    )
    for job in (queued, just_started, cut_off):
        assert parse(client.get(f"{PAGE}/{job.id}")).select(".job-pace") == []
        assert client.get(f"/api/v1/datasets/ds/imports/{job.id}").json()["pace"] is None


def test_the_list_of_imports_reads_no_report_whole(
    client: TestClient, session: Session, tmp_path: Path
) -> None:
    """A report may list a thousand rejected records: the list of imports reads its counts
    alone, in as many statements for four jobs as for one."""
    ds = make_dataset(session, "ds")
    report = _report(received=3, created=3, errors=[{"index": 1, "error": "x" * 100}] * 1000)
    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(args[2])

    counted = []
    for total in (1, 4):
        while len(_jobs(session)) < total:
            _job(session, ds, tmp_path, report=report, started_at=utcnow() - timedelta(seconds=9))
        session.expunge_all()  # as a new request finds them: nothing loaded yet
        statements.clear()
        event.listen(session.connection(), "before_cursor_execute", record)
        try:
            assert client.get(PAGE).status_code == 200
        finally:
            event.remove(session.connection(), "before_cursor_execute", record)
        counted.append(len(statements))
    assert counted[0] == counted[1]


def test_times_left_read_as_people_say_them() -> None:
    cases = {
        0.4: "about 5 s",
        12: "about 10 s",
        57.4: "about 55 s",
        58: "about 1 min",
        119: "about 2 min",
        3569: "about 59 min",
        3590: "about 1 h",
        3 * 3600 + 25 * 60: "about 3 h 25 min",
    }
    assert {seconds: about(seconds) for seconds in cases} == cases


def test_every_rejected_record_can_be_downloaded(
    client: TestClient, session: Session, tmp_path: Path
) -> None:
    """The page lists the first 1,000 rejected records; the rest were only counted."""
    ds = make_dataset(session, "ds")
    errors = [{"index": i, "error": "output: missing"} for i in range(1, 1001)]
    report = {**_report(received=1500, created=0, rejected=1500, errors=errors)}
    lines = b"".join(
        json.dumps({"number": i, "error": "output: missing"}).encode() + b"\n"
        for i in range(1, 1501)
    )
    job = _job(session, ds, tmp_path, report={**report, "rejects_bytes": len(lines)})
    uploads = client.app.state.settings.uploads  # type: ignore[attr-defined]
    rejects = jobs.rejects_path(uploads, job.id)
    rejects.parent.mkdir(parents=True, exist_ok=True)
    rejects.write_bytes(lines)
    soup = parse(client.get(f"{PAGE}/{job.id}"))
    link = one(soup, ".rejects-download a")
    assert attr(link, "href") == f"{PAGE}/{job.id}/rejected.jsonl"
    assert "Download all 1,500 rejected records" in link.get_text()
    download = client.get(attr(link, "href"))
    assert download.status_code == 200 and download.content == lines
    assert "attachment" in download.headers["content-disposition"]
    job_json = client.get(f"/api/v1/datasets/ds/imports/{job.id}").json()
    assert job_json["rejected_url"] == f"/api/v1/datasets/ds/imports/{job.id}/rejected"
    api = client.get(job_json["rejected_url"])
    assert api.status_code == 200 and len(api.content.splitlines()) == 1500
    # A job that rejected nothing has no such file, and no link.
    clean = _job(session, ds, tmp_path, report=_report(received=2, created=2))
    assert parse(client.get(f"{PAGE}/{clean.id}")).select(".rejects-download") == []
    assert client.get(f"{PAGE}/{clean.id}/rejected.jsonl").status_code == 404


def test_rejects_listed_by_a_sift_import_elsewhere_are_not_offered_as_a_download(
    client: TestClient, session: Session, tmp_path: Path
) -> None:
    """`sift import` against this database from a laptop writes its rejected records there:
    the page offered "Download all", and the link answered 404 "no file (yet)"."""
    ds = make_dataset(session, "ds")
    errors = [{"index": 2, "error": "output: missing"}]
    report = {**_report(received=3, created=2, rejected=1, errors=errors), "rejects_bytes": 40}
    options = {"columns": {}, "atomic": False, "origin": "cli", "host": "lead-laptop", "pid": 7}
    job = _job(session, ds, tmp_path, report=report, options=options)
    soup = parse(client.get(f"{PAGE}/{job.id}"))
    assert soup.select(".rejects-download") == []
    assert one(soup, ".rejects-elsewhere").get_text() == (
        "The rejected record was listed by sift import on lead-laptop, which ran this import: in"
        " its output, and in its own upload folder."
    )
    assert client.get(f"/api/v1/datasets/ds/imports/{job.id}").json()["rejected_url"] is None
    missing = client.get(f"/api/v1/datasets/ds/imports/{job.id}/rejected")
    assert missing.status_code == 404
    assert "listed by `sift import` on lead-laptop" in missing.text


def test_a_workers_rejects_this_server_cannot_see_say_what_to_share(
    client: TestClient, session: Session, tmp_path: Path
) -> None:
    """A worker on an upload folder this server does not share: the page offered nothing and
    said nothing, and only a 404 that no page linked to told what to set up."""
    ds = make_dataset(session, "ds")
    errors = [{"index": 2, "error": "output: missing"}]
    report = {**_report(received=3, created=2, rejected=1, errors=errors), "rejects_bytes": 40}
    job = _job(session, ds, tmp_path, report=report, options={"columns": {}, "origin": "web"})
    soup = parse(client.get(f"{PAGE}/{job.id}"))
    assert soup.select(".rejects-download") == [] and soup.select(".rejects-elsewhere") == []
    assert "must share one (SIFT_UPLOAD_DIR)" in one(soup, ".rejects-unshared").get_text()
    assert client.get(f"/api/v1/datasets/ds/imports/{job.id}").json()["rejected_url"] is None


def test_one_rejected_record_is_offered_as_such(
    client: TestClient, session: Session, tmp_path: Path
) -> None:
    """The link read "Download all 1 rejected record"."""
    ds = make_dataset(session, "ds")
    errors = [{"index": 2, "error": "output: missing"}]
    line = json.dumps({"number": 2, "error": "output: missing"}).encode() + b"\n"
    report = {
        **_report(received=3, created=2, rejected=1, errors=errors),
        "rejects_bytes": len(line),
    }
    job = _job(session, ds, tmp_path, report=report)
    uploads = client.app.state.settings.uploads  # type: ignore[attr-defined]
    jobs.rejects_path(uploads, job.id).parent.mkdir(parents=True, exist_ok=True)
    jobs.rejects_path(uploads, job.id).write_bytes(line)
    link = one(parse(client.get(f"{PAGE}/{job.id}")), ".rejects-download a")
    assert link.get_text() == "Download the rejected record"
