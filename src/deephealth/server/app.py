"""The FastAPI application factory of the DeepHealth front-end.

`create_app(config)` opens the database (migrating it to the newest schema unless told not to),
seeds the model families from the zoo and the default hyper-parameters, mounts the API routers
(OpenAPI docs at /docs, from local files), the pages and their static files (served locally: the front-end works
offline), limits request bodies per route while they stream (uploads, images, everything else),
and answers validation errors without echoing what was sent. Worker processes are not
started here but by `deephealth serve` (see `deephealth.server.jobs.supervisor`).
"""

from __future__ import annotations

import re
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from deephealth.server.config import ServerConfig
from deephealth.server.db.engine import make_engine, make_sessionmaker
from deephealth.server.error_handlers import install_error_handlers
from deephealth.server.uploads import BodyLimitMiddleware

STATIC_DIR = Path(__file__).resolve().parent / "pages" / "static"


def create_app(config: ServerConfig | None = None, migrate: bool = True) -> FastAPI:
    """Build the application.

    Args:
        config: Server settings (default: from the environment, see `ServerConfig.from_env`).
        migrate: Upgrade the database schema to the newest Alembic revision first.

    Returns:
        The FastAPI app; `app.state.config`, `app.state.engine` and `app.state.sessionmaker`
        are set.
    """
    from deephealth.server import seed
    from deephealth.server.api import ROUTERS
    from deephealth.server.auth import configure_hashing
    from deephealth.server.db.migrate import upgrade
    from deephealth.server.pages.docs import router as docs_router
    from deephealth.server.pages.federations import router as federation_pages_router
    from deephealth.server.pages.routes import router as pages_router
    from deephealth.server.pages.viewers import router as viewer_pages_router

    config = config or ServerConfig.from_env()
    configure_hashing(config.argon2_time_cost, config.argon2_memory_kib)
    config.ensure_dirs()
    engine = make_engine(config.database_url)
    if migrate:
        upgrade(engine)
    sessions = make_sessionmaker(engine)
    with sessions() as db:
        seed.seed_defaults(db)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        yield
        engine.dispose()

    app = FastAPI(
        title="DeepHealth",
        version=_version(),
        description="Datasets, trainings, reports and inference for medical imaging projects.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.config = config
    app.state.engine = engine
    app.state.sessionmaker = sessions
    for router in ROUTERS:
        app.include_router(router)
    app.include_router(pages_router)
    app.include_router(docs_router)
    app.include_router(viewer_pages_router)
    app.include_router(federation_pages_router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_middleware(
        BodyLimitMiddleware, limit=config.max_request_bytes, rules=body_rules(config)
    )
    install_error_handlers(app)
    return app


def body_rules(config: ServerConfig) -> list[tuple[re.Pattern, int]]:
    """The request-body limits of the upload endpoints (every other request gets
    `config.max_request_bytes`)."""
    slack = 64 * 1024  # multipart headers and form fields around the file
    return [
        (re.compile(r"^/api/projects/[^/]+/(datasets|weights)$"), config.max_upload_bytes),
        (re.compile(r"^/api/v1/predict/[^/]+$"), config.max_image_upload_bytes + slack),
        (re.compile(r"^/api/weights/[^/]+/recordings$"), config.max_image_upload_bytes + slack),
    ]


def _version() -> str:
    from deephealth import __version__

    return __version__
