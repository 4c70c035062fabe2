"""/v1/sweeps: create (a grid or a search), read (the comparison), what mattered (importance), list, cancel.
A sweep's trials are jobs: /v1/jobs?sweep_id=."""

from __future__ import annotations

from typing import Annotated, Any, cast

from fastapi import APIRouter, Body, Depends, Query, Request, Response, status

from api.deps import CallerDep, SessionDep, SettingsDep, refuse_malformed_parameters
from api.errors import AUTHENTICATED, ApiError, error_responses
from api.idempotency import REPLAYED, IdempotencyKey
from api.routes.jobs import require_json
from api.services import sweep_importance, sweeps
from api.strict_body import validate_strictly
from store.jobs import Cursor
from trainwell.sweep import Sweep, SweepImportance, SweepPage, SweepRequest

SWEEP_EXAMPLES: dict[str, Any] = {
    "optimizers × batch sizes": {
        "summary": "optimizers × batch sizes on digits, three seeds",
        "value": cast(dict[str, Any], SweepRequest.model_config.get("json_schema_extra"))["examples"][0],
    },
    "a search": {
        "summary": "a TPE search over the learning rate, the width and the batch size on digits, two seeds",
        "value": cast(dict[str, Any], SweepRequest.model_config.get("json_schema_extra"))["examples"][1],
    },
}

router = APIRouter(
    prefix="/v1/sweeps", tags=["sweeps"], responses=AUTHENTICATED, dependencies=[Depends(refuse_malformed_parameters)]
)


async def strict_body(http: Request) -> SweepRequest | None:
    """The body as its schema reads (api/strict_body.py); None without one: the declared body parameter
    answers that it is required."""
    raw = await http.body()
    return validate_strictly(SweepRequest, raw) if raw else None


StrictSweepRequest = Annotated[SweepRequest | None, Depends(strict_body)]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=Sweep,
    dependencies=[Depends(require_json)],
    responses={201: REPLAYED, **error_responses(400, 409, 413, 415, 429)},
)
def create_sweep(
    _: Annotated[SweepRequest, Body(openapi_examples=SWEEP_EXAMPLES)],
    request: StrictSweepRequest,
    session: SessionDep,
    caller: CallerDep,
    settings: SettingsDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> Sweep:
    """Run a grid over spec fields × seeds, or a search (ranges and choices an Optuna sampler draws
    configurations from, each run once per seed): every cell's spec, or each range's ends and every choice,
    is checked first (a refusal is a 422 naming the field, and nothing is stored), then the first
    `max_parallel` trials are queued; a search samples its next configuration as each trial ends."""
    assert request is not None  # FastAPI refused a missing body already
    created = sweeps.create_sweep(
        session=session, caller=caller, settings=settings, request=request, idempotency_key=idempotency_key
    )
    if created.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return created.sweep


@router.get("", response_model=SweepPage, responses=error_responses(400))
def read_sweeps(
    session: SessionDep,
    caller: CallerDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(description="the previous page's `next_cursor`")] = None,
) -> SweepPage:
    """Your sweeps, newest first (without their tables: GET one for its comparison)."""
    try:
        position = Cursor.decode(cursor) if cursor else None
    except ValueError:
        raise ApiError(400, "invalid_cursor", "cursor is not one this API returned") from None
    return sweeps.read_sweeps(session=session, caller=caller, limit=limit, cursor=position)


@router.get("/{sweep_id}", response_model=Sweep, responses=error_responses(404))
def read_sweep(sweep_id: str, session: SessionDep, caller: CallerDep) -> Sweep:
    """The sweep with its comparison: a row per cell (mean ± std over its seeds), the best cell against
    the runner-up (Welch's t-test, with the best cell's objective and its seed spread), the comparative
    findings, and the accounting: epochs its trials trained against a full run of every trial."""
    return sweeps.read_sweep(session=session, caller=caller, sweep_id=sweep_id)


@router.get("/{sweep_id}/importance", response_model=SweepImportance, responses=error_responses(404))
def read_sweep_importance(sweep_id: str, session: SessionDep, caller: CallerDep) -> SweepImportance:
    """Each varying parameter's share of the variation of the objective (the mean over seeds of the best
    epoch's val_loss) over the finished configurations, by Optuna's fANOVA (seeded: the same configurations
    answer the same importances), or PED-ANOVA from 1,000 of them; with each one's best region. Fewer than
    two finished configurations, or fewer than two varying parameters, answer no parameters and a `reason`."""
    return sweep_importance.read_importance(session=session, caller=caller, sweep_id=sweep_id)


@router.post("/{sweep_id}/cancel", response_model=Sweep, responses=error_responses(404, 409))
def cancel_sweep(sweep_id: str, session: SessionDep, caller: CallerDep) -> Sweep:
    """Cancel every unfinished trial; nothing more is released."""
    return sweeps.cancel_sweep(session=session, caller=caller, sweep_id=sweep_id)
