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
from api.openapi import install_openapi
from api.request_id import install_request_id
from api.routes import (
    dataset_removal,
    datasets,
    diagnosis,
    events,
    health,
    jobs,
    landscape,
    metric_export,
    model_download,
    predictions,
    remedies,
    runs,
    sweeps,
    ui,
    usage,
    workers,
)
from core.process import exit_with_parent
from core.settings import get_settings
from store.db import use_api_pools

use_api_pools()  # this process's engines get the API's connection pools (store/db.py)


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    if get_settings().exit_with_parent:
        # under `make run` with several API processes, uvicorn's own worker processes must die with
        # the uvicorn parent as that parent dies with the supervisor (api/supervisor.py)
        exit_with_parent()
    # Everything imported and every route built: freeze that heap (~145k objects) out of the cyclic
    # collector's sight, so that a full collection does not walk it and stall every request in flight
    # (the pause that set the submit p99; BENCHMARKS.md, bench/service.py).
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
install_openapi(app)
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
app.include_router(metric_export.router)
app.include_router(diagnosis.router)
app.include_router(remedies.router)
app.include_router(landscape.router)
app.include_router(model_download.router)
app.include_router(predictions.router)
app.include_router(events.router)
app.include_router(ui.router)
app.include_router(datasets.router)
app.include_router(dataset_removal.router)
app.include_router(workers.router)
app.include_router(usage.router)
app.include_router(sweeps.router)
app.include_router(runs.router)
