"""Roles, token scopes, actions, and the `Caller` a request is made by.

One table decides everything: an action is allowed when the caller's role allows it, the
token (if the request came with one) has a scope that allows it, and, for a dataset, the caller
can see that dataset (leads and admins see all; annotators only those they are members of; a
token restricted to one dataset sees only that one).
"""

from dataclasses import dataclass
from enum import StrEnum

from app.errors import Forbidden
from app.models import ApiToken, Role, User


class Action(StrEnum):
    """Everything a caller can be allowed to do."""

    view = "view"  # see a dataset, browse and search its examples, ratings, revisions, comments
    annotate = "annotate"  # rate, edit, comment
    review = "review"  # decide review status, resolve what annotators raised
    import_ = "import"  # import files, push samples through the API
    export = "export"  # download exports
    manage = "manage"  # create, edit and delete datasets; add and remove members
    admin = "admin"  # users, every token, the audit log


ACTION_LABELS: dict[Action, str] = {
    Action.view: "see datasets, browse and search examples, ratings, revisions and comments",
    Action.annotate: "rate, edit and comment on examples",
    Action.review: "review examples (accept, reject, resolve)",
    Action.import_: "import files and push examples through the API",
    Action.export: "export datasets",
    Action.manage: "create, edit and delete datasets and manage their members",
    Action.admin: "manage users, every API token and read the audit log",
}


class Scope(StrEnum):
    """What an API token may be used for."""

    read = "read"
    write = "write"
    export = "export"


SCOPE_VALUES = tuple(s.value for s in Scope)

ROLE_ACTIONS: dict[Role, frozenset[Action]] = {
    Role.annotator: frozenset({Action.view, Action.annotate}),
    Role.lead: frozenset(set(Action) - {Action.admin}),
    Role.admin: frozenset(Action),
}

# No scope grants `admin`: users, other people's tokens and the audit log need a signed-in
# browser (or the CLI), so a leaked token cannot mint tokens or promote accounts.
SCOPE_ACTIONS: dict[Scope, frozenset[Action]] = {
    Scope.read: frozenset({Action.view}),
    Scope.write: frozenset({Action.annotate, Action.review, Action.import_, Action.manage}),
    Scope.export: frozenset({Action.export}),
}

# Roles that see every dataset without being a member.
SEES_ALL_DATASETS = frozenset({Role.admin, Role.lead})


@dataclass(frozen=True)
class Caller:
    """The user a request acts for, and the API token it came with (None for a browser)."""

    user: User
    token: ApiToken | None = None

    @property
    def role(self) -> Role:
        """The user's role."""
        return Role(self.user.role)

    @property
    def scopes(self) -> frozenset[Scope] | None:
        """The token's scopes, or None when the caller signed in (no scope limit)."""
        if self.token is None:
            return None
        return frozenset(Scope(s) for s in self.token.scopes.split())

    def may(self, action: Action) -> bool:
        """True when both the role and (for a token) a scope allow the action."""
        if action not in ROLE_ACTIONS[self.role]:
            return False
        scopes = self.scopes
        if scopes is None:
            return True
        return any(action in SCOPE_ACTIONS[s] for s in scopes)

    @property
    def sees_all_datasets(self) -> bool:
        """True for leads and admins whose request is not limited to one dataset by a token."""
        return self.role in SEES_ALL_DATASETS and self.token_dataset_id is None

    @property
    def token_dataset_id(self) -> int | None:
        """The one dataset the token is restricted to, if any."""
        return self.token.dataset_id if self.token is not None else None


@dataclass(frozen=True)
class Viewer:
    """Who is signed in, as pages show it (`current_user` in templates).

    Copied from the user when the request is authenticated, so an error page rendered after
    the request's session has rolled back and closed can still show it.
    """

    username: str
    role: str

    @classmethod
    def of(cls, caller: Caller) -> "Viewer":
        """The caller's name and role."""
        return cls(caller.user.username, caller.user.role)


def may_see(caller: Caller, dataset_id: int, is_member: bool) -> bool:
    """Whether the caller can see a dataset, given whether the user is one of its members."""
    restricted = caller.token_dataset_id
    if restricted is not None and restricted != dataset_id:
        return False
    return caller.role in SEES_ALL_DATASETS or is_member


def ensure(caller: Caller, action: Action) -> None:
    """Forbidden unless the caller's role and token allow the action."""
    if action not in ROLE_ACTIONS[caller.role]:
        article = "an" if caller.role.value[0] in "aeiou" else "a"
        raise Forbidden(f"{article} {caller.role.value} may not {ACTION_LABELS[action]}")
    if not caller.may(action):
        raise Forbidden(f"this API token has no scope that allows it to {ACTION_LABELS[action]}")
