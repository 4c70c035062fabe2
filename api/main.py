"""The FastAPI app."""

from __future__ import annotations

from fastapi import FastAPI

from api.errors import install_error_handlers
from api.routes import health, jobs

app = FastAPI(
    title="trainwell",
    version="0.1.0",
    description="Submit PyTorch training jobs, stream their metrics, and learn why the model fits the way it does.",
)
install_error_handlers(app)
app.include_router(health.router)
app.include_router(jobs.router)
