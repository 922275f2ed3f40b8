"""HTML pages and HTMX fragments."""

from fastapi import APIRouter

from app.web import pages

router = APIRouter(include_in_schema=False)
router.include_router(pages.router)
