"""HTML pages and HTMX fragments."""

from fastapi import APIRouter

from app.web import accounts, auth, docs, imports, pages

router = APIRouter(include_in_schema=False)
router.include_router(pages.router)
router.include_router(auth.router)
router.include_router(accounts.router)
router.include_router(imports.router)
router.include_router(docs.router)
