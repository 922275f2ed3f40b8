#!/usr/bin/env python3
"""Ingest benchmark: CLI import and REST push of N synthetic examples, on Postgres and SQLite,
beside a plain Postgres COPY of the same rows measured in the same run.

    .venv/bin/python bench/ingest.py [N] [--backends postgres,sqlite] [--push-n M]

Data: ../shared/bench/gen_data.py N 42 (alpaca-like JSONL; ~0.5% duplicates, ~20% Chinese).
Prints examples/s, peak memory of the import (the whole process tree, sampled), the CPU time
an example costs in Sift's processes and in the Postgres backend, the time until an imported
example is searchable, and checks the search count of the marker word.
"""

import argparse
import http.client
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
GEN = ROOT.parent / "shared" / "bench" / "gen_data.py"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PY = sys.executable
SIFT = [PY, "-m", "app"]


def generate(n: int, work: Path) -> tuple[Path, dict[str, int]]:
    """The synthetic file (cached by N) and gen_data's own counts."""
    path, meta = work / f"gen_{n}.jsonl", work / f"gen_{n}.json"
    if not path.exists():
        if not GEN.exists():
            sys.exit(f"{GEN} not found: the benchmark needs ../shared/bench/gen_data.py")
        with path.open("wb") as out:
            info = subprocess.run([PY, str(GEN), str(n), "42"], stdout=out, stderr=subprocess.PIPE)
        meta.write_text(info.stderr.decode().strip().splitlines()[-1])
    return path, json.loads(meta.read_text())


def fresh_url(backend: str, name: str, work: Path) -> str:
    if backend == "sqlite":
        db = work / f"{name}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(str(db) + suffix).unlink(missing_ok=True)
        return f"sqlite:///{db}"
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql://postgres@127.0.0.1:5432/{name}"


def sift(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [*SIFT, *args], env=env, input=stdin, capture_output=True, text=True, cwd=ROOT
    )
    if done.returncode != 0:
        sys.exit(f"sift {' '.join(args)} failed:\n{done.stderr}")
    return done.stdout


def tree_rss_kb(pid: int) -> int:
    """Resident memory of a process and all its descendants, in kB."""
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        try:
            status = Path(f"/proc/{p}/status").read_text()
            rss = next(line for line in status.splitlines() if line.startswith("VmRSS"))
            total += int(rss.split()[1])
            children = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except (OSError, StopIteration):
            continue
        stack.extend(int(c) for c in children)
    return total


def plain_copy(path: Path, n: int) -> float:
    """rows/s of COPY of the same rows into a plain table (no indexes), from Python."""
    import psycopg

    url = fresh_url("postgres", "sift_bench_copy", Path(tempfile.gettempdir()))
    cols = ["id", "instruction", "input", "output", "source", "language", "category", "created_at"]
    with psycopg.connect(url) as conn, path.open(encoding="utf-8") as lines:
        conn.execute(f"CREATE TABLE plain ({', '.join(c + ' text' for c in cols)})")
        start = time.perf_counter()
        with conn.cursor().copy(f"COPY plain ({', '.join(cols)}) FROM STDIN") as copy:
            for line in lines:
                row = json.loads(line)
                copy.write_row([row[c] for c in cols])
        conn.commit()
        return n / (time.perf_counter() - start)


def search_count(env: dict[str, str], url: str, word: str) -> tuple[int, float]:
    """How many stored examples the search finds for a word, and how long it took."""
    code = (
        "import sys, time\n"
        "from app.db import make_engine, make_sessionmaker\n"
        "from app import repositories\n"
        "s = make_sessionmaker(make_engine(sys.argv[1]))()\n"
        "ds = repositories.get_dataset(s, 'bench')\n"
        "t = time.perf_counter()\n"
        "n = repositories.count_examples(s, ds.id, repositories.ExampleFilters(q=sys.argv[2]))\n"
        "print(n, time.perf_counter() - t)\n"
    )
    out = subprocess.run(
        [PY, "-c", code, url, word], env=env, capture_output=True, text=True, cwd=ROOT, check=True
    ).stdout.split()
    return int(out[0]), float(out[1])


def bench_import(backend: str, path: Path, n: int, work: Path, word: str) -> dict[str, float]:
    url = fresh_url(backend, "sift_bench_import", work)
    env = {**os.environ, "SIFT_DATABASE_URL": url, "SIFT_HOME": str(work / "home")}
    sift(env, "db", "upgrade")
    sift(env, "datasets", "create", "bench")
    import psycopg

    peak = 0
    backends: dict[int, float] = {}
    # One connection for the whole run (pg_stat_activity is on the server, any database).
    admin = psycopg.connect(PG_ADMIN, autocommit=True) if backend == "postgres" else None
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.Popen(
        [*SIFT, "import", str(path), "--dataset", "bench", "--quiet"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    while proc.poll() is None:
        peak = max(peak, tree_rss_kb(proc.pid))
        if admin is not None:
            backends.update(backend_cpu(admin, "sift_bench_import"))
        time.sleep(0.2)
    elapsed = time.perf_counter() - start
    if admin is not None:
        admin.close()
    out, err = proc.communicate()
    if proc.returncode != 0:
        sys.exit(f"import failed:\n{err}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    python_cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    # The index is written in each batch's transaction: searchable as soon as the batch commits.
    found, search_s = search_count(env, url, word)
    return {
        "rate": n / elapsed,
        "seconds": elapsed,
        "peak_mb": peak / 1024,
        "found": found,
        "search_s": search_s,
        "summary": out.strip(),
        "python_us": python_cpu / n * 1e6,
        "db_us": sum(backends.values()) / n * 1e6,
    }


def backend_cpu(admin: Any, database: str) -> dict[int, float]:
    """CPU seconds used so far by each Postgres backend serving `database` (this machine's
    server only: read from /proc)."""
    pids = admin.execute(
        "SELECT pid FROM pg_stat_activity WHERE datname = %s", (database,)
    ).fetchall()
    found = {}
    for (pid,) in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        found[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bench_push(backend: str, path: Path, n: int, work: Path, clients: int) -> dict[str, float]:
    url = fresh_url(backend, "sift_bench_push", work)
    env = {
        **os.environ,
        "SIFT_DATABASE_URL": url,
        "SIFT_HOME": str(work / "home_push"),
        "SIFT_RUN_WORKER": "false",
    }
    sift(env, "db", "upgrade")
    sift(env, "datasets", "create", "bench")
    sift(env, "users", "create", "pusher", "--role", "lead", "--service")
    token = sift(env, "tokens", "create", "--user", "pusher", "--scope", "write").strip()
    port = free_port()
    workers = "2" if backend == "postgres" else "1"
    server = subprocess.Popen(
        [*SIFT, "serve", "--port", str(port), "--workers", workers],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        lines = path.read_text(encoding="utf-8").splitlines()[:n]
        batches = [
            ("[" + ",".join(lines[i : i + 1000]) + "]").encode() for i in range(0, len(lines), 1000)
        ]
        created = [0]
        lock = threading.Lock()

        def client(mine: list[bytes]) -> None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            for body in mine:
                conn.request(
                    "POST",
                    "/api/v1/datasets/bench/examples:bulk",
                    body,
                    {"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
                )
                response = conn.getresponse()
                raw = response.read()
                if response.status != 200:
                    raise SystemExit(f"push failed: {response.status} {raw[:500]!r}")
                data = json.loads(raw)
                with lock:
                    created[0] += data["created"]

        failures: list[BaseException] = []

        def guarded(mine: list[bytes]) -> None:
            try:
                client(mine)
            except BaseException as exc:  # a thread's exception would vanish otherwise
                failures.append(exc)

        threads = [
            threading.Thread(target=guarded, args=(batches[i::clients],)) for i in range(clients)
        ]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - start
        if failures:
            raise SystemExit(f"{backend} push failed: {failures[0]}")
    finally:
        server.terminate()
        server.wait()
    return {
        "rate": len(lines) / elapsed,
        "seconds": elapsed,
        "created": created[0],
        "merge_s": merge_pending(url) if backend == "postgres" else 0.0,
    }


def merge_pending(url: str) -> float:
    """Seconds to merge what the pushes left in the search index's pending list: searches
    already find it there, and the worker's sweep would merge it within 30 s (here it is off,
    so the figure counts all of the index's work)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        start = time.perf_counter()
        conn.execute("SELECT gin_clean_pending_list('ix_examples_search'::regclass)")
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", type=int, nargs="?", default=100_000)
    parser.add_argument("--backends", default="postgres,sqlite")
    parser.add_argument("--push-n", type=int, help="examples to push (default: min(N, 100000))")
    parser.add_argument("--clients", type=int, default=2, help="concurrent push clients")
    parser.add_argument("--skip-push", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.gettempdir()) / "sift-bench"
    work.mkdir(exist_ok=True)
    path, meta = generate(args.n, work)
    size_mb = path.stat().st_size / 1e6
    print(
        f"data: {args.n} examples, {size_mb:.0f} MB ({meta['duplicates']} duplicates, "
        f"{meta['zh']} Chinese, {meta['search_hits']} with '{meta['search_word']}'); "
        f"{os.cpu_count()} cores"
    )
    if "postgres" in args.backends:
        print(f"postgres plain COPY of the same rows: {plain_copy(path, args.n):,.0f} rows/s")
    for backend in args.backends.split(","):
        r = bench_import(backend, path, args.n, work, meta["search_word"])
        print(
            f"{backend} CLI import: {r['rate']:,.0f} examples/s ({r['seconds']:.1f} s), "
            f"peak memory {r['peak_mb']:.0f} MB (process tree); search index written in "
            f"the same transaction (searchable at commit); '{meta['search_word']}' finds "
            f"{r['found']} in {r['search_s'] * 1000:.0f} ms"
        )
        cpu = f"CPU per example: {r['python_us']:.0f} µs in Sift's processes"
        if backend == "postgres":
            cpu += f", {r['db_us']:.0f} µs in the Postgres backend"
        # The share of the machine's cores those two kept busy: near 100%, the import is
        # bound by the CPU it spends, and only spending less makes it faster.
        busy = (r["python_us"] + r["db_us"]) * args.n / 1e6 / (r["seconds"] * (os.cpu_count() or 1))
        cpu += f"; together {busy:.0%} of the {os.cpu_count()} cores"
        print(f"    {cpu}\n    {r['summary']}")
        if not args.skip_push:
            m = args.push_n or min(args.n, 100_000)
            p = bench_push(backend, path, m, work, args.clients)
            print(
                f"{backend} REST push: {p['rate']:,.0f} examples/s ({m} in batches of 1000, "
                f"{args.clients} clients, {p['seconds']:.1f} s, {p['created']} created)"
            )
            if backend == "postgres":
                whole = m / (p["seconds"] + p["merge_s"])
                print(
                    f"    then the pending search entries merged in {p['merge_s']:.1f} s: "
                    f"{whole:,.0f} examples/s counting that merge"
                )
    shutil.rmtree(work / "home", ignore_errors=True)


if __name__ == "__main__":
    main()
