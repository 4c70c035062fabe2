"""A virtualenv holding only the distributions named (and what they require), taken from this one.

Its site-packages holds symlinks to the named distributions' files here: no download, no copy of torch's
~1 GB, so it is made in well under a second (pip installing the wheels from a local cache takes tens of
seconds for torch alone). `--without-pip` and no `.pth` back to this environment: nothing else is
importable there — trainwell least of all, which is what a test of a downloaded model needs.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement


def make_isolated_venv(directory: Path, distributions: list[str]) -> Path:
    """Create the virtualenv in `directory`; returns its Python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(directory)], check=True)
    python = directory / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    for distribution in _closure(distributions):
        for top in _top_level_entries(distribution):
            link = site / top.name
            if not link.exists():
                os.symlink(top, link)
    return python


def _closure(names: list[str]) -> list[metadata.Distribution]:
    seen: dict[str, metadata.Distribution] = {}
    pending = list(names)
    while pending:
        name = _canonical(pending.pop())
        if name in seen:
            continue
        try:
            distribution = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # an optional requirement not installed here (setuptools for torch's compile paths)
        seen[name] = distribution
        for text in distribution.requires or []:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                pending.append(requirement.name)
    return list(seen.values())


def _top_level_entries(distribution: metadata.Distribution) -> set[Path]:
    """The distribution's top-level files and folders in site-packages, its .dist-info among them."""
    root = Path(str(distribution.locate_file("")))
    entries = set()
    for file in distribution.files or []:
        parts = Path(str(file)).parts
        if parts and parts[0] not in ("..", "__pycache__") and not parts[0].endswith(".pth"):
            entries.add(root / parts[0])
    return {entry for entry in entries if entry.exists()}


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()
