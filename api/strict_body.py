"""A request body validated as its published JSON Schema reads, not as pydantic's lax mode would.

Lax mode takes `true` or `"3"` for an integer and 0 for a boolean, which the schema refuses; strict
mode refuses `3.0` for an integer, which JSON Schema counts as one (an integer is any number whose
fraction is zero). So the body's integral numbers are written as integers first, then validated strictly.
"""

from __future__ import annotations

import json
import math
from typing import Any, TypeVar

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

ModelT = TypeVar("ModelT", bound=BaseModel)


def _integral_as_int(value: Any) -> Any:
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_integral_as_int(item) for item in value]
    if isinstance(value, dict):
        return {key: _integral_as_int(item) for key, item in value.items()}
    return value


def validate_strictly(model: type[ModelT], raw: bytes) -> ModelT:
    """`raw` as `model`, refused (RequestValidationError, the 422 every route answers) where the schema
    refuses it. Only for a body that parsed already: the route's declared body parameter saw to that."""
    try:
        document = json.dumps(_integral_as_int(json.loads(raw)))
        return model.model_validate_json(document, strict=True)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False), body=raw.decode(errors="replace")) from None
