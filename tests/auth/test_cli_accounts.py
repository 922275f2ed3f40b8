"""`sift users ...` and `sift tokens ...` on a fresh database, as an operator would run them."""

import io
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.cli import main
from app.config import Settings
from app.main import create_app
from tests.conftest import fresh_database_url

PASSWORD = "operator-chosen-password"


@pytest.fixture
def cli_settings(backend: str, tmp_path: Path) -> Settings:
    url = fresh_database_url(backend, "sift_test_cli_accounts", tmp_path)
    settings = Settings(database_url=url, home=tmp_path / "home", secret_key="k" * 48)
    assert main(["db", "upgrade"], settings) == 0
    return settings


def run(
    settings: Settings, capsys: pytest.CaptureFixture[str], *argv: str, stdin: str = ""
) -> tuple[int, str, str]:
    capsys.readouterr()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("sys.stdin", io.StringIO(stdin))
        code = main(list(argv), settings)
    out, err = capsys.readouterr()
    return code, out, err


def test_users_and_tokens_from_the_command_line(
    cli_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    s = cli_settings
    assert run(s, capsys, "users", "create", "root", "--role", "admin", "--password-stdin",
               stdin=PASSWORD + "\n")[0] == 0  # fmt: skip
    assert run(s, capsys, "users", "create", "pipeline", "--role", "lead", "--service")[0] == 0
    assert run(s, capsys, "datasets", "create", "chat")[0] == 0
    code, out, _ = run(
        s, capsys, "tokens", "create", "--user", "pipeline", "--scope", "read", "--scope",
        "write", "--dataset", "chat", "--expires-days", "30",
    )  # fmt: skip
    assert code == 0
    secret = out.strip()
    assert out == secret + "\n" and secret.startswith("sift_")  # the token alone on stdout
    code, out, _ = run(s, capsys, "users", "list")
    assert out.splitlines() == [
        "pipeline\tlead\tservice\tactive",
        "root\tadmin\tperson\tactive",
    ]
    code, out, _ = run(s, capsys, "tokens", "list")
    (line,) = out.splitlines()
    fields = line.split("\t")
    assert fields[1:5] == [secret[:11] + "…", "pipeline", "read,write", "chat"]
    assert secret not in out

    with TestClient(create_app(s)) as api:
        api.headers["Authorization"] = f"Bearer {secret}"
        assert [d["slug"] for d in api.get("/api/v1/datasets").json()] == ["chat"]
        audit_denied = api.get("/api/v1/audit")
        assert audit_denied.status_code == 403

    assert run(s, capsys, "tokens", "revoke", fields[0])[0] == 0
    with TestClient(create_app(s)) as api:
        api.headers["Authorization"] = f"Bearer {secret}"
        assert api.get("/api/v1/me").status_code == 401


def test_membership_roles_and_passwords(
    cli_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    s = cli_settings
    run(s, capsys, "users", "create", "ann", "--role", "annotator", "--password-stdin",
        stdin=PASSWORD)  # fmt: skip
    run(s, capsys, "datasets", "create", "chat")
    code, out, _ = run(s, capsys, "users", "grant", "ann", "--dataset", "chat")
    assert (code, out) == (0, "ann is a member of chat\n")
    code, out, _ = run(s, capsys, "users", "revoke", "ann", "--dataset", "chat")
    assert (code, out) == (0, "ann is not a member of chat\n")
    assert run(s, capsys, "users", "set-role", "ann", "lead")[2] == ""
    assert run(s, capsys, "users", "disable", "ann")[1] == "ann disabled\n"
    code, _, err = run(s, capsys, "users", "set-password", "ann", "--password-stdin", stdin="x")
    assert code == 2 and "at least 10 characters" in err
    code, _, err = run(s, capsys, "users", "grant", "nobody", "--dataset", "chat")
    assert code == 2 and "no user" in err


def test_refusals_are_clear(cli_settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    s = cli_settings
    code, _, err = run(s, capsys, "users", "create", "root", "--role", "admin")
    assert code == 2 and "--password-stdin" in err  # stdin is not a terminal in tests
    code, _, err = run(s, capsys, "users", "create", "Bad Name", "--role", "admin",
                       "--password-stdin", stdin=PASSWORD)  # fmt: skip
    assert code == 2 and "username" in err
    code, _, err = run(s, capsys, "tokens", "create", "--user", "ghost", "--scope", "read")
    assert code == 2 and "no user 'ghost'" in err
