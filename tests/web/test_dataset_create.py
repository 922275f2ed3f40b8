"""Creating a dataset in the browser: the button, the form, its refusals, the way to the import."""

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.auth.csrf import CSRF_HEADER
from app.models import AuditEvent, Dataset
from app.services.audit import OPERATOR
from tests.auth.clients import ClientFactory, form_token
from tests.factories import make_dataset
from tests.web.html import attr, executable_parts, one, parse

FORM = "/datasets/new"
HX = {"HX-Request": "true"}
GOOD = {
    "name": "Chat v1",
    "slug": "chat-v1",
    "description": "Support chats, first pass.",
    "guidelines": "## Accept\n\n- Correct answers",
}
# Which control holds each field (the textareas keep their value as text).
CONTROLS = {
    "name": "input#dataset-name",
    "slug": "input#dataset-slug",
    "description": "textarea#dataset-description",
    "guidelines": "textarea#dataset-guidelines",
}
HOSTILE_HTML = "<img src=x onerror=alert(1)>"
HOSTILE_LINK = "[x](javascript:alert(1))"
HOSTILE = f"{HOSTILE_HTML} {HOSTILE_LINK}"


def _count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Dataset)) or 0)


def _audited(session: Session) -> list[tuple[str, str]]:
    events = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "dataset.create").order_by(AuditEvent.id)
    )
    return [(e.actor, e.target) for e in events]


def _value(soup: BeautifulSoup, field: str) -> str:
    control = one(soup, CONTROLS[field])
    return control.get_text() if control.name == "textarea" else attr(control, "value")


def _invalid_fields(soup: BeautifulSoup) -> list[str]:
    return [f for f, sel in CONTROLS.items() if one(soup, sel).get("aria-invalid") == "true"]


# --- who sees the button and the form ---------------------------------------------------------


@pytest.mark.parametrize("role", ["admin", "lead"])
def test_form_renders_for_leads_and_admins(role: str, clients: ClientFactory) -> None:
    response = clients.signed_in(role).get(FORM)
    assert response.status_code == 200
    assert "HX-Request" in response.headers["vary"]
    soup = parse(response)
    assert one(soup, "h1").get_text() == "New dataset"
    form = one(soup, "form.dataset-form")
    assert (attr(form, "method"), attr(form, "action")) == ("post", FORM)
    assert one(form, 'input[name="csrf_token"]').get("value")
    names = [attr(c, "name") for c in form.select("input:not([type=hidden]), textarea")]
    assert names == ["name", "slug", "description", "guidelines"]
    assert one(form, "#dataset-name").has_attr("required")
    assert attr(one(form, "#dataset-slug"), "data-slug-from") == "name"
    assert "Markdown" in one(form, "#guidelines-hint").get_text()
    assert attr(one(form, "#dataset-guidelines"), "aria-describedby") == "guidelines-hint"
    assert _invalid_fields(soup) == []
    assert soup.select("#dataset-error") == []
    assert executable_parts(soup) == []


@pytest.mark.parametrize("role", ["admin", "lead"])
def test_dataset_list_offers_new_dataset_to_leads_and_admins(
    role: str, clients: ClientFactory, session: Session
) -> None:
    browser = clients.signed_in(role)
    empty = parse(browser.get("/datasets"))
    assert attr(one(empty, ".page-actions a.new-dataset-link"), "href") == FORM
    assert one(empty, ".new-dataset-link").get_text(strip=True) == "New dataset"
    state = one(empty, ".empty-state")
    assert one(state, "h2").get_text() == "No datasets yet"
    assert "then import a file" in state.get_text()
    assert attr(one(state, "a.create-first-dataset"), "href") == FORM

    make_dataset(session, "chat", name="Chat")
    listed = parse(browser.get("/datasets"))
    assert attr(one(listed, "a.new-dataset-link"), "href") == FORM
    assert listed.select(".empty-state") == []


def test_annotators_see_no_button_and_are_refused(clients: ClientFactory, session: Session) -> None:
    ds = make_dataset(session, "chat", name="Chat")
    member = clients.signed_in("annotator", member_of=[ds])
    soup = parse(member.get("/datasets"))
    assert one(soup, "#dataset-chat")
    assert soup.select(f'a[href="{FORM}"]') == []

    outsider = clients.signed_in("annotator")
    soup = parse(outsider.get("/datasets"))
    assert soup.select(f'a[href="{FORM}"]') == []
    assert "not a member of any dataset" in one(soup, ".empty-state").get_text()

    for annotator in (member, outsider):
        assert annotator.get(FORM).status_code == 403
        refused = annotator.post(FORM, data={**GOOD, "slug": "mine"}, follow_redirects=False)
        assert refused.status_code == 403
        assert "may not create" in one(parse(refused), ".error-message").get_text()
    assert _count(session) == 1
    assert _audited(session) == [(OPERATOR, "dataset:chat")]  # made by the test, as the CLI


# --- creating ---------------------------------------------------------------------------------


def test_create_goes_to_the_import_page_and_the_list_shows_it(
    client: TestClient, session: Session
) -> None:
    response = client.post(FORM, data=GOOD, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/datasets/chat-v1/imports"
    dataset = session.scalars(select(Dataset).where(Dataset.slug == "chat-v1")).one()
    assert (dataset.name, dataset.description, dataset.guidelines) == (
        GOOD["name"],
        GOOD["description"],
        GOOD["guidelines"],
    )
    assert _audited(session) == [("admin", "dataset:chat-v1")]

    upload = client.get(response.headers["location"])
    assert upload.status_code == 200
    assert one(parse(upload), "h1").get_text() == "Import into Chat v1"
    card = one(parse(client.get("/datasets")), "#dataset-chat-v1")
    assert one(card, ".dataset-name a").get_text() == "Chat v1"
    assert attr(one(card, ".dataset-name a"), "href") == "/datasets/chat-v1"
    assert one(card, ".dataset-description").get_text() == GOOD["description"]


def test_a_lead_creates_one_with_the_forms_own_csrf_field(
    clients: ClientFactory, session: Session
) -> None:
    lead = clients.signed_in("lead", username="lena")
    lead.headers.pop(CSRF_HEADER)  # a plain browser post carries the field, not the header
    data = {**GOOD, "csrf_token": form_token(lead.get(FORM))}
    response = lead.post(FORM, data=data, follow_redirects=False)
    assert response.status_code == 303, response.text
    assert _audited(session) == [("lena", "dataset:chat-v1")]


def test_htmx_create_redirects_with_hx_redirect(client: TestClient, session: Session) -> None:
    response = client.post(FORM, data=GOOD, headers=HX)
    assert response.status_code == 200
    assert response.headers["HX-Redirect"] == "/datasets/chat-v1/imports"
    assert _count(session) == 1


def test_only_name_and_slug_are_needed_and_text_is_tidied(
    client: TestClient, session: Session
) -> None:
    data = {"name": "  Tidy  ", "slug": " tidy ", "guidelines": "One\r\nTwo\r\n\r\n"}
    response = client.post(FORM, data=data, follow_redirects=False)
    assert response.status_code == 303
    dataset = session.scalars(select(Dataset).where(Dataset.slug == "tidy")).one()
    assert (dataset.name, dataset.description, dataset.guidelines) == ("Tidy", "", "One\nTwo")


# --- refusals ---------------------------------------------------------------------------------

REFUSALS = {
    "bad slug": ({"slug": "Not OK"}, "slug", "Slug: use 1-64 lower-case letters"),
    "slug starting with a dash": ({"slug": "-chat"}, "slug", "Slug: use 1-64"),
    "no slug": ({"slug": ""}, "slug", "Slug: use 1-64"),
    "reserved slug": ({"slug": "new"}, "slug", "Slug: 'new' is reserved"),
    "long slug": ({"slug": "a" * 65}, "slug", "Slug: at most 64 characters"),
    "empty name": ({"name": ""}, "name", "Name: give the dataset a name"),
    "blank name": ({"name": "   "}, "name", "Name: give the dataset a name"),
    "long name": ({"name": "n" * 201}, "name", "Name: at most 200 characters (this has 201)"),
    "NUL in name": ({"name": "a\x00b"}, "name", "Name: contains a NUL byte"),
    "NUL in description": ({"description": "a\x00b"}, "description", "Description: contains"),
    "long description": (
        {"description": "d" * 20_001},
        "description",
        "Description: at most 20,000 characters",
    ),
    "NUL in guidelines": (
        {"guidelines": "x\x00"},
        "guidelines",
        "Annotation guidelines: contains a NUL byte",
    ),
    "long guidelines": (
        {"guidelines": "g" * 200_001},
        "guidelines",
        "Annotation guidelines: at most 200,000 characters",
    ),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_refusal_names_the_field_keeps_the_values_and_creates_nothing(
    case: str, client: TestClient, session: Session
) -> None:
    change, field, message = REFUSALS[case]
    data = {**GOOD, **change}
    response = client.post(FORM, data=data, follow_redirects=False)
    assert response.status_code == 422
    soup = parse(response)
    error = one(soup, "#dataset-error")
    assert attr(error, "role") == "alert"
    assert error.get_text().startswith(message), error.get_text()
    assert _invalid_fields(soup) == [field]
    control = one(soup, CONTROLS[field])
    assert "dataset-error" in attr(control, "aria-describedby").split()
    assert control.has_attr("autofocus")
    kept = {f: _value(soup, f) for f in CONTROLS if f != field and "\x00" not in data[f]}
    assert kept == {f: data[f] for f in kept}
    assert _count(session) == 0
    assert _audited(session) == []


def test_taken_slug_is_refused_on_the_slug_field(client: TestClient, session: Session) -> None:
    make_dataset(session, "chat-v1", name="The first one")
    response = client.post(FORM, data=GOOD)
    assert response.status_code == 422
    soup = parse(response)
    assert "another dataset has the slug 'chat-v1'" in one(soup, "#dataset-error").get_text()
    assert _invalid_fields(soup) == ["slug"]
    assert _value(soup, "name") == GOOD["name"]
    assert _count(session) == 1
    assert _audited(session) == [(OPERATOR, "dataset:chat-v1")]


def test_the_first_bad_field_in_form_order_is_named(client: TestClient, session: Session) -> None:
    response = client.post(FORM, data={"name": "", "slug": "Bad", "guidelines": "\x00"})
    assert _invalid_fields(parse(response)) == ["name"]


def test_htmx_refusal_swaps_only_the_form(client: TestClient, session: Session) -> None:
    response = client.post(FORM, data={**GOOD, "slug": "Not OK"}, headers=HX)
    assert response.status_code == 422
    assert "HX-Redirect" not in response.headers
    soup = parse(response)
    assert soup.select("html, header, h1") == []
    section = one(soup, "section#new-dataset")
    assert one(section, "form.dataset-form input[name=csrf_token]").get("value")
    assert _invalid_fields(soup) == ["slug"]
    assert _count(session) == 0


# --- hostile text -----------------------------------------------------------------------------


def test_hostile_text_is_shown_as_text_on_the_list_and_the_dataset_page(
    client: TestClient, session: Session
) -> None:
    data = {"name": HOSTILE, "slug": "hostile", "description": HOSTILE, "guidelines": HOSTILE}
    assert client.post(FORM, data=data, follow_redirects=False).status_code == 303

    listing = parse(client.get("/datasets"))
    assert executable_parts(listing) == []
    card = one(listing, "#dataset-hostile")
    assert one(card, ".dataset-name a").get_text() == HOSTILE
    assert one(card, ".dataset-description").get_text() == HOSTILE
    assert card.select("img") == []

    page = parse(client.get("/datasets/hostile"))
    assert executable_parts(page) == []
    assert one(page, "h1").get_text() == HOSTILE
    assert one(page, ".page-title .dataset-description").get_text() == HOSTILE
    guidelines = one(page, ".guidelines .prose")
    assert HOSTILE_HTML in guidelines.get_text()  # raw HTML is text, not an element
    assert guidelines.select("img") == []
    assert [a.get("href") for a in guidelines.select("a")] in ([], [None])


def test_hostile_text_in_a_refused_form_stays_text(client: TestClient, session: Session) -> None:
    data = {"name": HOSTILE, "slug": "Bad", "description": HOSTILE, "guidelines": HOSTILE}
    response = client.post(FORM, data=data)
    assert response.status_code == 422
    soup = parse(response)
    assert executable_parts(soup) == []
    assert {f: _value(soup, f) for f in CONTROLS} == data
    assert soup.select("img") == []


# --- the JSON twin ----------------------------------------------------------------------------


def test_json_twin_needs_manage_through_role_and_token_scope(
    clients: ClientFactory, session: Session
) -> None:
    body = {"slug": "from-api", "name": "From the API"}
    reader = clients.bearer("lead", ["read"])
    assert reader.post("/api/v1/datasets", json=body).status_code == 403
    annotator = clients.signed_in("annotator")
    assert annotator.post("/api/v1/datasets", json=body).status_code == 403
    assert _count(session) == 0
    writer = clients.bearer("lead", ["write"])
    assert writer.post("/api/v1/datasets", json=body).status_code == 201
    assert writer.post("/api/v1/datasets", json={"slug": "new"}).status_code == 422
    assert _count(session) == 1
