"""`trainwell datasets upload --name` of a table uploaded already: the service keeps its first name,
and the CLI says so on stderr (stdout stays the dataset, one JSON document with --json)."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from tests.sdk.test_cli import trainwell
from tests.stack import Stack


def test_a_reupload_under_another_name_says_the_name_was_kept(stack: Stack, tmp_path: Path) -> None:
    csv = tmp_path / "table.csv"
    rows = "".join(f"{i % 9},{i % 2}\n" for i in range(50))
    csv.write_text(f"x,y\n{rows}{secrets.randbelow(10**6) + 100},1\n")  # content no other test uploaded

    first = trainwell(stack, "datasets", "upload", str(csv), "--target", "y", "--name", "first", "--json")
    assert first.returncode == 0 and "note" not in first.stderr, first.stderr
    again = trainwell(stack, "datasets", "upload", str(csv), "--target", "y", "--name", "second", "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["name"] == "first"
    assert "uploaded already" in again.stderr and "'first'" in again.stderr and "'second'" in again.stderr
