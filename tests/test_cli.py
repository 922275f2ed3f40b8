"""The `sift` command, run as a user would on a fresh database."""

import json
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.cli import main
from app.config import Settings
from app.db import make_engine
from app.models import AuditEvent, Example, ImportJob
from app.services.audit import OPERATOR
from tests.conftest import fresh_database_url


@pytest.fixture
def cli_settings(backend: str, tmp_path: Path) -> Settings:
    url = fresh_database_url(backend, "sift_test_cli", tmp_path)
    return Settings(database_url=url, home=tmp_path / "home", secret_key="k" * 48)


def run(settings: Settings, *argv: str) -> int:
    return main(list(argv), settings)


def test_fresh_database_to_demo(cli_settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(cli_settings, "db", "upgrade") == 0
    assert run(cli_settings, "demo", "--once") == 0
    assert "60 examples added" in capsys.readouterr().out
    assert run(cli_settings, "demo", "--once") == 0
    assert "already loaded" in capsys.readouterr().out
    assert run(cli_settings, "demo") == 0
    assert "0 examples added" in capsys.readouterr().out
    assert run(cli_settings, "datasets", "list") == 0
    slug, total, *_ = capsys.readouterr().out.splitlines()[0].split("\t")
    assert (slug, total) == ("demo", "60")


def test_datasets_create_rejects_bad_and_taken_slugs(
    cli_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    run(cli_settings, "db", "upgrade")
    assert run(cli_settings, "datasets", "create", "chat-v1", "--name", "Chat v1") == 0
    assert run(cli_settings, "datasets", "create", "chat-v1") == 2
    assert "already exists" in capsys.readouterr().err
    assert run(cli_settings, "datasets", "create", "Bad Slug!") == 2
    assert "slug:" in capsys.readouterr().err
    # The one dataset made is in the audit log, by the operator; the refused ones are not.
    engine = make_engine(cli_settings.database_url)
    with Session(engine) as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.action == "dataset.create"))
        assert [(e.actor, e.target) for e in events] == [(OPERATOR, "dataset:chat-v1")]
    engine.dispose()


def test_downgrade_to_base_and_back(cli_settings: Settings) -> None:
    assert run(cli_settings, "db", "upgrade") == 0
    assert run(cli_settings, "db", "downgrade", "base") == 0
    assert run(cli_settings, "db", "upgrade") == 0
    assert run(cli_settings, "datasets", "list") == 0


def test_production_mode_requires_a_secret(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="SIFT_SECRET_KEY"):
        Settings(mode="production", home=tmp_path)
    assert Settings(mode="production", secret_key="s" * 48, home=tmp_path).mode == "production"


def test_secret_is_generated_once_and_kept(tmp_path: Path) -> None:
    first = Settings(home=tmp_path).resolved_secret_key()
    assert len(first) >= 40
    assert Settings(home=tmp_path).resolved_secret_key() == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_postgres_urls_use_psycopg3() -> None:
    for url in ("postgres://u@h/db", "postgresql://u@h/db", "postgresql+psycopg2://u@h/db"):
        assert Settings(database_url=url).database_url == "postgresql+psycopg://u@h/db"
    assert Settings(home=Path("/x")).database_url == "sqlite:////x/sift.db"


def test_an_unmigrated_database_gets_a_hint_not_a_traceback(
    cli_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(cli_settings, "datasets", "list") == 2
    assert "sift db upgrade" in capsys.readouterr().err


def test_import_commits_in_the_batches_it_is_given(
    cli_settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--batch-size` and `--workers` reach the job that runs the import (they were once
    dropped when the job was queued, and every import ran in batches of 2,000)."""
    run(cli_settings, "db", "upgrade")
    run(cli_settings, "datasets", "create", "cli")
    path = tmp_path / "five.jsonl"
    rows = [{"instruction": f"Task {i}", "output": f"Done {i}"} for i in range(5)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    argv = ["import", str(path), "--dataset", "cli", "--quiet", "--batch-size", "2"]
    assert run(cli_settings, *argv, "--workers", "0") == 0
    assert "5 created" in capsys.readouterr().out
    engine = make_engine(cli_settings.database_url)
    with Session(engine) as session:
        job = session.scalars(select(ImportJob)).one()
        assert (job.options["batch_size"], job.options["workers"]) == (2, 0)
        stamps = session.scalars(select(Example.created_at).order_by(Example.id)).all()
    engine.dispose()
    # One transaction a batch: the records of a batch share its commit's timestamp.
    assert len(set(stamps)) == 3


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--batch-size", "0", "argument --batch-size: 0 is not between 1 and 50000"),
        ("--batch-size", "50001", "argument --batch-size: 50001 is not between 1 and 50000"),
        ("--batch-size", "lots", "argument --batch-size: 'lots' is not a whole number"),
        ("--workers", "-1", "argument --workers: -1 is not between 0 and 64"),
        ("--workers", "65", "argument --workers: 65 is not between 0 and 64"),
    ],
)
def test_import_refuses_bad_batch_sizes_and_worker_counts(
    cli_settings: Settings,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    flag: str,
    value: str,
    message: str,
) -> None:
    with pytest.raises(SystemExit) as exited:
        run(cli_settings, "import", str(tmp_path / "x.jsonl"), "--dataset", "d", flag, value)
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def test_import_says_when_a_mapped_key_is_in_no_record(
    cli_settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--column sytem=system` (a typo) imported every record with its system prompt left in
    metadata, and said nothing."""
    run(cli_settings, "db", "upgrade")
    run(cli_settings, "datasets", "create", "typo")
    path = tmp_path / "prompts.jsonl"
    path.write_text(json.dumps({"system": "Be brief.", "q": "Hi?", "a": "Hello."}) + "\n")
    argv = ["import", str(path), "--dataset", "typo", "--quiet"]
    assert run(cli_settings, *argv, "--column", "q=instruction", "--column", "a=output",
               "--column", "sytem=system") == 0  # fmt: skip
    out, err = capsys.readouterr()
    assert "1 created" in out
    assert err == (
        "sift import: check: columns: no record has the key 'sytem' (mapped to 'system'), so"
        " nothing was mapped from it; is it spelled as in the file?\n"
    )
