"""`sift import` and `sift worker`: file imports from the command line, and the job worker."""

import argparse
import json
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from app.config import Settings


def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    """Import a file into a dataset, with a progress bar and a report of every bad record."""
    from tqdm import tqdm

    from app.cli import session_scope
    from app.db import make_engine, make_sessionmaker
    from app.services import datasets, jobs
    from app.services.imports import parse_import_options
    from app.services.ingest import IngestReport, Limits

    path = Path(args.file).resolve()
    if not path.is_file():
        print(f"sift import: no file {args.file}", file=sys.stderr)
        return 2
    # The same checks as the upload form: format, container and column mapping.
    options = replace(
        parse_import_options(args.format, args.container, "\n".join(args.column), args.atomic),
        batch_size=args.batch_size,
        workers=args.workers,
    )
    with session_scope(settings) as session:
        dataset = datasets.get_dataset(session, args.dataset)
        job = jobs.create_job(session, None, dataset, path.name, path, options, origin="cli")
        session.commit()
        job_id = job.id
    engine = make_engine(settings.database_url)
    bar = tqdm(
        total=path.stat().st_size,
        unit="B",
        unit_scale=True,
        desc=path.name,
        disable=args.quiet,
        file=sys.stderr,
    )

    def progress(done: int, report: IngestReport) -> None:
        bar.update(done - bar.n)
        bar.set_postfix(created=report.created, dup=report.duplicates, bad=report.rejected)

    make_session = make_sessionmaker(engine)
    handlers = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    stop = _stop_on_signals(bar)
    try:
        job = jobs.run_job(
            make_session, job_id, Limits.of(settings), progress, stop, settings.uploads
        )
        if stop.is_set() and job.status == "queued":
            # Stopped between batches: the job is the user's to finish, by importing again.
            with make_session() as session:
                job = jobs.mark_interrupted(session, job_id, "stopped (Ctrl-C or SIGTERM)")
                session.commit()
    finally:
        bar.close()
        engine.dispose()
        signal.signal(signal.SIGINT, handlers[0])  # as they were (sift called in-process)
        signal.signal(signal.SIGTERM, handlers[1])
    report = job.report
    _print_rejects(path.name, report, jobs.rejects_path(settings.uploads, job_id))
    counts = ", ".join(
        f"{report.get(k, 0)} {k}"
        for k in ("received", "created", "updated", "unchanged", "duplicates", "rejected")
    )
    shown = f" (format {job.format})" if job.format else ""
    print(f"import #{job_id} {job.status}{shown}: {counts}")
    if job.error:
        print(f"sift import: {job.error}", file=sys.stderr)
    for warning in report.get("warnings", []):
        print(f"sift import: check: {warning}", file=sys.stderr)
    if stop.is_set() and job.status != "succeeded":
        return 130
    return 0 if job.status == "succeeded" else 1


def _print_rejects(name: str, report: dict[str, Any], rejects: Path) -> None:
    """Every bad record, from the job's rejects file (its report lists the first 1,000)."""
    if rejects.is_file():
        with rejects.open("rb") as lines:
            for line in lines:
                problem = json.loads(line)
                print(f"{name}:{problem['number']}: {problem['error']}", file=sys.stderr)
        print(f"(all bad records, as JSON lines: {rejects})", file=sys.stderr)
        return
    for error in report.get("errors", []):
        print(f"{name}:{error['index']}: {error['error']}", file=sys.stderr)
    if report.get("rejected", 0) > len(report.get("errors", [])):
        more = report["rejected"] - len(report["errors"])
        print(f"... and {more} more bad records", file=sys.stderr)


def _stop_on_signals(bar: Any) -> threading.Event:
    """Ctrl-C (or SIGTERM: kill, a container stopping) stops the import after the batch under
    way, which is stored whole; a second one quits at once (the batch is rolled back, and the
    job is marked failed when a worker next looks). Interrupting a database call part-way
    left its connection unusable for saying what had happened."""
    stop = threading.Event()

    def handle(signum: int, frame: object) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        bar.write(
            "sift import: stopping after the batch under way (Ctrl-C again to quit at once)",
            file=sys.stderr,
        )

    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)
    return stop


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    """Run background import jobs until interrupted (for a dedicated worker machine)."""
    from app.worker import run_forever

    run_forever(settings)
    return 0


MAX_BATCH_SIZE = 50_000
MAX_WORKERS = 64


def _int_between(low: int, high: int) -> Callable[[str], int]:
    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
        if not low <= number <= high:
            raise argparse.ArgumentTypeError(f"{number} is not between {low} and {high}")
        return number

    return parse


def add_commands(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Register `import` and `worker` on the `sift` parser."""
    imp = sub.add_parser("import", help="import a file into a dataset")
    imp.add_argument("file")
    imp.add_argument("--dataset", required=True, help="slug of the dataset to import into")
    imp.add_argument("--format", help="alpaca, sharegpt, openai, dolly or trl (default: detect)")
    imp.add_argument("--container", help="json, jsonl, csv, tsv or parquet (default: detect)")
    imp.add_argument(
        "--column",
        action="append",
        default=[],
        metavar="SOURCE=FIELD",
        help="map a CSV/TSV/Parquet column or a JSON key to a field, e.g. --column q=instruction",
    )
    imp.add_argument("--atomic", action="store_true", help="store nothing if any record is bad")
    imp.add_argument(
        "--batch-size",
        type=_int_between(1, MAX_BATCH_SIZE),
        default=2000,
        help="records a transaction stores (default: 2000)",
    )
    imp.add_argument(
        "--workers",
        type=_int_between(0, MAX_WORKERS),
        help="processes that prepare batches (default: one per core but one, for files of "
        "8 MB and more; 0: all in this process)",
    )
    imp.add_argument("--quiet", action="store_true", help="no progress bar")
    imp.set_defaults(func=cmd_import)

    worker = sub.add_parser("worker", help="run background import jobs")
    worker.set_defaults(func=cmd_worker)
