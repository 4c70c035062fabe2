"""Remedies within the service's limits: the ones that grow a job are clamped or shrunk to fit, the rest
are offered only if launching them would be accepted (the JobSpec schema, then `ServiceLimits`)."""

from __future__ import annotations

from tests.diagnose.builders import make_facts, make_record, make_spec
from trainer.diagnose import curves
from trainer.diagnose import remedies as fix
from trainwell.diagnosis import patched_spec
from trainwell.limits import ServiceLimits
from trainwell.model_size import DATASET_SHAPES, count_parameters

DIGITS = DATASET_SHAPES["digits"]
SLOW = [0.693 - 0.01 * epoch for epoch in range(20)]  # a high loss still falling: "more epochs" applies


def _limits(max_epochs: int = 10_000, max_model_parameters: int = 50_000_000) -> ServiceLimits:
    return ServiceLimits(max_epochs=max_epochs, max_model_parameters=max_model_parameters)


def test_more_epochs_doubles_up_to_the_epoch_limit_and_is_dropped_at_it() -> None:
    def epochs_remedy(epochs: int, limits: ServiceLimits | None) -> object:
        job = make_record(train_loss=SLOW, val_loss=SLOW, spec=make_spec(epochs=epochs), limits=limits)
        finding = curves.check_slow_convergence(job)
        assert finding is not None
        return next((r.spec_patch["epochs"] for r in finding.remedies if "epochs" in r.spec_patch), None)

    assert epochs_remedy(30, _limits()) == 60
    assert epochs_remedy(30, _limits(max_epochs=40)) == 40  # clamped to the limit
    assert epochs_remedy(40, _limits(max_epochs=40)) is None  # at the limit already: not offered
    assert epochs_remedy(80_000, None) == 100_000  # no deployment: the schema's own bound


def test_a_bigger_model_is_narrowed_until_the_parameter_limit_admits_it() -> None:
    spec = make_spec("digits", model={"hidden": [512, 512]})
    facts = make_facts(shape=DIGITS, parameters=count_parameters(spec, DIGITS))
    unlimited = fix.bigger(make_record(spec=spec, facts=facts))
    assert unlimited is not None and unlimited.spec_patch == {"model": {"hidden": [1024, 1024, 1024]}}

    limits = _limits(max_model_parameters=600_000)
    remedy = fix.bigger(make_record(spec=spec, facts=facts, limits=limits))
    assert remedy is not None
    grown = patched_spec(spec, remedy.spec_patch)
    assert limits.fits(grown, DIGITS) and count_parameters(grown, DIGITS) > count_parameters(spec, DIGITS)
    assert grown.model.hidden == [512, 512, 512]  # halved once: 3 layers of 512 fit in 600k

    at_limit = _limits(max_model_parameters=count_parameters(spec, DIGITS))
    assert fix.bigger(make_record(spec=spec, facts=facts, limits=at_limit)) is None  # nothing bigger fits


def test_present_keeps_only_remedies_that_launching_accepts() -> None:
    fast = make_spec("digits", optimizer={"name": "adam", "lr": 50.0}, model={"hidden": [8, 4096]})
    job = make_record(spec=fast, facts=make_facts(shape=DIGITS), limits=_limits(max_model_parameters=100_000))
    offered = fix.present(job, fix.raise_lr(fast), fix.lower_lr(fast), fix.shallower(fast))
    # lr 150 is past the schema's 100; one layer of 4096 on 64 features is 307k parameters (the job has 78k)
    assert [r.spec_patch for r in offered] == [{"optimizer": {"lr": 5.0}}]
