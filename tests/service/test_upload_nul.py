"""A NUL character (0x00) in an uploaded file's column names or class labels is refused over real
HTTP like one in any other field: a 422 naming the column or the row, nothing stored. PostgreSQL text
cannot hold NUL (it was a 500 there, and SQLite stored it); numpy drops one at a label's end, which
made labels "x" and "x\\0" one class. Run on both stacks (embedded SQLite, PostgreSQL + Redis)."""

from __future__ import annotations

import httpx
import numpy as np
import pytest

from tests.datasets.files import csv_bytes, npz_bytes, parquet_bytes
from tests.stack import Stack

# case, file name, content, target, words the message must hold, the details' column and row
NUL_UPLOADS = [
    ("csv column name", "h.csv", b"a\x00b,y\n1,0\n2,1\n3,0\n", "y", ["column 1's name", "NUL"], 1, None),
    ("csv label", "l.csv", csv_bytes(["a", "label"], [[1, "cat"], [2, "d\x00og"], [3, "cat"]]), "label", [], None, 2),
    ("csv label's end", "e.csv", csv_bytes(["a", "label"], [[1, "x"], [2, "y"], [3, "x\x00"]]), "label", [], None, 3),
    ("parquet column name", "h.parquet", parquet_bytes({"a": [1.0, 2.0], "b\x00": [3.0, 4.0], "y": [0, 1]}), "y",
     ["column 2's name", "NUL"], 2, None),
    ("parquet label", "l.parquet", parquet_bytes({"a": [1.0, 2.0, 3.0], "label": ["x", "y", "x\x00"]}), "label",
     [], None, 3),
    ("npz label", "l.npz", npz_bytes(X=np.ones((3, 2)), y=np.array(["a", "b\x00c", "a"])), "y", [], None, 2),
]  # fmt: skip


def upload(client: httpx.Client, filename: str, data: bytes, target: str) -> httpx.Response:
    return client.post("/v1/datasets", files={"file": (filename, data, "")}, data={"target": target})


def uploaded(stack: Stack, client: httpx.Client) -> tuple[list[str], list[str]]:
    """The caller's uploaded datasets, and the dataset files under the data dir."""
    listed = [d["id"] for d in client.get("/v1/datasets").json()["data"] if d["kind"] == "uploaded"]
    files = sorted(path.name for path in (stack.data_dir / "datasets").glob("*"))
    return listed, files


@pytest.mark.parametrize(("case", "filename", "data", "target", "words", "column", "row"), NUL_UPLOADS)
def test_a_nul_in_a_column_name_or_a_label_is_a_422_naming_it_and_stores_nothing(
    stack: Stack,
    case: str,
    filename: str,
    data: bytes,
    target: str,
    words: list[str],
    column: int | None,
    row: int | None,
) -> None:
    with stack.client(stack.keys["bob"]) as client:
        before = uploaded(stack, client)
        response = upload(client, filename, data, target)
        assert response.status_code == 422, (case, response.text)
        error = response.json()["error"]
        assert error["code"] == "invalid_dataset", (case, error)
        assert "NUL character (0x00)" in error["message"] and all(w in error["message"] for w in words), error
        if column is not None:
            assert error["details"]["column"] == column, error
        if row is not None:
            assert f"at row {row}" in error["message"], error
            assert error["details"] == {"column": target, "row": row}, error
        assert uploaded(stack, client) == before, f"{case}: a refused upload stores nothing"
