"""`pip install ./sdk` into a clean virtual environment gives a client and CLI without the service's stack."""

from __future__ import annotations

import shutil
import subprocess
import venv
from pathlib import Path

SDK = Path(__file__).resolve().parents[2] / "sdk"
HEAVY = ("torch", "celery", "sqlalchemy", "fastapi", "numpy")
PROBE = f"""
import sys
sys.argv = ["trainwell", "--help"]
import trainwell, trainwell.cli
try:
    trainwell.cli.main()
except SystemExit as exit:
    assert exit.code in (0, None), exit.code
loaded = sorted(m for m in sys.modules if m.split(".")[0] in {HEAVY!r})
print("LOADED", loaded)
"""


def test_clean_install_has_no_torch_celery_or_sqlalchemy(tmp_path: Path) -> None:
    source = tmp_path / "sdk"
    # a copy, so the build leaves nothing in the checkout
    shutil.copytree(SDK, source, ignore=shutil.ignore_patterns("*.egg-info", "build", "__pycache__"))
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True, system_site_packages=False)
    python = env_dir / "bin" / "python"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", str(source)], capture_output=True, text=True, timeout=600
    )
    assert install.returncode == 0, install.stderr

    installed = subprocess.run([str(python), "-m", "pip", "list", "--format=freeze"], capture_output=True, text=True)
    names = {line.split("==")[0].lower() for line in installed.stdout.splitlines()}
    assert {"trainwell", "httpx", "pydantic", "typer", "rich", "pyyaml"} <= names
    assert not names & {"torch", "celery", "sqlalchemy", "fastapi", "numpy"}, names

    probe = subprocess.run([str(python), "-c", PROBE], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert probe.returncode == 0, probe.stderr
    assert "LOADED []" in probe.stdout, probe.stdout
    assert "submit" in probe.stdout and "jobs" in probe.stdout

    cli = subprocess.run(
        [
            str(
                env_dir / "bin" / "trainwell",
            ),
            "--help",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert cli.returncode == 0 and "Usage: trainwell" in cli.stdout
