"""File imports over HTTP: upload a file, then watch its job."""

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile, status
from fastapi.responses import FileResponse, JSONResponse

from app.auth.deps import CurrentUser
from app.auth.permissions import Action
from app.db import SessionDep
from app.models import ImportJob
from app.schemas import SmallId
from app.services import datasets, jobs
from app.services.imports import parse_import_options

router = APIRouter(tags=["ingest"])


def job_json(job: ImportJob, slug: str, uploads: Path) -> dict[str, Any]:
    """An import job as JSON: status, progress from 0 to 1, and the report so far; `uploads`
    is this server's upload folder, where the job's rejected records are looked for."""
    return {
        "id": job.id,
        "dataset": slug,
        "filename": job.filename,
        "status": job.status,
        "progress": round(jobs.job_progress(job), 4),
        "size_bytes": job.size_bytes,
        "bytes_done": job.bytes_done,
        "pace": _pace_json(jobs.job_pace(job, int((job.report or {}).get("received", 0)))),
        "format": job.format,
        "options": job.options,
        "report": job.report,
        "error": job.error,
        "created_at": job.created_at.isoformat(),
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "url": f"/api/v1/datasets/{slug}/imports/{job.id}",
        # Every rejected record as JSON lines, once the job has finished (null otherwise, and
        # for a `sift import` run on another machine, which lists them there).
        "rejected_url": f"/api/v1/datasets/{slug}/imports/{job.id}/rejected"
        if (found := jobs.rejects_list(uploads, job)) and found.here
        else None,
    }


def _pace_json(pace: jobs.Pace | None) -> dict[str, float | None] | None:
    """The current run's pace: bytes and records a second so far (records null for a run
    that resumed an earlier one) and the seconds left (null once the file is read); the whole
    pace null while there is none to tell (waiting, just started, a worker that stopped)."""
    if pace is None:
        return None
    return {
        "bytes_per_second": round(pace.bytes_per_second),
        "seconds_left": round(pace.seconds_left, 1) if pace.seconds_left is not None else None,
        "records_per_second": (
            round(pace.records_per_second) if pace.records_per_second is not None else None
        ),
    }


@router.post("/datasets/{slug}/imports", status_code=status.HTTP_202_ACCEPTED)
def start_import(
    slug: str,
    request: Request,
    session: SessionDep,
    caller: CurrentUser,
    file: Annotated[UploadFile, File(description="JSON, JSONL, CSV/TSV or Parquet; gz/zst ok")],
    format: Annotated[str | None, Form()] = None,
    container: Annotated[str | None, Form()] = None,
    columns: Annotated[
        str, Form(description="column or JSON key to field mapping, lines of SOURCE=FIELD")
    ] = "",
    atomic: Annotated[bool, Form()] = False,
) -> JSONResponse:
    """Upload a file and import it in the background; poll the returned job's URL."""
    dataset = datasets.visible_dataset(session, caller, slug, Action.import_)
    options = parse_import_options(format, container, columns, atomic)
    settings = request.app.state.settings
    path = jobs.save_upload(file.file, file.filename or "upload", settings.uploads)
    job = jobs.create_job(session, caller.user, dataset, file.filename or path.name, path, options)
    session.commit()
    request.app.state.jobs.submit(job.id)
    body = job_json(job, dataset.slug, settings.uploads)
    return JSONResponse(body, status_code=202, headers={"Location": body["url"]})


@router.get("/datasets/{slug}/imports")
def list_imports(
    request: Request, slug: str, session: SessionDep, caller: CurrentUser
) -> list[dict[str, Any]]:
    """The dataset's latest import jobs, newest first."""
    dataset = datasets.visible_dataset(session, caller, slug, Action.import_)
    uploads = request.app.state.settings.uploads
    return [job_json(job, slug, uploads) for job in jobs.dataset_jobs(session, dataset)]


@router.get("/datasets/{slug}/imports/{job_id}")
def get_import(
    request: Request, slug: str, job_id: SmallId, session: SessionDep, caller: CurrentUser
) -> dict[str, Any]:
    """One import job: status, progress and report."""
    dataset = datasets.visible_dataset(session, caller, slug, Action.import_)
    job = jobs.dataset_job(session, dataset, job_id)
    return job_json(job, slug, request.app.state.settings.uploads)


@router.get("/datasets/{slug}/imports/{job_id}/rejected", response_class=FileResponse)
def get_import_rejects(
    request: Request, slug: str, job_id: SmallId, session: SessionDep, caller: CurrentUser
) -> FileResponse:
    """Every record the import rejected, as JSON lines {"number", "error"} (the job's report
    lists the first 1,000)."""
    dataset = datasets.visible_dataset(session, caller, slug, Action.import_)
    job = jobs.dataset_job(session, dataset, job_id)
    path = jobs.rejects_file(request.app.state.settings.uploads, job)
    return FileResponse(
        path, media_type="application/x-ndjson", filename=f"import-{job.id}-rejected.jsonl"
    )
