"""The dataset list and a dataset's example list: data, search, filters, keyset pages, HTMX."""

from urllib.parse import parse_qs, urlsplit

import pytest
from bs4 import Tag
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session

from app import templating
from app.canonical import CanonicalExample
from app.config import Settings
from app.models import Example
from app.repositories import examples as examples_repo
from app.web import pages
from tests.factories import chat, make_dataset, store
from tests.web.html import attr, classes, one, parse

GUIDELINES = "## Rate\n\n- **Accept** good answers\n- Reject the rest"


def _set_status(session: Session, ids: list[int], status: str) -> None:
    session.execute(update(Example).where(Example.id.in_(ids)).values(status=status))


def _row_ids(soup: Tag) -> list[int]:
    return [int(attr(tr, "data-id")) for tr in soup.select("tr.example-row")]


def test_dataset_list_shows_counts_per_status(client: TestClient, session: Session) -> None:
    ds = make_dataset(session, "chat", name="Chat data", description="Friendly chats")
    ids = store(session, ds, *[chat(f"q{i}", f"a{i}") for i in range(5)]).created
    _set_status(session, ids[:2], "accepted")
    _set_status(session, ids[2:3], "needs_changes")
    make_dataset(session, "empty", name="Empty one")

    response = client.get("/datasets")
    assert response.status_code == 200
    soup = parse(response)
    card = one(soup, "#dataset-chat")
    assert attr(one(card, ".dataset-name a"), "href") == "/datasets/chat"
    assert one(card, ".dataset-name").get_text(strip=True) == "Chat data"
    assert one(card, ".dataset-description").get_text() == "Friendly chats"
    assert one(card, ".dataset-total strong").get_text() == "5"
    counts = {
        attr(li, "data-status"): int(one(li, ".status-count-value").get_text())
        for li in card.select(".status-count")
    }
    assert counts == {"pending": 2, "accepted": 2, "rejected": 0, "needs_changes": 1}
    widths = {classes(r)[0]: float(attr(r, "width")) for r in card.select(".status-bar rect")}
    assert widths == {"seg-pending": 40.0, "seg-accepted": 40.0, "seg-needs_changes": 20.0}
    empty = one(soup, "#dataset-empty")
    assert one(empty, ".dataset-total strong").get_text() == "0"
    assert [classes(r) for r in empty.select(".status-bar rect")] == [["seg-empty"]]
    assert attr(one(soup, "a.json-link"), "href") == "/api/v1/datasets"


def test_dataset_list_without_datasets_says_so(client: TestClient) -> None:
    soup = parse(client.get("/datasets"))
    assert soup.select(".dataset-card") == []
    assert one(soup, ".empty-state h2").get_text() == "No datasets yet"


def test_example_list_shows_rows_and_dataset_details(client: TestClient, session: Session) -> None:
    ds = make_dataset(
        session, "chat", name="Chat", description="Short chats", guidelines=GUIDELINES
    )
    preference = CanonicalExample.model_validate(
        {
            "messages": [{"role": "user", "content": "Pick one"}],
            "alternatives": [
                {"messages": [{"role": "assistant", "content": "A"}], "label": "chosen"},
                {"messages": [{"role": "assistant", "content": "B"}], "label": "rejected"},
            ],
            "external_id": "pref-1",
        }
    )
    first, second = store(
        session, ds, chat("What is a quokka?\nTell me more.", "A marsupial."), preference
    ).created

    soup = parse(client.get("/datasets/chat"))
    assert one(soup, "h1").get_text() == "Chat"
    assert one(soup, ".lead").get_text() == "Short chats"
    guidelines = one(soup, "details.guidelines")
    assert guidelines is not None and not guidelines.has_attr("open")
    assert one(guidelines, ".prose h2").get_text() == "Rate"
    assert one(guidelines, ".prose li strong").get_text() == "Accept"
    assert one(soup, ".result-count strong").get_text() == "2"
    assert _row_ids(soup) == [first, second]
    row = one(soup, f"#example-{first}")
    assert attr(one(row, ".prompt-link"), "href") == f"/datasets/chat/examples/{first}"
    assert one(row, ".prompt-link").get_text() == "What is a quokka? Tell me more."
    assert one(row, ".col-turns").get_text() == "2"
    language = session.get(Example, first).language  # type: ignore[union-attr]
    assert one(row, ".col-lang").get_text(strip=True) == (language or "–")
    assert classes(one(row, ".badge.status")) == ["badge", "status", "status-pending"]
    assert row.select_one(".tag-alternatives") is None
    pref_row = one(soup, f"#example-{second}")
    assert one(pref_row, ".tag-alternatives").get_text() == "2 alternatives"
    assert one(pref_row, ".tag-external").get_text() == "pref-1"
    assert one(pref_row, ".col-turns").get_text() == "1"
    assert attr(one(soup, "#results a.json-link"), "href") == "/api/v1/datasets/chat/examples"
    assert soup.select(".load-more") == []


def test_search_form_works_without_javascript(client: TestClient, session: Session) -> None:
    ds = make_dataset(session, "chat")
    store(session, ds, chat("quokka facts", "They smile"), chat("wombat facts", "Cubes"))
    soup = parse(client.get("/datasets/chat"))
    form = one(soup, "form.filters")
    assert (attr(form, "method"), attr(form, "action")) == ("get", "/datasets/chat")
    assert {attr(f, "name") for f in form.select("input, select")} == {"q", "status", "language"}
    # htmx enhances the same form: same URL, URL pushed, swaps the results block.
    assert (attr(form, "hx-get"), attr(form, "hx-target"), attr(form, "hx-push-url")) == (
        "/datasets/chat",
        "#results",
        "true",
    )
    assert "delay:" in attr(form, "hx-trigger")


def test_a_lone_cjk_character_search_says_what_it_finds(
    client: TestClient, session: Session
) -> None:
    """'中' found 0 in a dataset where 中国 is, and the page said nothing about why."""
    ds = make_dataset(session, "chat")
    (alone, _pair) = store(
        session, ds, chat("中 is a character.", "Yes"), chat("中国很大。", "是的")
    ).created
    soup = parse(client.get("/datasets/chat", params={"q": "中"}))
    assert _row_ids(soup) == [alone]
    note = one(soup, ".search-note").get_text()
    assert note.startswith("中: a single Chinese, Japanese or Korean character is found only")
    for query in ("中国", "quokka", "中国 x"):
        assert parse(client.get("/datasets/chat", params={"q": query})).select(".search-note") == []


def test_search_and_filters_narrow_results(client: TestClient, session: Session) -> None:
    ds = make_dataset(session, "chat")
    quokka, wombat, chinese = store(
        session,
        ds,
        chat("Tell me some interesting facts about the quokka, please.", "They smile"),
        chat("Tell me some interesting facts about the wombat, please.", "Cubes"),
        chat("数据库是什么？请详细解释一下。", "数据库是存储数据的系统。"),
    ).created
    _set_status(session, [wombat], "rejected")

    soup = parse(client.get("/datasets/chat", params={"q": "quokka"}))
    assert _row_ids(soup) == [quokka]
    assert attr(one(soup, "#q"), "value") == "quokka"
    assert attr(one(soup, "#results a.json-link"), "href") == (
        "/api/v1/datasets/chat/examples?q=quokka"
    )
    soup = parse(client.get("/datasets/chat", params={"q": "facts", "status": "rejected"}))
    assert _row_ids(soup) == [wombat]
    assert attr(one(soup, "#status option[selected]"), "value") == "rejected"
    assert one(soup, ".result-count strong").get_text() == "1"
    languages = [attr(o, "value") for o in soup.select("#language option")]
    assert languages[0] == "" and "zh" in languages
    soup = parse(client.get("/datasets/chat", params={"language": "zh", "status": ""}))
    assert _row_ids(soup) == [chinese]
    assert attr(one(soup, "#language option[selected]"), "value") == "zh"
    soup = parse(client.get("/datasets/chat", params={"q": "platypus"}))
    assert _row_ids(soup) == []
    assert one(soup, ".empty-state h2").get_text() == "No examples found"


def test_next_links_walk_every_example_once(
    client: TestClient, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pages, "PAGE_SIZE", 4)
    ds = make_dataset(session, "chat")
    ids = store(session, ds, *[chat(f"question {i}", f"answer {i}") for i in range(11)]).created
    _set_status(session, ids[::2], "accepted")

    seen: list[int] = []
    url: str | None = "/datasets/chat?status=accepted"
    pages_seen = 0
    while url:
        soup = parse(client.get(url))
        pages_seen += 1
        assert one(soup, ".result-count strong").get_text() == "6"
        seen += _row_ids(soup)
        link = soup.select_one("a.load-more[rel=next]")
        url = attr(link, "href") if link else None
        if link:
            assert attr(link, "hx-get") == attr(link, "href")
            query = parse_qs(urlsplit(attr(link, "href")).query)
            assert query["status"] == ["accepted"] and "offset" not in query
            assert one(soup, ".when-no-js").get_text() == "Next page →"
    assert seen == ids[::2]
    assert pages_seen == 2


def test_htmx_search_gets_only_the_results_block(client: TestClient, session: Session) -> None:
    ds = make_dataset(session, "chat")
    (quokka, _) = store(session, ds, chat("quokka facts", "a"), chat("wombat facts", "b")).created
    response = client.get("/datasets/chat?q=quokka", headers={"HX-Request": "true"})
    assert "HX-Request" in response.headers["vary"]
    soup = parse(response)
    assert soup.find("html") is None and soup.find("form") is None
    top = soup.find_all(True, recursive=False)
    assert [(el.name, el.get("id")) for el in top] == [("section", "results")]
    assert _row_ids(soup) == [quokka]


def test_htmx_load_more_gets_only_the_next_rows(
    client: TestClient, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pages, "PAGE_SIZE", 2)
    ds = make_dataset(session, "chat")
    ids = store(session, ds, *[chat(f"q{i}", f"a{i}") for i in range(5)]).created
    next_url = attr(one(parse(client.get("/datasets/chat")), "a.load-more"), "hx-get")

    response = client.get(next_url, headers={"HX-Request": "true"})
    soup = parse(response)
    assert soup.find(id="results") is None and soup.find("table") is None
    assert [classes(tr) for tr in soup.find_all("tr", recursive=False)] == [
        ["example-row"],
        ["example-row"],
        ["load-more-row"],
    ]
    assert _row_ids(soup) == ids[2:4]
    load_more = one(soup, "a.load-more")
    assert (attr(load_more, "hx-target"), attr(load_more, "hx-swap")) == ("closest tr", "outerHTML")
    last = parse(client.get(attr(load_more, "hx-get"), headers={"HX-Request": "true"}))
    assert _row_ids(last) == ids[4:] and last.select(".load-more") == []


def test_history_restore_gets_the_full_page(client: TestClient, session: Session) -> None:
    make_dataset(session, "chat")
    headers = {"HX-Request": "true", "HX-History-Restore-Request": "true"}
    response = client.get("/datasets/chat", headers=headers)
    assert "HX-Request" in response.headers["vary"]
    assert one(parse(response), "html body main #results")


def test_full_pages_vary_on_hx_request(client: TestClient, session: Session) -> None:
    make_dataset(session, "chat")
    for url in ("/datasets", "/datasets/chat"):
        assert "HX-Request" in client.get(url).headers["vary"]


def test_bad_filters_and_cursor_are_reported(client: TestClient, session: Session) -> None:
    make_dataset(session, "chat")
    response = client.get("/datasets/chat", params={"status": "bogus"})
    assert response.status_code == 422
    assert "status" in one(parse(response), ".error-message").get_text()
    assert client.get("/datasets/chat", params={"cursor": "not-a-cursor"}).status_code == 422


def test_unknown_dataset_is_a_404_page(client: TestClient) -> None:
    response = client.get("/datasets/nope")
    assert response.status_code == 404
    soup = parse(response)
    assert one(soup, ".error-code").get_text() == "404"
    assert one(soup, "h1").get_text() == "Not found"
    assert "nope" in one(soup, ".error-message").get_text()
    assert attr(one(soup, ".site-header a.brand"), "href") == "/datasets"


def test_result_count_says_about_past_the_exact_count_limit(
    client: TestClient, session: Session, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Postgres estimates from a sample of the table's pages, all of them while the table is
    # under SAMPLE_PAGES; the rows other tests rolled back still take pages, and on a run
    # where they passed that size the six examples were estimated as three. The whole table
    # is sampled here, whatever the tests before left.
    monkeypatch.setattr(examples_repo, "SAMPLE_PAGES", 10**9)
    ds = make_dataset(session, "chat")
    store(session, ds, *[chat(f"quokka {i}", f"answer {i}") for i in range(6)])
    count = one(parse(client.get("/datasets/chat", params={"q": "quokka"})), ".result-count")
    assert count.get_text(" ", strip=True) == "6 examples match"

    settings.exact_count_limit = 2
    count = one(parse(client.get("/datasets/chat", params={"q": "quokka"})), ".result-count")
    assert count.get_text(" ", strip=True) == "about 6 examples match"
    assert attr(one(count, "span[title]"), "title") == "Estimated: more than 2 match"


def test_result_count_agrees_with_the_header_without_a_search(
    client: TestClient, session: Session, settings: Settings
) -> None:
    ds = make_dataset(session, "chat")
    ids = store(session, ds, *[chat(f"quokka {i}", f"answer {i}") for i in range(6)]).created
    _set_status(session, ids[:4], "accepted")
    settings.exact_count_limit = 2  # the page takes the header's exact counts all the same
    for params, shown in [({}, "6 examples"), ({"status": "accepted"}, "4 examples match")]:
        soup = parse(client.get("/datasets/chat", params=params))
        assert one(soup, ".result-count").get_text(" ", strip=True) == shown
    language = session.get(Example, ids[0]).language  # type: ignore[union-attr]
    soup = parse(client.get("/datasets/chat", params={"language": language}))
    assert one(soup, ".result-count").get_text(" ", strip=True) == "6 examples match"


def test_large_counts_have_thousands_separators() -> None:
    assert templating.number(995043) == "995,043"
    assert templating.approximate(316855) == "317,000"
    assert templating.approximate(10001) == "10,000"
    assert templating.approximate(999) == "999"
