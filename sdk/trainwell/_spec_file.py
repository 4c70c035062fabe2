"""Turning what `jobs.create` accepts — a JobSpec, a dict, or a YAML/JSON file — into the request body."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from trainwell._exceptions import TrainwellError
from trainwell.spec import JobSpec

SpecInput = JobSpec | Mapping[str, Any] | str | os.PathLike[str]


class SpecFileError(TrainwellError):
    """A spec file that cannot be read or is not one YAML/JSON mapping."""


def load_spec_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The mapping in a `.yaml`/`.yml`/`.json` file; validation is left to the server (its 422 names the field)."""
    file = Path(path)
    try:
        text = file.read_text()
    except OSError as exc:
        raise SpecFileError(f"cannot read spec file {file}: {exc.strerror or exc}") from None
    try:
        data = json.loads(text) if file.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise SpecFileError(f"{file} is not valid {'JSON' if file.suffix == '.json' else 'YAML'}: {exc}") from None
    if not isinstance(data, dict):
        raise SpecFileError(f"{file} must hold one mapping (a job spec), not {type(data).__name__}")
    return data


def spec_payload(spec: SpecInput) -> dict[str, Any]:
    if isinstance(spec, JobSpec):
        return spec.model_dump(mode="json")
    if isinstance(spec, Mapping):
        # sent as given: the server's 422 names a wrong field exactly as the caller spelled it
        return dict(spec)
    return load_spec_file(spec)
