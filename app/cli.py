"""The `sift` command: serve, migrate, manage datasets, load the demo, users and tokens."""

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session

from app.auth.commands import add_commands as add_account_commands
from app.cli_ingest import add_commands as add_ingest_commands
from app.config import Settings, get_settings
from app.db import make_engine, make_sessionmaker
from app.errors import SiftError


@contextmanager
def session_scope(settings: Settings) -> Iterator[Session]:
    """A session for one CLI command; the command commits."""
    engine = make_engine(settings.database_url)
    session = make_sessionmaker(engine)()
    try:
        yield session
    finally:
        session.rollback()
        session.close()
        engine.dispose()


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    """Serve the web app and API with uvicorn."""
    import uvicorn

    from app.main import create_app

    settings.resolved_secret_key()
    if args.workers > 1:  # each worker process builds its app from the environment
        uvicorn.run(
            "app.main:create_app",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            proxy_headers=True,
        )
        return 0
    uvicorn.run(create_app(settings), host=args.host, port=args.port, proxy_headers=True)
    return 0


def cmd_db(args: argparse.Namespace, settings: Settings) -> int:
    """Migrate the database schema."""
    from app import dbschema

    if args.action == "upgrade":
        dbschema.upgrade(settings.database_url, args.revision or "head")
    else:
        dbschema.downgrade(settings.database_url, args.revision or "-1")
    return 0


def cmd_datasets(args: argparse.Namespace, settings: Settings) -> int:
    """Create or list datasets."""
    from app.services import datasets

    with session_scope(settings) as session:
        if args.action == "create":
            dataset = datasets.create_dataset(session, None, args.slug, args.name, args.description)
            session.commit()
            print(f"created dataset {dataset.slug}")
            return 0
        for summary in datasets.list_datasets(session):
            counts = " ".join(f"{k}={v}" for k, v in summary.counts.items())
            print(f"{summary.dataset.slug}\t{summary.total}\t{counts}\t{summary.dataset.name}")
    return 0


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    """Load the shipped demo dataset (once: a second run changes nothing)."""
    from app import demo

    marker = settings.home / ".demo-loaded"
    if args.once and marker.exists():
        print(f"demo already loaded once ({marker} exists)")
        return 0
    with session_scope(settings) as session:
        created = demo.load_demo(session, args.slug)
        session.commit()
    settings.ensure_home()
    marker.touch()
    print(f"demo dataset '{args.slug}': {created} examples added")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every sub-command."""
    parser = argparse.ArgumentParser(prog="sift", description="Curate LLM instruction data.")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the web app")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1, help="server processes")
    serve.set_defaults(func=cmd_serve)

    db = sub.add_parser("db", help="migrate the database schema")
    db.add_argument("action", choices=["upgrade", "downgrade"])
    db.add_argument("revision", nargs="?", help="default: head for upgrade, -1 for downgrade")
    db.set_defaults(func=cmd_db)

    ds = sub.add_parser("datasets", help="create or list datasets")
    ds_sub = ds.add_subparsers(dest="action", required=True)
    create = ds_sub.add_parser("create", help="create a dataset")
    create.add_argument("slug")
    create.add_argument("--name")
    create.add_argument("--description", default="")
    ds_sub.add_parser("list", help="list datasets with counts")
    ds.set_defaults(func=cmd_datasets)

    demo = sub.add_parser("demo", help="load the demo dataset")
    demo.add_argument("--slug", default="demo")
    demo.add_argument("--once", action="store_true", help="do nothing if it was loaded before")
    demo.set_defaults(func=cmd_demo)

    add_account_commands(sub)
    add_ingest_commands(sub)
    return parser


def main(argv: list[str] | None = None, settings: Settings | None = None) -> int:
    """Entry point of the `sift` console script."""
    args = build_parser().parse_args(argv)
    func: Callable[[argparse.Namespace, Settings], int] = args.func
    try:
        code = func(args, settings or get_settings())
    except SiftError as exc:
        print(f"sift: {exc.message}", file=sys.stderr)
        code = 2
    except (OperationalError, ProgrammingError) as exc:
        detail = str(exc.orig).strip().splitlines()[0]
        print(
            f"sift: the database answered: {detail}\n"
            "sift: is SIFT_DATABASE_URL right, and is the schema migrated (`sift db upgrade`)?",
            file=sys.stderr,
        )
        code = 2
    if argv is None:
        sys.exit(code)
    return code
