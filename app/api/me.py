"""The caller as JSON: the twin of the account page."""

from fastapi import APIRouter

from app.auth.deps import CurrentUser
from app.auth.schemas import MeOut

router = APIRouter(tags=["accounts"])


@router.get("/me")
def me(caller: CurrentUser) -> MeOut:
    """Who you are, whether you came with a session or a token, and what you may do."""
    return MeOut.of(caller)
