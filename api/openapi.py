"""The served OpenAPI document: FastAPI's, completed with what the pydantic models cannot say.

The JobSpec bounds what a spec can ever be; a deployment allows less, and a client generated from
/openapi.json (or Swagger's form) should refuse what this server refuses. So the served schema
carries this process's settings:

- `JobSpec.epochs` has TRAINWELL_MAX_EPOCHS as its maximum;
- `JobSpec.model` says TRAINWELL_MAX_MODEL_PARAMETERS (a parameter count is no JSON Schema keyword);
- `DatasetSpec.name` lists the shipped datasets and the pattern of an upload's id, which its
  validator checks;
- the path parameters declared once in api/deps.py say what they name, with an example where one
  works for every caller.

The document is also what a 405's Allow lists (`documented_methods`, api/errors.py).
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI

from core.settings import Settings, get_settings
from trainwell.spec import KNOWN_DATASETS, UPLOADED_DATASET_ID

PATH_PARAMETERS: dict[str, dict[str, Any]] = {
    "job_id": {"description": "the `id` of one of your jobs, as POST /v1/jobs answered it"},
    "dataset_id": {
        "description": "a shipped dataset's name, or the `id` (`ds_…`) POST /v1/datasets answered",
        "examples": {"shipped": {"summary": "a shipped dataset", "value": "iris"}},
    },
}
# a shipped dataset can be read but never deleted: the delete takes an upload's id, which no example knows
DELETE_PATH_PARAMETERS: dict[str, dict[str, Any]] = {
    "dataset_id": {"description": "the `id` (`ds_…`) POST /v1/datasets answered for one of your uploads"},
}


def install_openapi(app: FastAPI) -> None:
    """Serve FastAPI's generated document completed by `complete_schema`, built once per process."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            complete_schema(generate(), get_settings())
        assert app.openapi_schema is not None
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def complete_schema(schema: dict[str, Any], settings: Settings) -> dict[str, Any]:
    components = schema["components"]["schemas"]
    job_spec = components["JobSpec"]["properties"]
    epochs = job_spec["epochs"]
    epochs["maximum"] = min(epochs["maximum"], settings.max_epochs)
    epochs["description"] = f"at most {epochs['maximum']:,} here (TRAINWELL_MAX_EPOCHS)"
    job_spec["model"]["description"] = (
        f"at most {settings.max_model_parameters:,} trainable parameters here (TRAINWELL_MAX_MODEL_PARAMETERS), "
        "counted from the spec and the dataset's shape; more is a 422 model_too_large"
    )
    components["DatasetSpec"]["properties"]["name"]["anyOf"] = [
        {"enum": sorted(KNOWN_DATASETS)},
        {"pattern": UPLOADED_DATASET_ID.pattern},
    ]
    for operations in schema["paths"].values():
        for method, operation in operations.items():
            documented = DELETE_PATH_PARAMETERS if method == "delete" else PATH_PARAMETERS
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path":
                    parameter.update(documented.get(parameter["name"], PATH_PARAMETERS.get(parameter["name"], {})))
    return schema


def documented_methods(schema: dict[str, Any], path: str) -> set[str]:
    """The methods the schema documents for a request path (`/v1/jobs/abc/landscape`: GET, POST)."""
    return {
        method.upper()
        for template, operations in schema["paths"].items()
        if _path_pattern(template).fullmatch(path)
        for method in operations
    }


def _path_pattern(template: str) -> re.Pattern[str]:
    """/v1/jobs/{job_id}/landscape → /v1/jobs/[^/]+/landscape: a path parameter is one segment."""
    return re.compile("[^/]+".join(re.escape(part) for part in re.split(r"\{[^}]+\}", template)))
