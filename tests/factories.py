"""Small builders for test data."""

from typing import Any

from sqlalchemy.orm import Session

from app.canonical import CanonicalExample
from app.models import Dataset
from app.services import datasets
from app.services.examples import StoreResult, store_examples


def chat(user: str, assistant: str, **fields: Any) -> CanonicalExample:
    """A single-turn example."""
    return CanonicalExample.model_validate(
        {
            "messages": [
                {"role": "user", "content": user},
                {"role": "assistant", "content": assistant},
            ],
            **fields,
        }
    )


def make_dataset(session: Session, slug: str = "ds", **kwargs: Any) -> Dataset:
    """A new dataset."""
    return datasets.create_dataset(session, None, slug, **kwargs)


def store(session: Session, dataset: Dataset, *items: CanonicalExample) -> StoreResult:
    """Store examples in the test's transaction."""
    return store_examples(session, dataset, list(items))
