"""The permission table itself: roles, scopes, dataset restriction, membership."""

import pytest

from app.auth.permissions import (
    ROLE_ACTIONS,
    SCOPE_ACTIONS,
    Action,
    Caller,
    Scope,
    ensure,
    may_see,
)
from app.errors import Forbidden
from app.models import ApiToken, Role, User


def caller(role: str, scopes: str | None = None, dataset_id: int | None = None) -> Caller:
    user = User(id=1, username="u", role=role, is_active=True, is_service=False)
    if scopes is None:
        return Caller(user)
    return Caller(user, ApiToken(id=1, user_id=1, scopes=scopes, dataset_id=dataset_id))


# The matrix of docs/security.md, written out so a change to the table shows up here.
MATRIX = {
    Action.view: {"admin", "lead", "annotator"},
    Action.annotate: {"admin", "lead", "annotator"},
    Action.review: {"admin", "lead"},
    Action.import_: {"admin", "lead"},
    Action.export: {"admin", "lead"},
    Action.manage: {"admin", "lead"},
    Action.admin: {"admin"},
}


@pytest.mark.parametrize("role", [r.value for r in Role])
@pytest.mark.parametrize("action", list(Action))
def test_role_matrix(role: str, action: Action) -> None:
    assert caller(role).may(action) is (role in MATRIX[action])
    assert (action in ROLE_ACTIONS[Role(role)]) is (role in MATRIX[action])


def test_scopes_narrow_the_role_and_never_grant_admin() -> None:
    assert caller("admin", "read").may(Action.view)
    assert not caller("admin", "read").may(Action.annotate)
    assert not caller("admin", "read write export").may(Action.admin)
    assert caller("lead", "write").may(Action.import_)
    assert not caller("lead", "write").may(Action.view)
    assert caller("lead", "export").may(Action.export)
    # A scope cannot lift what the role forbids.
    assert not caller("annotator", "write export").may(Action.export)
    assert not caller("annotator", "write").may(Action.import_)
    assert all(Action.admin not in actions for actions in SCOPE_ACTIONS.values())
    assert set(SCOPE_ACTIONS) == set(Scope)


def test_dataset_visibility() -> None:
    assert may_see(caller("lead"), 7, is_member=False)
    assert may_see(caller("admin"), 7, is_member=False)
    assert not may_see(caller("annotator"), 7, is_member=False)
    assert may_see(caller("annotator"), 7, is_member=True)
    restricted = caller("admin", "read", dataset_id=3)
    assert may_see(restricted, 3, is_member=False)
    assert not may_see(restricted, 7, is_member=True)
    assert not restricted.sees_all_datasets


def test_ensure_says_why() -> None:
    with pytest.raises(Forbidden, match="an annotator may not export"):
        ensure(caller("annotator"), Action.export)
    with pytest.raises(Forbidden, match="token has no scope"):
        ensure(caller("lead", "read"), Action.export)
    ensure(caller("lead", "export"), Action.export)
