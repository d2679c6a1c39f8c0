"""The FastAPI app: REST under /api, OpenAPI at /docs, the dashboard at /."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.staticfiles import StaticFiles

from api import errors_http
from api.auth.access import check_declared
from api.auth.cross_site import CrossSiteMiddleware
from api.auth.headers import SecurityHeadersMiddleware
from api.auth.host_check import HostCheckMiddleware
from api.auth.openapi import document_auth
from api.body import BodyLimitMiddleware
from api.dashboard import routes as dashboard
from api.dashboard import vendor
from api.datasets import routes as datasets
from api.db.session import Database
from api.fleet import health_routes as health
from api.fleet import routes as fleet
from api.memory import keep_freed_memory
from api.observability import routes as metrics
from api.observability.metrics import ApiMetrics
from api.observability.timing import TimingMiddleware
from api.panda import routes as panda
from api.retests import routes as retests
from api.retests.lease import RetestScheduler
from api.studies import routes as studies
from api.trials import routes as trials
from api.trials.dispatch import CelerySender, Dispatcher, Sender
from api.trials.reconciler import Reconciler
from caviar.settings import Settings

WEB_DIR = Path(__file__).resolve().parents[1] / "web"
log = logging.getLogger("caviar.api")


def create_app(
    settings: Settings | None = None, *, sender: Sender | None = None, reconcile: bool = True
) -> FastAPI:
    """Build the app. The database must already be migrated (see ``api.db.migrate``)."""
    settings = settings or Settings()
    keep_freed_memory()  # a suggestion's scoring arrays reuse freed memory, not new mappings

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = Database(settings.resolved_database_url)
        dispatcher = Dispatcher(
            db,
            sender
            or CelerySender(
                settings.resolved_broker_url, settings.trial_queue, settings.task_time_limit + 600
            ),
        )
        app.state.db, app.state.dispatcher, app.state.settings = db, dispatcher, settings
        reconciler = Reconciler(
            db, dispatcher, settings.reconcile_interval, settings.redispatch_after
        )
        app.state.reconciler = reconciler
        retests = RetestScheduler(db, dispatcher, settings.retest_interval)
        if reconcile:
            reconciler.start()
            retests.start()
        # What startup built (modules, the app, its routes) lives as long as the process: full
        # garbage collections stop walking it, so none of them stalls a request (or a study's
        # lock) for the 100+ ms the walk takes. Garbage is collected first, so none is kept.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            if reconcile:
                retests.stop()
                reconciler.stop()
            db.dispose()

    app = FastAPI(
        title="Caviar",
        summary="Distributed hyperparameter tuning: random on the right scale, coarse to fine.",
        lifespan=lifespan,
        docs_url=None,  # served from the vendored assets below, not a CDN
        redoc_url=None,
    )
    errors_http.install(app)
    # Large answers (trial lists, plot data) shrink about 5x; small ones (ask, tell) skip it.
    app.add_middleware(GZipMiddleware, minimum_size=1024, compresslevel=5)
    # Outermost last: timing, security headers, the Host check, the cross-site check, then
    # the body limit (bodies are bounded before they are parsed; uploads set their own).
    # Who may call a route is declared on the route (api.auth.access).
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_body_bytes)
    app.add_middleware(CrossSiteMiddleware, allowed=settings.allowed_origins)
    app.add_middleware(HostCheckMiddleware, allowed_hosts=settings.allowed_hosts)
    app.add_middleware(SecurityHeadersMiddleware)
    app.state.metrics = ApiMetrics(app.state)
    app.add_middleware(TimingMiddleware, metrics=app.state.metrics)
    document_auth(app)
    rest = APIRouter(prefix="/api")
    rest.include_router(health.router)
    rest.include_router(studies.router)
    rest.include_router(retests.router)
    rest.include_router(trials.router)
    rest.include_router(panda.router)
    rest.include_router(datasets.router)
    rest.include_router(fleet.router)
    app.include_router(rest)
    app.include_router(metrics.router)
    app.include_router(vendor.router)
    app.include_router(vendor.docs_router(app.title, app.openapi_url or "/openapi.json"))
    app.include_router(dashboard.router)
    app.mount("/", StaticFiles(directory=WEB_DIR, html=True), name="web")
    check_declared(app)
    return app
