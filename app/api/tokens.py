"""API tokens as JSON: the twin of the tokens page."""

from fastapi import APIRouter, Response, status

from app.auth.deps import CurrentUser
from app.auth.permissions import Action
from app.auth.schemas import NewTokenOut, TokenIn, TokenOut
from app.db import SessionDep
from app.schemas import SmallId
from app.services import datasets, tokens

router = APIRouter(tags=["tokens"])


@router.get("/tokens")
def list_tokens(session: SessionDep, caller: CurrentUser) -> list[TokenOut]:
    """Your tokens; for a lead also service accounts' tokens, for an admin every token."""
    return [TokenOut.of(t) for t in tokens.list_tokens(session, caller)]


@router.post("/tokens", status_code=status.HTTP_201_CREATED)
def create_token(
    body: TokenIn, session: SessionDep, caller: CurrentUser, response: Response
) -> NewTokenOut:
    """Issue a token (signed-in only); the secret is in this response and nowhere else."""
    owner = tokens.token_owner(session, caller, body.user)
    dataset = (
        datasets.visible_dataset(session, caller, body.dataset, Action.view)
        if body.dataset
        else None
    )
    issued = tokens.create_token(
        session, caller, owner, body.name, body.scopes, dataset, body.expires_days
    )
    session.commit()
    response.headers["Cache-Control"] = "no-store"
    return NewTokenOut(**TokenOut.of(issued.token).model_dump(), token=issued.secret)


@router.delete("/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_token(token_id: SmallId, session: SessionDep, caller: CurrentUser) -> None:
    """Revoke a token you may manage; it is refused from now on."""
    tokens.revoke_token(session, caller, tokens.get_token(session, caller, token_id))
    session.commit()
