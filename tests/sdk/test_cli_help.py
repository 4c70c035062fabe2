"""`trainwell … --help` prints each help text as it is written: rich reads `[…]` as markup, so an
unescaped `trainwell[plot]` printed as "trainwell". Run as a user would, in a subprocess."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer

from trainwell.cli import app

CLI = Path(sys.executable).with_name("trainwell")
BOX = re.compile(r"[│╭╮╰╯─]")


def _help(*path: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRAINWELL_")}
    run = subprocess.run(
        [str(CLI), *path, "--help"], env={**env, "COLUMNS": "300"}, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, (path, run.stdout, run.stderr)
    return _flat(run.stdout)


def _flat(text: str) -> str:
    """The words of a help screen, without its boxes and line breaks."""
    return " ".join(BOX.sub(" ", text).split())


def _commands(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every command under `command` (typer's own click types: not click.Group's)."""
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from _commands(sub, (*path, name))


def _written(text: str) -> str:
    """What a help text says once rich has read it: `\\[` is an escaped bracket."""
    return _flat(text.replace("\\[", "["))


def test_the_plot_extra_is_named_in_help() -> None:
    assert "(needs trainwell[plot])" in _help("jobs", "plot")
    assert "(needs trainwell[plot])" in _help("jobs")


def test_every_help_text_prints_as_written() -> None:
    commands = list(_commands(typer.main.get_command(app)))
    assert len(commands) > 10, commands
    for path, command in commands:
        shown = _help(*path)
        texts = [command.help or ""] + [getattr(param, "help", None) or "" for param in command.params]
        for text in filter(None, texts):
            assert _written(text) in shown, (path, text)
