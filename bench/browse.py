#!/usr/bin/env python3
"""Browse and search benchmark: how long the examples API takes to answer over the examples
that bench/ingest.py imported, on Postgres and SQLite.

    .venv/bin/python bench/ingest.py N --skip-push      # imports N examples, keeps the databases
    .venv/bin/python bench/browse.py [--backends postgres,sqlite] [--runs 7]

Each request goes through HTTP to `sift serve` with a read token, as a client's would. The
figure printed is the median of the runs after one warm-up request, with the slowest run.
Postgres' table is first vacuumed and analysed, as autovacuum does after a large insert.
For scale: Label Studio and doccano searched one word over 100,000 examples in 0.6-1.6 s and
served a page in 0.25-1 s on the same kind of machine.
"""

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest import PG_ADMIN, ROOT, SIFT, free_port, sift

WORK = Path(tempfile.gettempdir()) / "sift-bench"  # where bench/ingest.py leaves its data
QUERIES = [
    ("first page", {}),
    ("page from the middle (cursor)", {"cursor": "MIDDLE"}),
    ("status and language filters", {"status": "pending", "language": "zh"}),
    ("a common word: the", {"q": "the"}),
    ("its next page (cursor)", {"q": "the", "cursor": "NEXT"}),
    ("a rare word: quokka", {"q": "quokka"}),
    ("a Chinese word: 学生", {"q": "学生"}),
    ("a Chinese word: 科学家, language zh", {"q": "科学家", "language": "zh"}),
    ("two words: the quokka", {"q": "the quokka"}),
    ("a word nowhere: zyzzyva", {"q": "zyzzyva"}),
]


def database_url(backend: str) -> str:
    if backend == "sqlite":
        db = WORK / "sift_bench_import.db"
        if not db.exists():
            sys.exit(f"{db} not found: run bench/ingest.py N --backends sqlite first")
        return f"sqlite:///{db}"
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        found = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = 'sift_bench_import'"
        ).fetchone()
    if found is None:
        sys.exit("database sift_bench_import not found: run bench/ingest.py N first")
    url = "postgresql://postgres@127.0.0.1:5432/sift_bench_import"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE) examples")
    return url


def request(
    conn: http.client.HTTPConnection, token: str, params: dict[str, str]
) -> tuple[float, Any]:
    path = "/api/v1/datasets/bench/examples?" + urlencode({"limit": "50", **params})
    start = time.perf_counter()
    conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
    response = conn.getresponse()
    raw = response.read()
    elapsed = time.perf_counter() - start
    if response.status != 200:
        sys.exit(f"GET {path} failed: {response.status} {raw[:300]!r}")
    return elapsed, json.loads(raw)


def middle_cursor(env: dict[str, str]) -> str:
    code = (
        "import sys\n"
        "from sqlalchemy import func, select\n"
        "from app.db import make_engine, make_sessionmaker\n"
        "from app import repositories\n"
        "from app.models import Example\n"
        "s = make_sessionmaker(make_engine(sys.argv[1]))()\n"
        "ds = repositories.get_dataset(s, 'bench')\n"
        "low, high = s.execute(select(func.min(Example.id), func.max(Example.id))"
        ".where(Example.dataset_id == ds.id)).one()\n"
        "print(repositories.encode_cursor((low + high) // 2))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, env["SIFT_DATABASE_URL"]],
        env=env,
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    return done.stdout.strip()


def bench(backend: str, runs: int) -> None:
    env = {
        **os.environ,
        "SIFT_DATABASE_URL": database_url(backend),
        "SIFT_HOME": str(WORK / "home_browse"),
        "SIFT_RUN_WORKER": "false",
    }
    users = sift(env, "users", "list")
    if "browser-bench" not in users:
        sift(env, "users", "create", "browser-bench", "--role", "lead", "--service")
    token = sift(env, "tokens", "create", "--user", "browser-bench", "--scope", "read").strip()
    cursor = middle_cursor(env)
    port = free_port()
    server = subprocess.Popen(
        [*SIFT, "serve", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        for _ in range(100):
            try:
                request(conn, token, {"limit": "1"})
                break
            except (OSError, http.client.HTTPException):
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                time.sleep(0.1)
        _, everything = request(conn, token, {"limit": "1"})
        about = "" if everything["total_exact"] else "about "
        print(f"{backend}: {about}{everything['total']:,} examples in dataset 'bench'")
        for label, params in QUERIES:
            if params.get("cursor") == "MIDDLE":
                params = {**params, "cursor": cursor}
            elif params.get("cursor") == "NEXT":  # the next page of the same query
                first = {k: v for k, v in params.items() if k != "cursor"}
                params = {**params, "cursor": request(conn, token, first)[1]["next"]}
            request(conn, token, params)  # warm-up
            times, body = [], None
            for _ in range(runs):
                elapsed, body = request(conn, token, params)
                times.append(elapsed)
            assert body is not None
            total = f"{body['total']:,}" + ("" if body["total_exact"] else " (estimate)")
            print(
                f"    {label:36s} median {statistics.median(times) * 1000:6.0f} ms, "
                f"slowest {max(times) * 1000:5.0f} ms; {len(body['items'])} items, "
                f"total {total}"
            )
    finally:
        server.terminate()
        server.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="postgres,sqlite")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    for backend in args.backends.split(","):
        bench(backend, args.runs)


if __name__ == "__main__":
    main()
