"""Uploading a table you uploaded already answers 200 with the stored dataset; a `name` in that
form does not rename it, and the answer says so (`Dataset-Name-Kept: true`)."""

from __future__ import annotations

import secrets

import pytest

from tests.stack import Stack

pytestmark = pytest.mark.service


def test_a_reupload_keeps_the_stored_name_and_says_so(stack: Stack) -> None:
    rows = "".join(f"{i % 11},{i % 3}\n" for i in range(60))
    table = f"x,label\n{rows}{secrets.randbelow(10**6) + 100},0\n"  # content no other test uploaded
    files = {"file": ("t.csv", table.encode(), "text/csv")}
    with stack.client(stack.keys["alice"]) as client:
        first = client.post("/v1/datasets", files=files, data={"target": "label", "name": "first"})
        assert first.status_code == 201, first.text
        assert "Dataset-Name-Kept" not in first.headers

        renamed = client.post("/v1/datasets", files=files, data={"target": "label", "name": "second"})
        assert renamed.status_code == 200, renamed.text
        assert renamed.json()["id"] == first.json()["id"] and renamed.json()["name"] == "first"
        assert renamed.headers["Dataset-Name-Kept"] == "true"

        for fields in ({"target": "label"}, {"target": "label", "name": "first"}):  # nothing asked otherwise
            again = client.post("/v1/datasets", files=files, data=fields)
            assert again.status_code == 200 and "Dataset-Name-Kept" not in again.headers, (fields, again.headers)
        assert client.get(f"/v1/datasets/{first.json()['id']}").json()["name"] == "first"
