"""Storing examples: dedup, upsert by external id, search index, keyset pages."""

from sqlalchemy.orm import Session

from app import repositories
from app.repositories import ExampleFilters
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
