"""Text the database can store. PostgreSQL text cannot hold NUL (0x00): such a value reaching the
database fails there as a 500 (SQLite stores it), so the API refuses it up front, the same on both.
"""

from __future__ import annotations

from typing import Any

from api.services.errors import InvalidField

NUL_MESSAGE = "NUL characters (0x00) are not allowed"


def nul_field(value: Any, field: str) -> str | None:
    """The first field (dotted, as in validation errors) whose text holds a NUL character, if any."""
    if isinstance(value, str):
        return field if "\x00" in value else None
    if isinstance(value, dict):
        children: Any = value.items()
    elif isinstance(value, list | tuple):
        children = enumerate(value)
    else:
        return None
    for key, child in children:
        found = nul_field(child, f"{field}.{key}" if field else str(key))
        if found:
            return found
    return None


def refuse_nul(value: Any, field: str = "") -> None:
    """Raise InvalidField naming the first field of `value` that holds a NUL character."""
    if found := nul_field(value, field):
        raise InvalidField(found, NUL_MESSAGE)
