"""A dataset's members as JSON (leads and admins): the twin of the members page."""

from fastapi import APIRouter, status

from app.auth.deps import CurrentUser
from app.auth.permissions import Action
from app.auth.schemas import MemberIn, MemberOut
from app.db import SessionDep
from app.services import accounts, datasets

router = APIRouter(tags=["datasets"])


@router.get("/datasets/{slug}/members")
def list_members(slug: str, session: SessionDep, caller: CurrentUser) -> list[MemberOut]:
    """Who may see the dataset besides leads and admins."""
    dataset = datasets.visible_dataset(session, caller, slug, Action.manage)
    return [MemberOut.of(m) for m in accounts.list_members(session, dataset)]


@router.post("/datasets/{slug}/members", status_code=status.HTTP_201_CREATED)
def add_member(
    slug: str, body: MemberIn, session: SessionDep, caller: CurrentUser
) -> list[MemberOut]:
    """Make a user a member of the dataset (doing it twice changes nothing)."""
    dataset = datasets.visible_dataset(session, caller, slug, Action.manage)
    accounts.grant(session, caller, dataset, accounts.get_user(session, body.username))
    session.commit()
    return [MemberOut.of(m) for m in accounts.list_members(session, dataset)]


@router.delete("/datasets/{slug}/members/{username}", status_code=status.HTTP_204_NO_CONTENT)
def remove_member(slug: str, username: str, session: SessionDep, caller: CurrentUser) -> None:
    """Remove a user from the dataset's members."""
    dataset = datasets.visible_dataset(session, caller, slug, Action.manage)
    accounts.revoke(session, caller, dataset, accounts.get_user(session, username))
    session.commit()
