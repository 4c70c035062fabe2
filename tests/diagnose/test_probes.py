"""Probe runs: when they are planned, what their specs are, and how their results decide the verdict."""

from __future__ import annotations

from tests.diagnose.builders import healthy, make_facts, make_record, make_spec
from trainer.diagnose.probes import plan_probes, probe_findings, probe_patch
from trainer.diagnose.rules import run_rules
from trainer.diagnose.verdict import decide
from trainwell.diagnosis import FindingCode, Probe, ProbeKind, Verdict, patched_spec
from trainwell.limits import ServiceLimits
from trainwell.model_size import DATASET_SHAPES, count_parameters

MOONS = DATASET_SHAPES["moons"]


def test_probes_are_planned_only_when_the_loss_is_at_least_a_quarter_of_the_trivial_one() -> None:
    assert plan_probes(make_record()) == []  # a good fit: 0.07 of ln 2
    linear = make_spec(model={"hidden": []})
    moderate = make_record(train_loss=[0.3] * 12, val_loss=[0.3] * 12, test_loss=[0.3] * 12, spec=linear)
    probes = plan_probes(moderate)
    assert [p.kind for p in probes] == [ProbeKind.easier, ProbeKind.bigger]
    assert all(p.original_train_loss == 0.3 and p.job_id is None for p in probes)
    off = make_spec(model={"hidden": []}, diagnosis={"probes": False})
    assert plan_probes(make_record(train_loss=[0.6] * 12, spec=off)) == []
    diverged = make_record(train_loss=[0.6] * 12, spec=linear, diverged="the loss became NaN")
    assert plan_probes(diverged) == []


def test_the_easier_probe_is_shallower_relu_batchnorm_adam_and_the_bigger_one_wider_and_deeper() -> None:
    spec = make_spec(
        model={"hidden": [32, 32, 32, 32], "activation": "sigmoid"},
        optimizer={"name": "sgd", "lr": 0.5, "momentum": 0.9, "nesterov": True},
        schedule={"name": "cosine", "warmup_epochs": 2},
        early_stopping={"patience": 3},
        dataset={"name": "moons", "validation": {"kfold": 5}},
        epochs=400,
        name="deep",
    )
    easier = patched_spec(spec, probe_patch(spec, ProbeKind.easier, MOONS, None) or {})
    assert easier.model.hidden == [32] and easier.model.activation == "relu" and easier.model.norm == "batch"
    assert (easier.optimizer.name, easier.optimizer.lr, easier.optimizer.nesterov) == ("adam", 0.001, False)
    assert easier.schedule.name == "constant" and easier.early_stopping is None
    assert easier.epochs == 50 and easier.dataset.validation.model_dump() == {"holdout": 0.2}
    assert not easier.diagnosis.probes and not easier.instrumentation.enabled
    assert easier.name == "easier probe of deep" and easier.dataset.name == spec.dataset.name
    bigger = patched_spec(spec, probe_patch(spec, ProbeKind.bigger, MOONS, None) or {})
    assert bigger.model.hidden == [64] * 5
    linear = make_spec(model={"hidden": []})
    assert patched_spec(linear, probe_patch(linear, ProbeKind.bigger, MOONS, None) or {}).model.hidden == [64, 64]


def test_no_easier_probe_for_a_job_that_already_uses_the_easy_recipe() -> None:
    easy = make_spec(model={"hidden": [64], "norm": "batch"})
    assert probe_patch(easy, ProbeKind.easier, MOONS, None) is None
    assert probe_patch(easy, ProbeKind.bigger, MOONS, None) is not None


def test_every_probe_stays_within_the_service_limits() -> None:
    spec = make_spec("digits", model={"hidden": [512, 512]})
    shape = DATASET_SHAPES["digits"]
    limits = ServiceLimits(max_epochs=10, max_model_parameters=200_000)
    for kind in ProbeKind:
        patch = probe_patch(spec, kind, shape, limits)
        assert patch is not None
        probe = patched_spec(spec, patch)
        assert limits.fits(probe, shape) and probe.epochs == 10, kind
    assert count_parameters(patched_spec(spec, probe_patch(spec, ProbeKind.bigger, shape, None) or {}), shape) > 200_000
    tiny = ServiceLimits(max_epochs=10, max_model_parameters=100)
    assert probe_patch(spec, ProbeKind.bigger, shape, tiny) is None  # nothing bigger fits: no probe
    assert probe_patch(spec, ProbeKind.easier, shape, tiny) is None  # nor the one-layer easier one
    assert (
        plan_probes(
            make_record(
                train_loss=[2.0] * 12,
                val_loss=[2.0] * 12,
                spec=spec,
                facts=make_facts(shape=shape, trivial_loss=2.3),
                limits=tiny,
            )
        )
        == []
    )


def _probe(kind: ProbeKind, train: float, val: float, original: float = 0.69) -> Probe:
    return Probe(
        kind=kind,
        spec_patch=probe_patch(HIGH.spec, kind, MOONS, None) or {},
        job_id=f"{kind.value}-job",
        status="succeeded",
        train_loss=train,
        val_loss=val,
        original_train_loss=original,
        original_val_loss=original,
    )


HIGH = make_record(
    {**healthy(12), "train_loss": [0.69] * 12, "val_loss": [0.69] * 12, "test_loss": [0.69] * 12},
    spec=make_spec(model={"hidden": [64] * 6, "activation": "sigmoid"}),
)


def test_a_shallow_probe_that_trains_makes_it_optimization() -> None:
    findings = run_rules(HIGH)
    probes = [_probe(ProbeKind.easier, 0.05, 0.07), _probe(ProbeKind.bigger, 0.04, 0.06)]
    verdict, ordered, summary, _ = decide(findings + probe_findings(findings, probes))
    assert verdict == Verdict.optimization and ordered[0].code == FindingCode.easier_probe_fits_better
    assert ordered[0].evidence["probe_job_id"] == "easier-job" and "probe" in summary
    assert "try the easier probe's model and optimizer" in summary, summary  # the remedy reads as a sentence
    assert ordered[0].remedies[0].spec_patch["model"]["hidden"] == [64]


def test_only_a_bigger_probe_that_also_validates_better_makes_it_model_bias() -> None:
    linear = make_record(
        train_loss=[0.69] * 12, val_loss=[0.69] * 12, test_loss=[0.69] * 12, spec=make_spec(model={"hidden": []})
    )
    findings = run_rules(linear)
    bias = [_probe(ProbeKind.easier, 0.68, 0.69), _probe(ProbeKind.bigger, 0.05, 0.08)]
    verdict, ordered, _, _ = decide(findings + probe_findings(findings, bias))
    assert verdict == Verdict.model_bias and ordered[0].code == FindingCode.bigger_probe_fits_better
    memorizes = [_probe(ProbeKind.easier, 0.68, 0.69), _probe(ProbeKind.bigger, 0.05, 0.9)]
    extra = probe_findings(findings, memorizes)
    assert [f.code for f in extra] == [FindingCode.probes_inconclusive]
    verdict, _, summary, _ = decide(findings + extra)
    assert verdict == Verdict.model_bias and "no probe did better either" in summary


def test_a_moderate_loss_needs_a_probe_to_halve_it() -> None:
    moderate = make_record(
        train_loss=[0.25] * 12, val_loss=[0.25] * 12, test_loss=[0.25] * 12, spec=make_spec(model={"hidden": []})
    )
    findings = run_rules(moderate)
    assert decide(findings)[0] == Verdict.good_fit
    slight = [_probe(ProbeKind.bigger, 0.2, 0.2, original=0.25)]
    assert decide(findings + probe_findings(findings, slight))[0] == Verdict.good_fit
    halved = [_probe(ProbeKind.bigger, 0.02, 0.03, original=0.25)]
    assert decide(findings + probe_findings(findings, halved))[0] == Verdict.model_bias


def test_a_probe_reads_its_outcome_from_its_job_summary() -> None:
    planned = Probe(kind=ProbeKind.easier, job_id="j", original_train_loss=0.69)
    running = planned.with_outcome("running", None)
    assert running.status == "running" and running.train_loss is None and not running.finished
    done = planned.with_outcome("succeeded", {"final_metrics": {"train_loss": 0.1, "val_loss": 0.2}})
    assert (done.train_loss, done.val_loss) == (0.1, 0.2) and done.finished
    assert planned.with_outcome("failed", None).train_loss is None  # a crashed probe decides nothing


def test_a_probe_gain_within_the_validation_rows_noise_decides_nothing() -> None:
    """The bigger probe's validation loss 0.55 against the original's 0.69 is a 20% gain — but on 27
    validation rows whose mean loss has a standard error of 0.1, it is within the noise."""
    linear = make_record(
        train_loss=[0.69] * 12, val_loss=[0.69] * 12, test_loss=[0.69] * 12, spec=make_spec(model={"hidden": []})
    )
    findings = run_rules(linear)
    noisy = _probe(ProbeKind.bigger, 0.05, 0.55).model_copy(update={"original_val_se": 0.1, "original_train_se": 0.005})
    assert [f.code for f in probe_findings(findings, [noisy])] == [FindingCode.probes_inconclusive]
    clear = noisy.model_copy(update={"original_val_se": 0.02})
    assert [f.code for f in probe_findings(findings, [clear])] == [FindingCode.bigger_probe_fits_better]


def test_planned_probes_carry_the_originals_standard_errors() -> None:
    record = make_record(
        {**healthy(12), "train_loss": [0.69] * 12, "val_loss": [0.69] * 12, "test_loss": [0.69] * 12},
        spec=make_spec(model={"hidden": [64] * 6, "activation": "sigmoid"}),
        facts=make_facts(train_se=0.004, val_se=0.03),
    )
    planned = plan_probes(record)
    assert planned and all(p.original_train_se == 0.004 and p.original_val_se == 0.03 for p in planned)
