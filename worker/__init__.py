"""Celery app and tasks: claim a job, run the trainer, write metrics, heartbeat, cancel."""
