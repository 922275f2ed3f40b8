"""Application factory: settings in, a ready FastAPI app out."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles

from app import __version__, api, web
from app.auth.csrf import csrf_protect
from app.auth.deps import install_security
from app.config import PROJECT_ROOT, Settings, get_settings
from app.db import make_engine, make_sessionmaker
from app.errors import RejectNulBytes, install_error_handlers
from app.worker import make_runner


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; the engine is made in the lifespan, never at import."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.database_url)
        app.state.engine = engine
        app.state.sessionmaker = make_sessionmaker(engine)
        runner = make_runner(settings, app.state.sessionmaker, settings.run_worker)
        runner.start()
        app.state.jobs = runner
        yield
        runner.stop()
        engine.dispose()

    # CSRF is checked for every route of the app, so no state-changing route can forget it.
    app = FastAPI(
        title="Sift",
        version=__version__,
        lifespan=lifespan,
        dependencies=[Depends(csrf_protect)],
        docs_url=None,  # served by app.web.docs from static/, under the CSP
        redoc_url=None,
    )
    app.state.settings = settings
    app.mount("/static", StaticFiles(directory=PROJECT_ROOT / "static"), name="static")
    app.include_router(api.router)
    app.include_router(web.router)
    install_error_handlers(app)
    # Inside the security middleware, so its 400 carries the security headers too.
    app.add_middleware(RejectNulBytes)
    install_security(app, settings)
    return app
