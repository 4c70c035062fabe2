"""The HTTP layer: FastAPI app, routes per resource, auth. Never imports torch or the trainer."""
