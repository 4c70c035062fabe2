"""Where the Client finds its URL and key when none is passed."""

from __future__ import annotations

from pathlib import Path

import pytest

import trainwell


def test_arguments_then_environment_then_the_embedded_key_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("TRAINWELL_URL", "TRAINWELL_API_KEY", "TRAINWELL_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(trainwell.TrainwellError, match="no API key"):
        trainwell.Client()

    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "api_key").write_text("tw_from_default_file\n")
    with trainwell.Client() as client:
        assert client.api_key == "tw_from_default_file" and client.base_url == "http://127.0.0.1:8000"

    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "api_key").write_text("tw_from_data_dir")
    monkeypatch.setenv("TRAINWELL_DATA_DIR", str(tmp_path / "data"))
    assert trainwell.Client().api_key == "tw_from_data_dir"

    monkeypatch.setenv("TRAINWELL_API_KEY", "tw_from_env")
    monkeypatch.setenv("TRAINWELL_URL", "http://trainwell.test:9000/")
    client = trainwell.Client()
    assert client.api_key == "tw_from_env" and client.base_url == "http://trainwell.test:9000"

    explicit = trainwell.Client(api_key="tw_explicit", base_url="http://other.test")
    assert explicit.api_key == "tw_explicit" and explicit.base_url == "http://other.test"
