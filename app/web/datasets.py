"""Creating a dataset in the browser: the HTML twin of POST /api/v1/datasets.

The form is checked by the API's own rules (`DatasetIn`: lengths, NUL bytes) and the datasets
service (slug shape, taken slugs); a refusal re-renders the form with the field marked.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from app.auth.deps import require
from app.auth.permissions import Action, Caller
from app.db import SessionDep
from app.errors import Conflict, InvalidInput
from app.schemas import DatasetIn
from app.services import datasets
from app.web.htmx import redirect, render_page_or_fragment

router = APIRouter()

Manager = Annotated[Caller, require(Action.manage)]
# Unbounded here on purpose: a field over DatasetIn's limit gets the form back, not a bare 422.
FormText = Annotated[str, Form()]
TEMPLATE = "datasets/new.html"
# The form's fields in the order it shows them (the first bad one is reported).
FIELD_LABELS = {
    "name": "Name",
    "slug": "Slug",
    "description": "Description",
    "guidelines": "Annotation guidelines",
}


def _form_context(
    form: dict[str, str] | None = None, error: InvalidInput | None = None
) -> dict[str, Any]:
    context: dict[str, Any] = {
        "form": form or dict.fromkeys(FIELD_LABELS, ""),
        "error": None,
        "error_field": None,
    }
    if error is not None:
        reason = error.message.removeprefix(f"{error.field}: ")
        context["error"] = f"{FIELD_LABELS.get(error.field, error.field)}: {reason}"
        context["error_field"] = error.field
    return context


def _reason(error: ErrorDetails) -> str:
    """A pydantic error as a short reason a person can act on."""
    context = error.get("ctx") or {}
    if error["type"] in ("string_too_long", "too_long"):
        sent = error.get("input")
        length = f" (this has {len(sent):,})" if isinstance(sent, str) else ""
        return f"at most {context['max_length']:,} characters{length}"
    if error["type"] == "value_error" and "error" in context:
        return str(context["error"])
    return str(error["msg"])


def _checked(form: dict[str, str]) -> DatasetIn:
    """The form as the API's input, or InvalidInput naming the first bad field."""
    problems: dict[str, str] = {}
    if not form["name"]:
        problems["name"] = "give the dataset a name"
    checked: DatasetIn | None = None
    try:
        checked = DatasetIn.model_validate(form)
    except ValidationError as exc:
        for error in exc.errors():
            problems.setdefault(str(error["loc"][0]), _reason(error))
    for field in FIELD_LABELS:
        if field in problems:
            raise InvalidInput(field, problems[field])
    assert checked is not None
    return checked


@router.get("/datasets/new")
def new_dataset_page(request: Request, caller: Manager) -> HTMLResponse:
    """The form that creates a dataset (leads and admins)."""
    return render_page_or_fragment(request, TEMPLATE, "form", _form_context())


@router.post("/datasets/new")
def create_dataset(
    request: Request,
    session: SessionDep,
    caller: Manager,
    name: FormText = "",
    slug: FormText = "",
    description: FormText = "",
    guidelines: FormText = "",
) -> Response:
    """Create a dataset, then go to its import page to upload its first file."""
    # Browsers send textarea line breaks as CRLF; store them as the API and the CLI would.
    form = {
        "name": name.strip(),
        "slug": slug.strip(),
        "description": description.replace("\r\n", "\n").strip(),
        "guidelines": guidelines.replace("\r\n", "\n").strip(),
    }
    try:
        fields = _checked(form)
        dataset = datasets.create_dataset(
            session, caller, fields.slug, fields.name, fields.description, fields.guidelines
        )
    except Conflict:
        taken = InvalidInput(
            "slug", f"another dataset has the slug {form['slug']!r}; choose another"
        )
        return _form_again(request, form, taken)
    except InvalidInput as exc:
        return _form_again(request, form, exc)
    session.commit()
    return redirect(request, f"/datasets/{dataset.slug}/imports")


def _form_again(request: Request, form: dict[str, str], error: InvalidInput) -> HTMLResponse:
    """The form as it was sent, with what is wrong and where (422)."""
    context = _form_context(form, error)
    return render_page_or_fragment(request, TEMPLATE, "form", context, error.status_code)
