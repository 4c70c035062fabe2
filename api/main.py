"""The FastAPI app."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from api.docs import install_docs
from api.errors import install_error_handlers
from api.limits import install_body_limit
from api.observability import install_metrics
from api.request_id import install_request_id
from api.routes import datasets, diagnosis, events, health, jobs, landscape, remedies, ui
from core.settings import get_settings


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    # Everything imported and every route built: freeze that heap (~145k objects) out of the cyclic
    # collector's sight. Each full collection walked it for 70–96 ms, a pause that stalled every
    # request in flight and set the submit p99; after the freeze they take 6–11 ms (bench/service.py).
    gc.collect()
    gc.freeze()
    yield


app = FastAPI(
    lifespan=lifespan,
    title="trainwell",
    version="0.1.0",
    description="Submit PyTorch training jobs, stream their metrics, and learn why the model fits the way it does.",
    docs_url=None,  # served from local assets by install_docs
    redoc_url=None,
)
install_error_handlers(app)
install_body_limit(app)
install_docs(app)
install_metrics(app)
if get_settings().cors_origins:  # off unless an allow-list is configured
    app.add_middleware(
        CORSMiddleware,
        allow_origins=get_settings().cors_origins,
        allow_methods=["GET", "POST"],
        allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "Last-Event-ID"],
    )
install_request_id(app)
app.include_router(health.router)
app.include_router(jobs.router)
app.include_router(diagnosis.router)
app.include_router(remedies.router)
app.include_router(landscape.router)
app.include_router(events.router)
app.include_router(ui.router)
app.include_router(datasets.router)
