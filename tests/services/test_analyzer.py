"""The search analyzer, and the two ways its tsvector reaches Postgres agreeing."""

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from app import repositories
from app.repositories import ExampleFilters
from app.services import analyzer
from tests.factories import chat, make_dataset, store


def test_words_are_lowercased_and_cjk_runs_become_bigrams() -> None:
    doc = analyzer.analyze(["Hello, WORLD! iPhone手机很好用。我们的数据库", "ＡＢＣ"])
    assert doc.words == ["hello", "world", "iphone", "abc"]
    assert doc.grams == [
        "手机",
        "机很",
        "很好",
        "好用",
        "_",
        "我们",
        "们的",
        "的数",
        "数据",
        "据库",
    ]


def test_query_units_are_words_and_cjk_phrases() -> None:
    assert analyzer.query_units("数据库 Hello e-mail 数据库") == [
        ["hello"],
        ["e"],
        ["mail"],
        ["数据", "据库"],
    ]


def test_long_words_are_cut_into_pieces_the_same_way_in_texts_and_queries() -> None:
    """Words longer than MAX_TOKEN_CHARS (a base64 blob, a run-on URL) are indexed as pieces,
    in ASCII texts and others alike, and a query for the whole word asks for the pieces."""
    size = analyzer.MAX_TOKEN_CHARS
    long_word = "".join(chr(ord("a") + i % 26) for i in range(2 * size + 5))
    pieces = [long_word[:size], long_word[size : 2 * size], long_word[2 * size :]]
    assert analyzer.analyze([f"see {long_word.upper()} now"]).words == ["see", *pieces, "now"]
    assert analyzer.analyze([f"é {long_word}"]).words == ["é", *pieces]  # not the ASCII path
    assert analyzer.analyze(["x" * size]).words == ["x" * size]  # exactly the limit: whole
    assert analyzer.query_units(long_word) == [[p] for p in pieces]


def tsvector_text(doc: analyzer.Analyzed) -> str:
    """The same tsvector as Postgres' text input: an independent reference for the binary."""
    words = " ".join(f"'{w}'" for w in doc.index_words())
    positions: dict[str, list[int]] = {}
    for pos, gram in enumerate(doc.grams[: analyzer.MAX_POSITION], start=1):
        if gram != analyzer.GAP:
            positions.setdefault(gram, []).append(pos)
    grams = " ".join(f"'{g}':{','.join(map(str, p[:256]))}" for g, p in positions.items())
    return f"{words} {grams}".strip()


SAMPLES = [
    ["plain english words, repeated words words"],
    ["数据库是存储数据的系统。数据", "mixed 中文 and english 123"],
    ["", "a"],
    ["長い日本語のテキスト", "한국어 문장입니다"],
]


@pytest.mark.parametrize("texts", SAMPLES)
def test_binary_and_text_tsvectors_are_the_same_in_postgres(
    session: Session, backend: str, texts: list[str]
) -> None:
    if backend != "postgres":
        pytest.skip("tsvector is Postgres-only")
    doc = analyzer.analyze(texts)
    ds = make_dataset(session)
    (example_id,) = store(session, ds, chat(" ".join(texts) or "x", "y")).created
    session.execute(
        text("UPDATE examples SET search_vector = CAST(:v AS tsvector) WHERE id = :id"),
        {"v": tsvector_text(doc), "id": example_id},
    )
    stored = session.execute(
        text("SELECT search_vector::text FROM examples WHERE id = :id"), {"id": example_id}
    ).scalar_one()
    connection = session.connection().connection.driver_connection
    assert connection is not None
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE tsv_binary (v tsvector)")
        with cursor.copy("COPY tsv_binary (v) FROM STDIN (FORMAT BINARY)") as copy:
            data = analyzer.to_tsvector_binary(doc)
            copy.write(b"PGCOPY\n\xff\r\n\x00" + b"\x00" * 8)
            copy.write(b"\x00\x01" + len(data).to_bytes(4, "big") + data + b"\xff\xff")
        cursor.execute("SELECT v::text FROM tsv_binary")
        row = cursor.fetchone()
    assert row is not None and row[0] == stored


def test_a_huge_example_is_stored_and_searchable_by_its_beginning(session: Session) -> None:
    ds = make_dataset(session)
    many_words = " ".join(f"w{i:06d}x" for i in range(120_000))  # ~1.1 MB of distinct words
    (example_id,) = store(session, ds, chat("quokka " + many_words, "wombat")).created

    def found(q: str) -> list[int]:
        page = repositories.page_examples(session, ds.id, ExampleFilters(q=q), None, 10)
        return [e.id for e in page.items]

    assert found("quokka") == found("w000001x") == [example_id]
    assert found("wombat") == []  # past the index's budget, on both databases alike


def test_greek_sigma_variants_are_capped_for_a_whole_query() -> None:
    """A query of a hundred six-sigma words made 7,105 tsquery operands: 0.3 s a search."""
    word = "σασασασασασα"  # six sigmas: 64 variants
    one = analyzer.to_tsquery_literal(analyzer.query_units(word))
    assert one.count("'") == 2 * 64 and "'ςαςαςαςαςαςα'" in one
    many = analyzer.to_tsquery_literal(analyzer.query_units(" ".join(word + c for c in "abcdefgh")))
    assert many.count("'") // 2 <= analyzer.MAX_SIGMA_VARIANTS + 8
