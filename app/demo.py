"""The demo dataset shipped with Sift, loaded by `sift demo` and `make run`."""

import json
from importlib import resources

from sqlalchemy.orm import Session

from app import repositories
from app.canonical import CanonicalExample
from app.services import datasets
from app.services.examples import store_examples

DEMO_DESCRIPTION = (
    "Sixty hand-written examples shipped with Sift: English and Chinese, single- and multi-turn, "
    "preference pairs, and a few deliberately poor answers to rate."
)
DEMO_GUIDELINES = """\
## Rating guide

- **Accept** an answer that is correct, follows the instruction and reads naturally.
- **Needs changes** when a small edit would make it right (a typo, a missing step).
- **Reject** answers that are wrong, truncated, in the wrong language or refuse a harmless request.
"""


def demo_examples() -> list[CanonicalExample]:
    """The shipped demo examples."""
    text = resources.files("app").joinpath("demo_examples.jsonl").read_text("utf-8")
    return [CanonicalExample.model_validate(json.loads(line)) for line in text.splitlines() if line]


def load_demo(session: Session, slug: str = "demo") -> int:
    """Create the demo dataset if needed and add its examples; returns how many were new."""
    dataset = repositories.get_dataset(session, slug)
    if dataset is None:
        dataset = datasets.create_dataset(
            session, None, slug, "Demo: instruction data", DEMO_DESCRIPTION, DEMO_GUIDELINES
        )
    result = store_examples(session, dataset, demo_examples())
    return len(result.created)
