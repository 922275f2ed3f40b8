"""The JSON API under /api/v1."""

from fastapi import APIRouter

from app.api import audit, datasets, imports, me, members, push, tokens, users

router = APIRouter(prefix="/api/v1")
router.include_router(datasets.router)
router.include_router(members.router)
router.include_router(push.router)
router.include_router(imports.router)
router.include_router(me.router)
router.include_router(tokens.router)
router.include_router(users.router)
router.include_router(audit.router)
