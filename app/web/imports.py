"""File imports in the browser: the upload page, and each job's page with progress and report.

HTML twins of /api/v1/datasets/{slug}/imports. Everything shown comes from the job's row, so a
reload or a server restart loses nothing; while a job runs, its page polls itself with HTMX.
"""

import re
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from pathlib import PurePath
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, Response

from app.auth.deps import CurrentUser
from app.auth.permissions import Action
from app.db import SessionDep
from app.errors import InvalidInput, SiftError
from app.formats import FORMATS
from app.formats.containers import CONTAINERS, EXTENSIONS
from app.models import Dataset, ImportJob, JobStatus
from app.schemas import SmallId
from app.services import datasets, jobs
from app.services.imports import parse_import_options
from app.services.ingest import COUNTS, IngestReport
from app.web.htmx import redirect, render_page_or_fragment

router = APIRouter()

# What each format's records look like, for the format menu.
FORMAT_HINTS = {
    "sharegpt": "conversations",
    "openai": "messages, or input + preferred_output",
    "trl": "prompt + completion, chosen + rejected",
    "alpaca": "instruction + output",
    "dolly": "instruction + response",
}
CONTAINER_LABELS = {
    "json": "JSON array",
    "jsonl": "JSON lines",
    "csv": "CSV",
    "tsv": "TSV",
    "parquet": "Parquet",
}
# Containers whose record numbers are line numbers (JSON arrays and Parquet count records).
_LINE_NUMBERED = frozenset({"jsonl", "csv", "tsv"})
_UNFINISHED = frozenset({JobStatus.queued.value, JobStatus.running.value})
_NUMBERED = re.compile(r"(?:line|record) (\d+)[:,] ")


def human_bytes(size: int) -> str:
    """A byte count for people: 812 B, 14.2 KB, 3.1 MB."""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def _duration(start: datetime | None, end: datetime | None) -> str | None:
    if start is None or end is None:
        return None
    seconds = max(0.0, (end - start).total_seconds())
    if seconds < 1:
        return "under a second"
    if seconds < 60:
        return f"{seconds:.0f} s" if seconds >= 10 else f"{seconds:.1f} s"
    return f"{int(seconds) // 60} min {int(seconds) % 60} s"


def about(seconds: float) -> str:
    """A time still to come, rounded as people say it: "about 40 s", "about 3 min",
    "about 2 h", "about 1 h 5 min"."""
    fives = max(1, round(seconds / 5))  # in steps of 5 s, and never "about 0 s"
    if fives < 12:
        return f"about {fives * 5} s"
    minutes = max(1, round(seconds / 60))
    if minutes < 60:
        return f"about {minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"about {hours} h" + (f" {minutes} min" if minutes else "")


def _container_of(job: ImportJob) -> str | None:
    if job.container:
        return job.container
    path = PurePath(job.filename.lower())
    if path.suffix in (".gz", ".gzip", ".zst", ".zstd"):
        path = path.with_suffix("")
    return EXTENSIONS.get(path.suffix)


@dataclass(frozen=True)
class JobView:
    """An import job as its pages show it."""

    job: ImportJob
    url: str
    json_url: str
    size: str
    done: str
    progress: float
    number_label: str
    took: str | None
    counts: dict[str, int]  # the report's counts alone (all the list of imports shows)
    pace: jobs.Pace | None
    # Where every rejected record is, for the job's own page (see jobs.rejects_list).
    rejects: jobs.RejectsList | None = None

    @property
    def speed(self) -> str | None:
        """How fast the current run reads, for people: "3.1 MB/s"."""
        return f"{human_bytes(int(self.pace.bytes_per_second))}/s" if self.pace else None

    @property
    def time_left(self) -> str | None:
        """The time the rest of the file should take at the current pace: "about 2 min"."""
        if self.pace is None or self.pace.seconds_left is None:
            return None
        return about(self.pace.seconds_left)

    @property
    def records_per_second(self) -> int | None:
        """Records read a second over the whole run, once it has finished (a run that
        resumed an earlier one has none: its report counts both)."""
        if self.pace is None or self.pace.records_per_second is None or not self.finished:
            return None
        return round(self.pace.records_per_second)

    @cached_property
    def report(self) -> IngestReport:
        """The whole report, with its listed problems (the job's own page)."""
        return IngestReport.from_dict(self.job.report or {})

    @property
    def finished(self) -> bool:
        """True once the job succeeded or failed (its page stops polling)."""
        return self.job.status not in _UNFINISHED

    @property
    def finishing(self) -> bool:
        """Running with the whole file read: the last batches are being stored, and the
        search index's pending entries merged (seconds, for a large file)."""
        job = self.job
        return job.status == JobStatus.running.value and 0 < job.size_bytes <= job.bytes_done

    @property
    def percent(self) -> int:
        """Progress as a whole percentage."""
        return int(self.progress * 100)

    @property
    def more_errors(self) -> int:
        """Rejected records counted but not listed (a report lists the first 1000)."""
        return max(0, self.report.rejected - len(self.report.errors))

    @property
    def more_duplicates(self) -> int:
        """Duplicates counted but not listed."""
        return max(0, self.report.duplicates - len(self.report.duplicate_items))

    @staticmethod
    def reason(number: int, reason: str) -> str:
        """A problem's reason without the number its own column shows ("line 3: invalid
        JSON" in the row of line 3 reads "invalid JSON")."""
        found = _NUMBERED.match(reason)
        return reason[found.end() :] if found and int(found.group(1)) == number else reason

    @property
    def rejects_url(self) -> str | None:
        """The download of every rejected record, where this server has the list."""
        return f"{self.url}/rejected.jsonl" if self.rejects and self.rejects.here else None

    @property
    def rejects_elsewhere(self) -> str | None:
        """The machine whose `sift import` listed the rejected records (not this server)."""
        return self.rejects.host if self.rejects else None

    @property
    def rejects_unshared(self) -> bool:
        """A worker listed them in an upload folder that this server does not share."""
        return bool(self.rejects) and self.rejects_url is None and self.rejects_elsewhere is None

    @property
    def outcome(self) -> tuple[str, str]:
        """The badge: the job's status, except that a job that ran to its end but stored
        nothing (every record rejected, or none read) says so: a green "Succeeded" hid an
        import of the wrong format that refused all it read."""
        status = self.job.status
        if status == JobStatus.succeeded.value:
            if self.counts["received"] == 0:
                return ("nothing", "No records")
            if self.all_rejected:
                return ("nothing", "Nothing stored")
        return (status, status.capitalize())

    @property
    def all_rejected(self) -> bool:
        """Every record read was rejected."""
        return 0 < self.counts["received"] == self.counts["rejected"]

    @property
    def stored_nothing(self) -> bool:
        """An atomic import refused because of bad records."""
        return (self.job.report or {}).get("stored") is False

    @classmethod
    def of(
        cls,
        job: ImportJob,
        slug: str,
        counts: dict[str, int] | None = None,
        rejects: jobs.RejectsList | None = None,
    ) -> "JobView":
        """The view of a job of the dataset `slug`; the list of imports passes the counts it
        read without loading the reports, the job's page where its rejects list is."""
        container = _container_of(job)
        counts = counts if counts is not None else _counts(job.report or {})
        return cls(
            job=job,
            url=f"/datasets/{slug}/imports/{job.id}",
            json_url=f"/api/v1/datasets/{slug}/imports/{job.id}",
            size=human_bytes(job.size_bytes),
            done=human_bytes(job.bytes_done),
            progress=jobs.job_progress(job),
            number_label="Line" if container in _LINE_NUMBERED else "Record",
            took=_duration(job.started_at, job.finished_at),
            counts=counts,
            pace=jobs.job_pace(job, counts["received"]),
            rejects=rejects,
        )


def _counts(report: dict[str, Any]) -> dict[str, int]:
    return {name: int(report.get(name, 0)) for name in COUNTS}


FORM_FIELDS = frozenset({"file", "format", "container", "columns"})


def _upload_context(
    dataset: Dataset, job_list: list[tuple[ImportJob, dict[str, int]]], **extra: Any
) -> dict[str, Any]:
    views = [JobView.of(job, dataset.slug, counts) for job, counts in job_list]
    return {
        "dataset": dataset,
        "formats": [(name, FORMAT_HINTS.get(name, "")) for name in FORMATS],
        "containers": [(name, CONTAINER_LABELS.get(name, name)) for name in CONTAINERS],
        "jobs": views,
        "polling": any(not v.finished for v in views),
        "list_url": f"/datasets/{dataset.slug}/imports",
        "json_url": f"/api/v1/datasets/{dataset.slug}/imports",
        "error": None,
        "error_field": None,
        "field_error": None,
        "form": {"format": "", "container": "", "columns": "", "atomic": False},
        **extra,
    }


@router.get("/datasets/{slug}/imports")
def upload_page(
    request: Request, slug: str, session: SessionDep, caller: CurrentUser
) -> HTMLResponse:
    """The upload form, and the dataset's latest import jobs (refreshed while any runs)."""
    dataset = datasets.visible_dataset(session, caller, slug, Action.import_)
    context = _upload_context(dataset, jobs.dataset_job_counts(session, dataset))
    return render_page_or_fragment(request, "imports/index.html", "jobs", context)


@router.post("/datasets/{slug}/imports")
def start_import(
    request: Request,
    slug: str,
    session: SessionDep,
    caller: CurrentUser,
    file: Annotated[UploadFile | None, File()] = None,
    format: Annotated[str, Form(max_length=32)] = "",
    container: Annotated[str, Form(max_length=16)] = "",
    columns: Annotated[str, Form(max_length=20_000)] = "",
    atomic: Annotated[bool, Form()] = False,
) -> Response:
    """Save the uploaded file, queue its import job and go to the job's page."""
    dataset = datasets.visible_dataset(session, caller, slug, Action.import_)
    try:
        if file is None or not file.filename:
            raise InvalidInput("file", "choose a file to import")
        if file.size == 0:
            raise InvalidInput("file", f"{file.filename!r} is empty")
        options = parse_import_options(format, container, columns, atomic)
    except SiftError as exc:
        form = {"format": format, "container": container, "columns": columns, "atomic": atomic}
        field = getattr(exc, "field", None)
        inline = field in FORM_FIELDS and exc.message.startswith(f"{field}: ")
        context = _upload_context(
            dataset,
            jobs.dataset_job_counts(session, dataset),
            # A field's error is shown under it, without the field's API name in front.
            error=None if inline else exc.message,
            error_field=field,
            field_error=exc.message[len(f"{field}: ") :] if inline else None,
            form=form,
        )
        return render_page_or_fragment(
            request, "imports/index.html", "upload", context, exc.status_code
        )
    path = jobs.save_upload(file.file, file.filename, request.app.state.settings.uploads)
    job = jobs.create_job(session, caller.user, dataset, file.filename, path, options)
    session.commit()
    request.app.state.jobs.submit(job.id)
    return redirect(request, f"/datasets/{dataset.slug}/imports/{job.id}")


@router.get("/datasets/{slug}/imports/{job_id}")
def job_page(
    request: Request,
    slug: str,
    job_id: SmallId,
    session: SessionDep,
    caller: CurrentUser,
) -> HTMLResponse:
    """One import: status, progress, counts and every rejected record (polls while running)."""
    dataset = datasets.visible_dataset(session, caller, slug, Action.import_)
    job = jobs.dataset_job(session, dataset, job_id)
    rejects = jobs.rejects_list(request.app.state.settings.uploads, job)
    context = {"dataset": dataset, "view": JobView.of(job, dataset.slug, rejects=rejects)}
    return render_page_or_fragment(request, "imports/show.html", "job", context)


@router.get("/datasets/{slug}/imports/{job_id}/rejected.jsonl")
def job_rejects(
    request: Request, slug: str, job_id: SmallId, session: SessionDep, caller: CurrentUser
) -> FileResponse:
    """Every record the import rejected, as a JSON lines download."""
    dataset = datasets.visible_dataset(session, caller, slug, Action.import_)
    job = jobs.dataset_job(session, dataset, job_id)
    path = jobs.rejects_file(request.app.state.settings.uploads, job)
    return FileResponse(
        path, media_type="application/x-ndjson", filename=f"import-{job.id}-rejected.jsonl"
    )
