"""The JSON API under /api/v1."""

from fastapi import APIRouter

from app.api import datasets

router = APIRouter(prefix="/api/v1")
router.include_router(datasets.router)
