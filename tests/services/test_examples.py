"""Storing examples: dedup, upsert by external id, search index, keyset pages."""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from app import repositories
from app.models import Example
from app.models.types import utcnow
from app.repositories import ExampleFilters, Total
from app.repositories import examples as examples_repo
from tests.factories import chat, make_dataset, store


def search_ids(session: Session, dataset_id: int, q: str) -> list[int]:
    page = repositories.page_examples(session, dataset_id, ExampleFilters(q=q), None, 200)
    return [e.id for e in page.items]


def test_same_content_is_stored_once(session: Session) -> None:
    ds = make_dataset(session)
    first = store(session, ds, chat("Hi", "Hello"), chat(" Hi ", "Hello"))
    again = store(session, ds, chat("Hi", "Hello", metadata={"source": "other"}))
    assert len(first.created) == 1
    assert [i for i, _ in first.duplicates] == [1]
    assert again.created == [] and len(again.duplicates) == 1


def test_external_id_upserts_and_bumps_version(session: Session) -> None:
    ds = make_dataset(session)
    (example_id,) = store(session, ds, chat("Q", "old answer", external_id="a1")).created
    result = store(session, ds, chat("Q", "new answer", external_id="a1"))
    assert result.updated == [example_id] and result.created == []
    example = repositories.get_example(session, ds.id, example_id)
    assert example is not None
    assert example.messages[1]["content"] == "new answer"
    assert example.version == 2
    assert search_ids(session, ds.id, "new") == [example_id]
    assert search_ids(session, ds.id, "old") == []


def test_external_id_with_same_content_is_unchanged(session: Session) -> None:
    ds = make_dataset(session)
    (a,) = store(session, ds, chat("Q", "A", external_id="a")).created
    (b,) = store(session, ds, chat("Q2", "A2", external_id="b")).created
    again = store(session, ds, chat("Q", "A", external_id="a"), chat("Q", "A", external_id="b"))
    assert again.unchanged == [a]
    assert [i for i, _ in again.duplicates] == [1]  # b may not take a's content
    example = repositories.get_example(session, ds.id, b)
    assert example is not None and example.messages[0]["content"] == "Q2"


def test_an_external_id_given_twice_in_a_batch_keeps_the_later_as_across_batches(
    session: Session,
) -> None:
    """The second item with an id was dropped as a duplicate when both fell in one batch, but
    replaced the first when they fell in two: what a file stored hung on its batch size. The
    later item now wins either way."""
    ds = make_dataset(session)
    items = [
        chat("Q", "first answer", external_id="a"),
        chat("Other", "B", external_id="b"),
        chat("Q", "second answer", external_id="a"),
        chat("Q", "third answer", external_id="a"),
    ]
    result = store(session, ds, *items)
    assert len(result.created) == 2
    (a,) = [i for i in result.created if session.get_one(Example, i).external_id == "a"]
    assert [i for i, _ in result.duplicates] == [0, 2]
    assert result.duplicates[0][1] == "external_id 'a' is given again later: the later item is kept"
    example = repositories.get_example(session, ds.id, a)
    assert example is not None and example.messages[1]["content"] == "third answer"
    assert search_ids(session, ds.id, "third") == [a]
    assert search_ids(session, ds.id, "first") == search_ids(session, ds.id, "second") == []
    # One item a batch: the same content in the end.
    other = make_dataset(session, "one-by-one")
    for item in items:
        store(session, other, item)
    (one,) = [
        e
        for e in session.scalars(select(Example).where(Example.dataset_id == other.id))
        if e.external_id == "a"
    ]
    assert one.messages[1]["content"] == "third answer"
    # A 2,000-item batch of one id is one write, not 2,000 (a file with "id": "0" on every
    # line took 11 s a batch on Postgres).
    many = store(session, ds, *[chat("Q", f"answer {i}", external_id="z") for i in range(2000)])
    assert len(many.created) == 1 and len(many.duplicates) == 1999


def test_an_update_by_external_id_compares_exactly_what_was_given(session: Session) -> None:
    """The content hash ignores metadata, outer whitespace and the Unicode form (to find
    duplicates), and an update that only changed those was reported 'unchanged' and stored
    nothing: a mended trailing newline, a metadata field, an accent's encoding."""
    ds = make_dataset(session)
    (a,) = store(
        session,
        ds,
        chat("Write code", "print(1)\n", external_id="r1", metadata={"category": "draft"}),
    ).created
    changes = [
        chat("Write code", "print(1)", external_id="r1", metadata={"category": "draft"}),
        chat("Write code", "print(1)", external_id="r1", metadata={"category": "final"}),
        chat(
            "Write code", "print(1) # cafe\u0301", external_id="r1", metadata={"category": "final"}
        ),
        chat(
            "Write code", "print(1) # caf\u00e9", external_id="r1", metadata={"category": "final"}
        ),
    ]
    for version, change in enumerate(changes, start=2):
        assert store(session, ds, change).updated == [a]
        session.expire_all()  # the update is SQL: the session's copy is stale
        example = repositories.get_example(session, ds.id, a)
        assert example is not None and example.version == version
        assert example.messages[1]["content"] == change.messages[1].content
        assert example.meta == change.metadata
    assert store(session, ds, changes[-1]).unchanged == [a]
    # As JSON values, the order of keys and 1 against 1.0 are no change, on both databases
    # (SQLite compared the text and bumped the version).
    (b,) = store(session, ds, chat("Q", "A", external_id="b", metadata={"x": 1, "y": 2})).created
    assert store(
        session, ds, chat("Q", "A", external_id="b", metadata={"y": 2, "x": 1.0})
    ).unchanged == [b]


def test_a_chain_of_updates_in_one_batch_goes_in(session: Session) -> None:
    """a=X and b=Y stored, then [a=W, b=X]: b was refused, X being a's content when the batch
    looked; in order, a gives X up first (as two pushes would)."""
    ds = make_dataset(session)
    a, b = store(
        session, ds, chat("X", "x", external_id="a"), chat("Y", "y", external_id="b")
    ).created
    result = store(session, ds, chat("W", "w", external_id="a"), chat("X", "x", external_id="b"))
    assert sorted(result.updated) == [a, b] and result.duplicates == []
    contents = {
        e: repositories.get_example(session, ds.id, e).messages[0]["content"]  # type: ignore[union-attr]
        for e in (a, b)
    }
    assert contents == {a: "W", b: "X"}


def test_a_phrase_past_a_bigrams_256th_occurrence_is_alike_on_both_databases(
    session: Session,
) -> None:
    """Postgres keeps 256 positions of one lexeme, so 数据库 after 256 earlier 数据 was found
    on SQLite only; both databases now agree (the first 256 are searchable on both)."""
    ds = make_dataset(session)
    (late,) = store(session, ds, chat("数据，" * 256 + "数据库", "x")).created
    (early,) = store(session, ds, chat("数据，" * 255 + "数据库", "y")).created
    assert search_ids(session, ds.id, "数据库") == [early]
    assert search_ids(session, ds.id, "数据") == sorted([late, early])


def test_greek_sigmas_are_one_letter_on_both_databases(session: Session) -> None:
    """SQLite's FTS5 folds the final sigma ς to σ; Postgres kept them apart, so 'οδος' found
    ΟΔΟΣ (indexed as 'οδοσ') on SQLite only."""
    ds = make_dataset(session)
    upper, lower = store(session, ds, chat("ΟΔΟΣ ΣΤΗΝ ΠΟΛΗ", "x"), chat("η οδος εδω", "y")).created
    for query in ("οδος", "οδοσ", "ΟΔΟΣ", "Οδος"):
        assert search_ids(session, ds.id, query) == sorted([upper, lower]), query
    assert search_ids(session, ds.id, "στην") == [upper]


def test_same_dataset_only(session: Session) -> None:
    one, two = make_dataset(session, "one"), make_dataset(session, "two")
    (a,) = store(session, one, chat("quokka facts", "They smile")).created
    store(session, two, chat("quokka facts", "They smile"))
    assert search_ids(session, one.id, "quokka") == [a]


def test_search_words_and_chinese_phrases(session: Session) -> None:
    ds = make_dataset(session)
    ids = store(
        session,
        ds,
        chat("Tell me about the Quokka.", "A small marsupial."),
        chat("quokkas are cute", "Yes."),
        chat("请介绍一下数据库", "数据库是存储数据的系统。"),
        chat("数据和仓库", "数据。库存"),
        chat("数据 库", "分开写的"),
    ).created
    assert search_ids(session, ds.id, "quokka") == [ids[0]]
    assert search_ids(session, ds.id, "QUOKKA marsupial") == [ids[0]]
    assert search_ids(session, ds.id, "数据库") == [ids[2]]
    assert search_ids(session, ds.id, "数据") == [ids[2], ids[3], ids[4]]
    assert search_ids(session, ds.id, "nothing-here") == []
    assert search_ids(session, ds.id, "数据库 quokka") == []
    assert search_ids(session, ds.id, "库存") == [ids[3]]


def test_keyset_pages_cover_everything_once(session: Session) -> None:
    ds = make_dataset(session)
    ids = store(session, ds, *[chat(f"question {i}", f"answer {i}") for i in range(7)]).created
    seen: list[int] = []
    after = None
    while True:
        page = repositories.page_examples(session, ds.id, ExampleFilters(), after, 3)
        seen += [e.id for e in page.items]
        if page.next is None:
            break
        after = repositories.decode_cursor(page.next)
    assert seen == ids


def test_a_batch_mixing_new_stored_and_updated_items_reports_each(session: Session) -> None:
    """New items, items whose content is stored and an item naming a stored external id, in
    one batch: each is reported as what it is (Postgres copies new-only batches directly and
    sends the others through its staging table; both must agree)."""
    ds = make_dataset(session)
    (kept,) = store(session, ds, chat("stored question", "stored answer")).created
    (named,) = store(session, ds, chat("Q", "old answer", external_id="n1")).created
    result = store(
        session,
        ds,
        chat("fresh one", "answer one"),
        chat("stored question", "stored answer", external_id="other"),
        chat("Q", "new answer", external_id="n1"),
        chat("fresh two", "answer two"),
    )
    assert result.updated == [named]
    assert [i for i, _ in result.duplicates] == [1]
    assert len(result.created) == 2
    assert kept not in result.created
    example = repositories.get_example(session, ds.id, named)
    assert example is not None and example.messages[1]["content"] == "new answer"


def test_new_examples_get_ids_in_batch_order_and_start_pending(session: Session) -> None:
    ds = make_dataset(session)
    store(session, ds, chat("already here", "yes"))
    result = store(
        session,
        ds,
        *[chat(f"question {i}", f"answer {i}") for i in range(50)],
        chat("already here", "yes"),
    )
    assert result.created == sorted(result.created) and len(result.created) == 50
    assert [i for i, _ in result.duplicates] == [50]
    examples = [repositories.get_example(session, ds.id, i) for i in result.created]
    assert [e.messages[0]["content"] for e in examples if e] == [f"question {i}" for i in range(50)]
    assert {(e.status, e.version) for e in examples if e} == {("pending", 1)}
    now = utcnow()
    assert all(e and e.created_at == e.updated_at for e in examples)
    assert all(e and abs(now - e.created_at) < timedelta(minutes=1) for e in examples)
    assert search_ids(session, ds.id, "question")[:50] == result.created


def total(session: Session, dataset_id: int, filters: ExampleFilters, up_to: int) -> Total:
    found = repositories.page_and_total(session, dataset_id, filters, None, 10, up_to)[1]
    assert found is not None
    return found


def test_totals_are_counted_up_to_the_limit_then_estimated_on_postgres(
    session: Session, backend: str
) -> None:
    ds = make_dataset(session)
    store(session, ds, *[chat(f"quokka question {i}", f"answer {i}") for i in range(12)])
    store(session, ds, chat("wombat", "burrows"))
    every, quokka = ExampleFilters(), ExampleFilters(q="quokka")

    assert total(session, ds.id, every, 13) == Total(13, exact=True)
    assert total(session, ds.id, quokka, 12) == Total(12, exact=True)
    assert total(session, ds.id, ExampleFilters(q="wombat"), 5) == Total(1, exact=True)
    assert total(session, ds.id, ExampleFilters(q="platypus"), 5) == Total(0, exact=True)

    # Past the limit a search's total is estimated from a sample (of the table's pages on
    # Postgres, of the matches on SQLite), which for data this small is all of it.
    assert total(session, ds.id, quokka, 5) == Total(12, exact=False)
    both = ExampleFilters(q="quokka", status="pending")
    assert total(session, ds.id, both, 5) == Total(12, exact=False)
    assert total(session, ds.id, ExampleFilters(q="quokka", status="accepted"), 5) == Total(
        0, exact=True
    )
    # Other filters: SQLite counts them exactly (its indexes answer), Postgres estimates.
    assert total(session, ds.id, every, 5) == Total(13, exact=backend == "sqlite")


@pytest.mark.parametrize(("up_to", "probe"), [(None, 2), (None, 1000), (3, 2), (100, 2)])
def test_search_pages_are_the_same_whether_matches_are_few_or_many(
    session: Session, monkeypatch: pytest.MonkeyPatch, up_to: int | None, probe: int
) -> None:
    # Few matches are paged from their ids; many by walking in id order, and then the next
    # cursors say so. Either way each page follows on from the last.
    monkeypatch.setattr(examples_repo, "PAGE_PROBE", probe)
    ds = make_dataset(session)
    texts = [f"quokka {i}" if i % 3 == 0 else f"wombat {i}" for i in range(20)]
    ids = store(session, ds, *[chat(t, "answer") for t in texts]).created
    expected = [i for i, t in zip(ids, texts, strict=True) if t.startswith("quokka")]
    seen: list[int] = []
    after, many = None, False
    while True:
        page, found = repositories.page_and_total(
            session, ds.id, ExampleFilters(q="quokka"), after, 3, up_to, many
        )
        seen += [e.id for e in page.items]
        if up_to is not None and up_to >= len(expected):
            assert found == Total(len(expected), exact=True)
        if page.next is None:
            break
        after, many = repositories.read_cursor(page.next)
    assert seen == expected


def test_sqlite_estimates_a_search_from_a_scrambled_sample_of_its_matches(
    session: Session, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every other example matches: a sample of every n-th id would see all of them or none
    (a total twice too high, or the floor); a scrambled sample sees about one in n."""
    if backend != "sqlite":
        pytest.skip("Postgres estimates from a sample of the table's pages")
    monkeypatch.setattr(examples_repo, "FTS_SAMPLE", 100)
    ds = make_dataset(session)
    texts = [f"quokka {i}" if i % 2 else f"wombat {i}" for i in range(2000)]
    store(session, ds, *[chat(t, "answer") for t in texts])
    estimate = total(session, ds.id, ExampleFilters(q="quokka"), 100)
    assert not estimate.exact and 700 <= estimate.value <= 1300


@pytest.mark.parametrize("walk", [0, 20_000])
def test_a_search_narrowed_by_status_finds_the_same_either_way(
    session: Session, monkeypatch: pytest.MonkeyPatch, walk: int
) -> None:
    # SQLite walks a word's matches, or (for a common word) the status index.
    monkeypatch.setattr(examples_repo, "FTS_WALK", walk)
    ds = make_dataset(session)
    ids = store(session, ds, *[chat(f"quokka {i}", "answer") for i in range(9)]).created
    session.execute(update(Example).where(Example.id.in_(ids[::3])).values(status="accepted"))
    accepted = ExampleFilters(q="quokka", status="accepted")
    page, found = repositories.page_and_total(session, ds.id, accepted, None, 2, 100)
    assert [e.id for e in page.items] == ids[::3][:2] and found == Total(3, exact=True)
    assert page.next is not None
    after = repositories.decode_cursor(page.next)
    rest = repositories.page_and_total(session, ds.id, accepted, after, 2, 100)[0]
    assert [e.id for e in rest.items] == ids[::3][2:] and rest.next is None


@pytest.mark.parametrize("counted", [True, False])
def test_the_duplicate_check_probes_the_key_whatever_the_statistics_say(
    session: Session, backend: str, counted: bool
) -> None:
    """A large import outgrows the planner's statistics before they are refreshed: here they
    put the dataset at 5 examples (`counted`), or know nothing of it, when it holds 20,000.
    The checks of a batch of 2,000 content hashes or external ids must still look each one
    up in its unique key, not read the dataset's rows (they did, for every batch or for every
    item: 50 ms to seconds a batch)."""
    if backend != "postgres":
        pytest.skip("the check runs on the binary COPY path, Postgres only")
    from sqlalchemy import text

    big, small = make_dataset(session, "big"), make_dataset(session, "small")
    insert = text(
        "INSERT INTO examples (dataset_id, content_hash, external_id, messages, metadata,"
        " status, version, created_at, updated_at) SELECT :d, md5(:tag || g), :tag || g, '[]',"
        " '{}', 'pending', 1, now(), now() FROM generate_series(1, :n) AS g"
    )
    session.execute(insert, {"d": big.id, "tag": "big", "n": 5000})
    if counted:
        session.execute(insert, {"d": small.id, "tag": "small", "n": 5})
    session.execute(text("ANALYZE examples"))
    session.execute(insert, {"d": small.id, "tag": "more", "n": 20_000})

    stored = [f"more{i}" for i in range(1, 11)]
    hashes = [f"{i:032x}" for i in range(1990)] + [
        session.execute(text("SELECT md5(:v)"), {"v": v}).scalar_one() for v in stored
    ]
    ids = [f"new{i}" for i in range(1990)] + stored
    connection = session.connection().connection.driver_connection
    assert connection is not None
    checks = [
        (examples_repo.STORED_HASHES, hashes, "uq_examples_content_hash_dataset_id"),
        (examples_repo.KNOWN_EXTERNAL_IDS, ids, "uq_examples_external_id_dataset_id"),
    ]
    for query, values, key in checks:
        with connection.cursor() as cursor:
            cursor.execute(query, (values, small.id))
            assert len(cursor.fetchall()) == 10  # the ten stored ones are found
            cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + query, (values, small.id))
            ((plan,),) = cursor.fetchall()
        scans = [node for node in _nodes(plan[0]["Plan"]) if node.get("Relation Name")]
        assert [node.get("Index Name") for node in scans] == [key]
        filtered = scans[0].get("Rows Removed by Filter", 0) * scans[0]["Actual Loops"]
        assert filtered == 0  # no other dataset holds these


@contextmanager
def _plans(session: Session) -> Iterator[list[dict[str, Any]]]:
    """The JSON plans (auto_explain, ANALYZE) of every statement run inside the block, in
    the test's transaction; skips where this database user cannot load auto_explain."""
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    try:
        with session.begin_nested():
            session.execute(text("LOAD 'auto_explain'"))  # for this connection
    except DBAPIError:
        pytest.skip("auto_explain cannot be loaded by this database user")
    for setting, value in {
        "log_min_duration": "0",
        "log_analyze": "on",
        "log_format": "json",
        "log_level": "notice",  # sent to this client
        "log_nested_statements": "on",
    }.items():
        session.execute(text(f"SET LOCAL auto_explain.{setting} = {value}"))
    connection = session.connection().connection.driver_connection
    assert connection is not None
    plans: list[dict[str, Any]] = []

    def keep(notice: Any) -> None:
        message = notice.message_primary
        if "plan:" in message:
            plans.append(json.loads(message.split("plan:", 1)[1]))

    connection.add_notice_handler(keep)
    try:
        yield plans
    finally:
        connection.remove_notice_handler(keep)
        session.execute(text("SET LOCAL auto_explain.log_min_duration = -1"))


def test_a_bulk_write_does_not_compile_its_duplicate_check(session: Session, backend: str) -> None:
    """Statistics that do not know a dataset's rows cost the check of 2,000 hashes at over
    500,000, past the server's JIT thresholds, and Postgres compiled it with inlining and
    optimisation: 60-140 ms a batch, for a lookup of a few milliseconds. A bulk write turns
    JIT off for its transaction before its first statement, whatever the costs (here every
    plan is past the thresholds)."""
    if backend != "postgres":
        pytest.skip("JIT compilation is Postgres'")
    from sqlalchemy import text

    if not session.execute(text("SELECT pg_jit_available()")).scalar_one():
        pytest.skip("this Postgres has no JIT to turn off")
    for setting in ("jit_above_cost", "jit_inline_above_cost", "jit_optimize_above_cost"):
        session.execute(text(f"SET LOCAL {setting} = 0"))
    ds = make_dataset(session)
    connection = session.connection().connection.driver_connection
    assert connection is not None
    with connection.cursor() as cursor:  # what the check cost before, with these thresholds
        cursor.execute(
            "EXPLAIN (ANALYZE, FORMAT JSON) " + examples_repo.STORED_HASHES,
            ([f"{i:032x}" for i in range(2000)], ds.id),
        )
        ((plan,),) = cursor.fetchall()
    assert "JIT" in plan[0]
    with _plans(session) as plans:
        store(session, ds, *[chat(f"question {i}", "an answer") for i in range(3)])
    checks = [p for p in plans if "unnest" in p["Query Text"]]
    assert checks  # the duplicate check ran, and auto_explain saw it
    assert [p["Query Text"] for p in plans if "JIT" in p] == []


@pytest.fixture
def examples_vacuumed_after(engine: Engine, backend: str) -> Iterator[None]:
    """VACUUM the examples table once the test's transaction is rolled back (this fixture is
    asked for before `session`, so it is torn down after it): rows rolled back still take
    their pages, and pages that large would change what other tests' estimates sample. A
    lock timeout turns a wrong order (the test's transaction still open) into an error
    rather than a wait without end."""
    yield
    if backend == "postgres":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("SET lock_timeout = '10s'")
            connection.exec_driver_sql("VACUUM examples")


def test_an_update_batch_reads_only_the_keys_it_probes(
    examples_vacuumed_after: None, session: Session, backend: str
) -> None:
    """Re-importing examples whose content changed takes the staging path. Here the
    statistics put the dataset at 5 examples when it holds 41,000, and the batch changes
    1,000 of them. Each statement must find the stored examples through a key, item by item:
    the check that an item's new content is not taken already was an EXISTS, which Postgres
    ran as one hashed subplan reading every stored hash of the dataset, for every batch
    (44 ms a batch at 30,000 examples in a new database, and growing with the dataset)."""
    if backend != "postgres":
        pytest.skip("the statements under test are Postgres'")
    from sqlalchemy import text

    with _plans(session):
        pass  # skips here, before the rows are written, where auto_explain cannot load
    ds = make_dataset(session)
    originals = [chat(f"question {i}", "first answer", external_id=f"x{i}") for i in range(1000)]
    store(session, ds, *originals[:5])
    session.execute(text("ANALYZE examples"))
    session.execute(
        text(
            "INSERT INTO examples (dataset_id, content_hash, messages, metadata, status,"
            " version, created_at, updated_at) SELECT :d, md5(g::text), :messages, '{}',"
            " 'pending', 1, now(), now() FROM generate_series(1, 40000) AS g"
        ),
        {"d": ds.id, "messages": json.dumps([{"role": "user", "content": "x" * 2000}])},
    )
    store(session, ds, *originals[5:])
    changed = [chat(f"question {i}", "second answer", external_id=f"x{i}") for i in range(1000)]
    with _plans(session) as plans:
        result = store(session, ds, *changed)
    assert len(result.updated) == 1000
    scans = [
        node
        for plan in plans
        for node in _nodes(plan["Plan"])
        if "Scan" in node["Node Type"] and node.get("Relation Name") == "examples"
    ]
    assert scans  # the statements were seen
    for node in scans:
        read = (node["Actual Rows"] + node.get("Rows Removed by Filter", 0)) * node["Actual Loops"]
        assert read <= 2 * len(changed), (node["Node Type"], node.get("Index Name"), read)


def _nodes(node: dict[str, Any]) -> list[dict[str, Any]]:
    return [node, *(n for child in node.get("Plans", []) for n in _nodes(child))]
