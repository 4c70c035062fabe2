"""The READMEs' examples work as written, against a live stack started the way `make run` starts it:
every `sh` block of README.md in order in one shell (the blocks that run `make` itself are that
stack), and every `python` block of sdk/README.md."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.stack import ROOT, Stack, start_stack, stop_stack

README = ROOT / "README.md"
BLOCK = re.compile(r"^```sh\n(.*?)^```", re.S | re.M)
PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
README_URL = "http://127.0.0.1:8000"
# Fails the script on any HTTP error, showing the body, as a reader would notice one.
PRELUDE = """set -euo pipefail
curl() { command curl --fail-with-body --max-time 300 "$@"; echo; }
"""
HOUSES = "rooms,area,price\n" + "".join(
    f"{r},{40 + 13 * i % 97},{100 + 7 * r + (i * 31) % 50}\n" for i, r in enumerate([1, 2, 3, 4, 5] * 12)
)


def readme_blocks() -> list[str]:
    """The README's shell blocks, less those that start the service or the suite (`make run`, `make test`)."""
    return [block for block in BLOCK.findall(README.read_text()) if not re.search(r"\bmake (run|test)\b", block)]


@pytest.fixture
def readme_stack(tmp_path: Path) -> Iterator[Stack]:
    stack = start_stack(tmp_path)
    yield stack
    stop_stack(stack)


def test_the_readme_has_blocks_to_run() -> None:
    blocks = readme_blocks()
    assert len(blocks) >= 4, "the README's examples are no longer found"
    assert f"API={README_URL}" in blocks[0], "the first block names the service's address"


def _reader(stack: Stack, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A directory like the checkout's, as a reader's shell sees it, and the environment to run in."""
    work = tmp_path / "reader"
    work.mkdir()
    (work / "var").symlink_to(stack.data_dir)  # where the README says the key is
    (work / "examples").symlink_to(ROOT / "examples")
    (work / ".venv").symlink_to(ROOT / ".venv")
    (work / "houses.csv").write_text(HOUSES)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRAINWELL_")}
    env["TRAINWELL_URL"] = stack.base_url
    return work, env


@pytest.mark.service
def test_every_readme_command_runs_against_a_live_stack(readme_stack: Stack, tmp_path: Path) -> None:
    work, env = _reader(readme_stack, tmp_path)
    script = PRELUDE + "\n".join(readme_blocks()).replace(README_URL, readme_stack.base_url)
    result = subprocess.run(["bash", "-c", script], cwd=work, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, f"stdout:\n{result.stdout[-6000:]}\nstderr:\n{result.stderr[-4000:]}"
    compact = result.stdout.replace(" ", "")
    assert '"verdict":"diverged"' in compact, result.stdout[-4000:]
    assert '"origin":"remedy"' in compact, "the remedy was launched as a job"
    assert (work / "surface.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (work / "surface-again.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.service
def test_the_sdk_readme_examples_run_against_a_live_stack(readme_stack: Stack, tmp_path: Path) -> None:
    work, env = _reader(readme_stack, tmp_path)
    blocks = PYTHON_BLOCK.findall((ROOT / "sdk" / "README.md").read_text())
    assert blocks, "sdk/README.md has no Python example"
    for block in blocks:
        result = subprocess.run(
            [str(ROOT / ".venv" / "bin" / "python"), "-c", block],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert result.returncode == 0, f"{block}\nstdout:\n{result.stdout[-4000:]}\nstderr:\n{result.stderr[-4000:]}"
