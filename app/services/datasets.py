"""Datasets: creation rules and the list with review counts."""

import re
from dataclasses import dataclass

from sqlalchemy.orm import Session

from app import repositories
from app.auth.permissions import SEES_ALL_DATASETS, Action, Caller, ensure, may_see
from app.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.models import STATUS_VALUES, Dataset
from app.repositories import auth as auth_repo
from app.services.audit import record_audit

SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
# Slugs that name pages rather than datasets: /datasets/new is the form that creates one.
RESERVED_SLUGS = frozenset({"new"})


@dataclass(frozen=True)
class DatasetSummary:
    """A dataset with its example count per review status."""

    dataset: Dataset
    counts: dict[str, int]

    @property
    def total(self) -> int:
        """All examples in the dataset."""
        return sum(self.counts.values())


def create_dataset(
    session: Session,
    actor: Caller | None,
    slug: str,
    name: str | None = None,
    description: str = "",
    guidelines: str = "",
) -> Dataset:
    """Create a dataset and record it in the audit log; the slug must be new and URL-safe.

    `actor` is the request's caller (who needs `manage`, and not through a token limited to
    one dataset), or None for the operator's command line.
    """
    if actor is not None:
        ensure(actor, Action.manage)
        if actor.token_dataset_id is not None:
            raise Forbidden("this API token is limited to one dataset and cannot create others")
    if not SLUG.match(slug):
        raise InvalidInput(
            "slug",
            "use 1-64 lower-case letters, digits, '-' or '_', starting with a letter or digit",
        )
    if slug in RESERVED_SLUGS:
        raise InvalidInput(
            "slug", f"{slug!r} is reserved (/datasets/{slug} is a page of Sift); choose another"
        )
    if repositories.get_dataset(session, slug) is not None:
        raise Conflict(f"a dataset with slug {slug!r} already exists")
    dataset = Dataset(
        slug=slug, name=(name or slug).strip()[:200], description=description, guidelines=guidelines
    )
    repositories.add_dataset(session, dataset)
    record_audit(session, actor, "dataset.create", f"dataset:{dataset.slug}")
    return dataset


def get_dataset(session: Session, slug: str) -> Dataset:
    """The dataset with this slug, or NotFound (the CLI; a request uses `visible_dataset`)."""
    dataset = repositories.get_dataset(session, slug)
    if dataset is None:
        raise NotFound(f"no dataset {slug!r}")
    return dataset


def summarise(session: Session, datasets: list[Dataset]) -> list[DatasetSummary]:
    """Each dataset with its counts per status (every status present, zero when none)."""
    counts = repositories.status_counts(session, [d.id for d in datasets])
    return [DatasetSummary(d, {s: counts[d.id].get(s, 0) for s in STATUS_VALUES}) for d in datasets]


def list_datasets(session: Session) -> list[DatasetSummary]:
    """Every dataset with its counts (the CLI; a request uses `visible_summaries`)."""
    return summarise(session, repositories.list_datasets(session))


# --- what a caller may see -------------------------------------------------------------------


def may_see_dataset(session: Session, caller: Caller, dataset: Dataset) -> bool:
    """True when the caller can see the dataset (role, membership, token restriction)."""
    if caller.sees_all_datasets:
        return True
    is_member = auth_repo.is_member(session, dataset.id, caller.user.id)
    return may_see(caller, dataset.id, is_member)


def visible_dataset(
    session: Session, caller: Caller, slug: str, action: Action = Action.view
) -> Dataset:
    """The dataset, if the caller may see it and do `action` on it.

    NotFound (404) when it does not exist or the caller may not see it (the two are not told
    apart); Forbidden (403) when they see it but their role or token does not allow `action`.
    """
    dataset = repositories.get_dataset(session, slug)
    if dataset is None or not may_see_dataset(session, caller, dataset):
        raise NotFound(f"no dataset {slug!r}")
    ensure(caller, action)
    return dataset


def visible_datasets(session: Session, caller: Caller) -> list[Dataset]:
    """The datasets the caller may see: all for leads and admins, the ones they are a member
    of for annotators, only its own for a dataset-restricted token."""
    ensure(caller, Action.view)
    if caller.role in SEES_ALL_DATASETS:
        candidates = repositories.list_datasets(session)
    else:
        candidates = auth_repo.member_datasets(session, caller.user.id)
    restricted = caller.token_dataset_id
    if restricted is not None:
        candidates = [d for d in candidates if d.id == restricted]
    return candidates


def visible_summaries(session: Session, caller: Caller) -> list[DatasetSummary]:
    """The datasets the caller may see, each with its counts per review status."""
    return summarise(session, visible_datasets(session, caller))
