"""HTML pages and HTMX fragments."""

from fastapi import APIRouter

from app.web import accounts, auth, datasets, docs, imports, pages

router = APIRouter(include_in_schema=False)
# Before pages: /datasets/new is the form, not a dataset called "new" (a reserved slug).
router.include_router(datasets.router)
router.include_router(pages.router)
router.include_router(auth.router)
router.include_router(accounts.router)
router.include_router(imports.router)
router.include_router(docs.router)
