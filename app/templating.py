"""The Jinja2 environment: autoescaping, filters, globals, and page-or-fragment rendering."""

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import nh3
from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader
from jinja2_fragments.fastapi import Jinja2Blocks
from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict
from markupsafe import Markup, escape

from app.auth.csrf import rendering_csrf_input, template_context
from app.config import PROJECT_ROOT

# --- Markdown -------------------------------------------------------------------------------

# CommonMark with raw HTML off (it shows as text), plus GFM tables and strikethrough, which
# instruction data uses a lot, and every line break kept (`breaks`): in a prompt a single line
# break means something (Alpaca's instruction and input, options on lines of their own), and
# CommonMark would run such lines together. The output still goes through nh3: markdown-it is
# not a sanitiser.
_markdown = MarkdownIt("commonmark", {"html": False, "breaks": True}).enable(
    ["table", "strikethrough"]
)


def _image_as_link(
    renderer: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    # Remote images would leak the reader's address and break the img-src policy: link instead.
    token = tokens[idx]
    alt = "".join(child.content for child in token.children or []) or "image"
    src = str(token.attrGet("src") or "")
    return f'<a href="{escape(src)}">{escape("image: " + alt)}</a>'


_markdown.add_render_rule("image", _image_as_link)

# fmt: off
_ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "details", "dl", "dt", "em",
    "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "kbd", "li", "ol", "p", "pre", "s",
    "strong", "sub", "summary", "sup", "table", "tbody", "td", "th", "thead", "tr", "ul",
}
# fmt: on

_sanitiser = nh3.Cleaner(
    tags=_ALLOWED_TAGS,
    clean_content_tags={"script", "style"},
    attributes={"a": {"href", "title"}, "ol": {"start"}, "th": {"colspan"}, "td": {"colspan"}},
    url_schemes={"http", "https", "mailto"},
    link_rel="noopener noreferrer nofollow",
)


def markdown(text: str | None) -> Markup:
    """Markdown (CommonMark, raw HTML shown as text) to sanitised HTML."""
    if not text:
        return Markup("")
    return Markup(_sanitiser.clean(_markdown.render(text)))


# --- other filters --------------------------------------------------------------------------


def format_datetime(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M UTC") -> str:
    """A timestamp in UTC, e.g. 2024-05-14 09:30 UTC."""
    if value is None:
        return ""
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime(fmt)


_COMPACT_JSON = 64  # shorter JSON reads best on one line


def pretty_json(value: Any) -> str:
    """Indented JSON for display; a string holding a JSON object or array is decoded first."""
    if isinstance(value, str):
        try:
            decoded = json.loads(value)
        except ValueError:
            return value
        if not isinstance(decoded, dict | list):
            return value
        value = decoded
    compact = json.dumps(value, ensure_ascii=False, default=str, separators=(", ", ": "))
    if len(compact) <= _COMPACT_JSON:
        return compact
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def json_script(value: Any) -> Markup:
    """JSON safe to place inside an HTML element: <, >, & and ' are escaped as \\uXXXX."""
    encoded = json.dumps(value, ensure_ascii=False, default=str)
    for char, code in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("'", "\\u0027")):
        encoded = encoded.replace(char, code)
    return Markup(encoded)


def truncate_text(text: str | None, length: int = 140) -> str:
    """One line of at most `length` characters, whitespace collapsed, with an ellipsis if cut."""
    flat = " ".join((text or "").split())
    return flat if len(flat) <= length else flat[: length - 1].rstrip() + "…"


def number(value: int) -> str:
    """An integer with thousands separators: 995,043."""
    return f"{value:,}"


def approximate(value: int) -> str:
    """An estimate to three significant figures, with thousands separators: 317,000."""
    return f"{int(float(f'{value:.3g}')):,}"


# --- the environment ------------------------------------------------------------------------

env = Environment(
    loader=FileSystemLoader(str(PROJECT_ROOT / "templates")),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
)
env.filters.update(
    markdown=markdown,
    datetime=format_datetime,
    pretty_json=pretty_json,
    json_script=json_script,
    truncate_text=truncate_text,
    number=number,
    approximate=approximate,
)

env.globals["csrf_input"] = rendering_csrf_input

# Every page knows who is signed in (`current_user`) and its CSRF token (`csrf_token`).
templates = Jinja2Blocks(env=env, context_processors=[template_context])


def render(
    request: Request, name: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    """Render a full page."""
    response = templates.TemplateResponse(request, name, context, status_code=status_code)
    assert isinstance(response, HTMLResponse)
    return response


def render_block(
    request: Request, name: str, block: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    """Render one named block of a page (an HTMX fragment)."""
    response = templates.TemplateResponse(
        request, name, context, status_code=status_code, block_name=block
    )
    assert isinstance(response, HTMLResponse)
    return response


def render_error(request: Request, status_code: int, message: str) -> HTMLResponse:
    """An error page that says what went wrong."""
    return render(
        request, "error.html", {"status_code": status_code, "message": message}, status_code
    )
