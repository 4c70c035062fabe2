"""Checkpoint directories whose job no longer exists: a job deleted while its process still ran wrote a
checkpoint after the API removed the directory. The reaper removes them.

A directory is an orphan only when no job row has its name and it has not changed for a lease (a job's
row is committed before any worker creates its directory, so a live job's directory always has its row).
Each round looks only at directories changed within ORPHAN_WINDOW leases — orphans are made by running
jobs, so they are recent — which keeps a round's scan small on a data directory of many finished jobs;
the reaper's first round looks at all of them, for orphans left while no reaper ran.
"""

from __future__ import annotations

import logging
import os
import shutil
import time

from core.settings import Settings
from store.db import session_scope
from store.job_removal import missing_jobs

log = logging.getLogger(__name__)

ORPHAN_WINDOW = 20  # leases


def remove_orphan_checkpoints(settings: Settings, *, everything: bool = False) -> list[str]:
    """Remove the orphan checkpoint directories; returns their names."""
    root = settings.checkpoint_dir
    now = time.time()
    settled, oldest = now - settings.lease_seconds, now - ORPHAN_WINDOW * settings.lease_seconds
    try:
        with os.scandir(root) as entries:
            names = [
                entry.name
                for entry in entries
                if entry.is_dir(follow_symlinks=False)
                and (everything or oldest <= entry.stat().st_mtime)
                and entry.stat().st_mtime < settled
            ]
    except FileNotFoundError:
        return []
    if not names:
        return []
    with session_scope() as session:
        orphans = sorted(missing_jobs(session=session, job_ids=names))
    for name in orphans:
        shutil.rmtree(root / name, ignore_errors=True)
        log.warning("job %s no longer exists: removed its checkpoint directory", name)
    return orphans
