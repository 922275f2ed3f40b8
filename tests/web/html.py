"""Reading HTML responses in tests: parse, and check nothing in them can run."""

from bs4 import BeautifulSoup, Tag
from httpx2 import Response

# The only scripts a page may load; everything else would be injected.
ALLOWED_SCRIPTS = {"/static/app.js", "/static/vendor/htmx-2.0.11/htmx.min.js"}
URL_ATTRIBUTES = ("href", "src", "action", "formaction", "xlink:href", "data", "poster")


def parse(response: Response) -> BeautifulSoup:
    """The response body as a parsed HTML document."""
    assert response.headers["content-type"].startswith("text/html"), response.headers
    return BeautifulSoup(response.text, "html.parser")


def pre_text(element: Tag) -> str:
    """A <pre>'s text as a browser reads it (the newline right after <pre> is not content)."""
    return element.get_text().removeprefix("\n")


def executable_parts(soup: BeautifulSoup) -> list[str]:
    """Anything in the document that could run script or breaks the CSP: inline or foreign
    <script>, on* and hx-on handlers, javascript:/data: URLs, inline styles, embedded frames."""
    found: list[str] = []
    for script in soup.find_all("script"):
        if script.get("src") not in ALLOWED_SCRIPTS or script.get_text().strip():
            found.append(f"script: {script}")
    for element in soup.find_all(True):
        if element.name in ("iframe", "object", "embed", "base", "img"):
            found.append(f"element: {element}")
        for name, value in element.attrs.items():
            if name.lower().startswith(("on", "hx-on", "data-hx-on")):
                found.append(f"handler: {name} on <{element.name}>")
            text = value if isinstance(value, str) else " ".join(value)
            squeezed = "".join(text.split()).lower()
            if name.lower() in URL_ATTRIBUTES and squeezed.startswith(("javascript:", "data:")):
                found.append(f"url: {name}={text!r} on <{element.name}>")
            if name.lower() == "style":
                found.append(f"inline style on <{element.name}>")
    return found


def one(node: Tag, selector: str) -> Tag:
    """The first element matching `selector`; the test fails if there is none."""
    found = node.select_one(selector)
    assert found is not None, f"nothing matches {selector!r}"
    return found


def attr(node: Tag, name: str) -> str:
    """An attribute's value as a string (class-like lists joined with spaces)."""
    value = node.get(name)
    assert value is not None, f"<{node.name}> has no {name!r}"
    return value if isinstance(value, str) else " ".join(value)


def classes(node: Tag) -> list[str]:
    """The element's classes, in order."""
    return attr(node, "class").split()
