"""The shared vocabulary in the SDK: exact verdict names, and RFC 7396 merge patches."""

from __future__ import annotations

from trainwell.diagnosis import Severity, Verdict, merge_patch


def test_verdicts_and_severities_are_exactly_the_contracts() -> None:
    assert [v.value for v in Verdict] == [
        "good_fit",
        "model_bias",
        "optimization",
        "overfitting",
        "mismatch",
        "diverged",
    ]
    assert [s.value for s in Severity] == ["info", "warning", "critical"]


def test_merge_patch_follows_rfc_7396() -> None:
    target = {"a": "b", "c": {"d": "e", "f": "g"}, "list": [1, 2]}
    assert merge_patch(target, {"a": "z", "c": {"f": None}}) == {"a": "z", "c": {"d": "e"}, "list": [1, 2]}
    assert merge_patch(target, {"list": [3]})["list"] == [3]  # arrays are replaced, not merged
    assert merge_patch({"a": 1}, {"b": {"c": 2}}) == {"a": 1, "b": {"c": 2}}
    assert target["c"] == {"d": "e", "f": "g"}  # the target is not modified
