"""docker-compose.yml and the Dockerfile agree with the code they run (no Docker engine
runs here: nothing is built or started; service names, env vars, commands and paths are read)."""

from __future__ import annotations

import importlib
import re
import shlex
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from core.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict = COMPOSE["services"]
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def argv(service: str) -> list[str]:
    command = SERVICES[service]["command"]
    return shlex.split(command) if isinstance(command, str) else [str(arg) for arg in command]


def option(args: list[str], name: str) -> str:
    assert name in args, f"{args} lacks {name}"
    return args[args.index(name) + 1]


def trainwell_env(service: str) -> dict[str, str]:
    return {k: str(v) for k, v in SERVICES[service].get("environment", {}).items() if k.startswith("TRAINWELL_")}


def test_services_exist() -> None:
    missing = {"postgres", "redis", "migrate", "api", "worker"} - SERVICES.keys()
    assert not missing, f"compose lacks services {missing}"


@pytest.mark.parametrize("service", ["migrate", "api", "worker"])
def test_environment_matches_settings(service: str) -> None:
    env = trainwell_env(service)
    for name in env:
        field = name.removeprefix("TRAINWELL_").lower()
        assert field in Settings.model_fields, f"{service}: {name} is not a Settings field"
    assert env.get("TRAINWELL_MODE") == "production", f"{service} must run in production mode"
    # The values must validate too (the admin key is still a ${...} placeholder here).
    Settings(**{name.removeprefix("TRAINWELL_").lower(): value for name, value in env.items()})
    database, broker = urlsplit(env["TRAINWELL_DATABASE_URL"]), urlsplit(env["TRAINWELL_BROKER_URL"])
    assert database.scheme == "postgresql+psycopg", f"{service}: database driver must be psycopg (v3)"
    assert database.hostname == "postgres", f"{service}: database host must be the postgres service"
    assert broker.scheme == "redis" and broker.hostname == "redis", f"{service}: broker must be the redis service"


@pytest.mark.parametrize("service", ["api", "worker"])
def test_data_volume_is_the_data_dir(service: str) -> None:
    data_dir = trainwell_env(service)["TRAINWELL_DATA_DIR"]
    assert f"data:{data_dir}" in SERVICES[service]["volumes"], f"{service} must mount the data volume at {data_dir}"


def test_api_command_serves_the_app() -> None:
    target = next(arg for arg in argv("api") if ":" in arg and not arg.startswith("-"))
    module, _, attribute = target.partition(":")
    assert (module, attribute) == ("api.main", "app"), f"api serves {target}, expected api.main:app"
    assert (ROOT / "api" / "main.py").exists(), "api/main.py is missing"
    assert hasattr(importlib.import_module(module), attribute), f"{module} has no {attribute}"


def test_worker_command_matches_celery_app_and_queues() -> None:
    workers = [name for name in SERVICES if name.startswith("worker")]
    hostnames = [option(argv(name), "--hostname") for name in workers]
    assert len(set(hostnames)) == len(hostnames), f"worker hostnames must be unique: {hostnames}"
    declared = set(importlib.import_module("core.broker").QUEUES)
    for name in workers:
        args = argv(name)
        app = option(args, "-A")
        assert (ROOT / (app.replace(".", "/") + ".py")).exists(), f"{name}: -A {app} names no module file"
        queues = set(option(args, "--queues").split(","))
        assert queues <= declared, f"{name}: queues {queues - declared} are not declared in core.broker.QUEUES"
        # One job at a time per GPU; each job forks its own process (worker/job_process.py).
        assert option(args, "--concurrency") == "1", f"{name}: one job at a time per GPU"


def test_workers_reserve_one_gpu_each() -> None:
    reserved = []
    for name in [name for name in SERVICES if name.startswith("worker")]:
        devices = SERVICES[name]["deploy"]["resources"]["reservations"]["devices"]
        assert [d["driver"] for d in devices] == ["nvidia"], f"{name}: needs one nvidia device reservation"
        assert "gpu" in devices[0]["capabilities"], f"{name}: reservation lacks the gpu capability"
        assert len(devices[0]["device_ids"]) == 1, f"{name}: one worker per GPU"
        reserved += devices[0]["device_ids"]
        # The container sees only its reserved GPU, renumbered from 0.
        env = SERVICES[name]["environment"]
        assert env.get("CUDA_VISIBLE_DEVICES") == "0", f"{name}: CUDA_VISIBLE_DEVICES must be '0'"
    assert len(set(reserved)) == len(reserved), f"two workers reserve the same GPU: {reserved}"


def test_migrate_runs_alembic_once() -> None:
    assert argv("migrate") == ["alembic", "upgrade", "head"], "migrate must run `alembic upgrade head`"
    assert SERVICES["migrate"]["restart"] == "no", "migrate is a one-shot job"
    assert (ROOT / "alembic.ini").exists(), "alembic.ini is missing at the repo root"


def test_dockerfile_copies_the_packages_and_pins_torch() -> None:
    copied = {src.strip("/") for line in re.findall(r"^COPY\s+(.+)$", DOCKERFILE, re.M) for src in line.split()[:-1]}
    for path in [
        "api",
        "core",
        "worker",
        "trainer",
        "store",
        "uploads",
        "sdk",
        "migrations",
        "alembic.ini",
        "pyproject.toml",
    ]:
        assert path in copied, f"Dockerfile does not COPY {path}"
    assert "torch==2.13.0" in DOCKERFILE, "Dockerfile must pin torch==2.13.0"
    declared = set(re.findall(r"^ARG\s+(\w+)", DOCKERFILE, re.M))
    for name, service in SERVICES.items():
        build = service.get("build")
        args = set(build.get("args", {})) if isinstance(build, dict) else set()
        assert args <= declared, f"{name}: build args {args - declared} are not ARGs in the Dockerfile"


def test_dependencies_and_healthchecks() -> None:
    for name in ["postgres", "redis", "api"]:
        assert "healthcheck" in SERVICES[name], f"{name} needs a healthcheck"
    for name, service in SERVICES.items():
        depends_on = service.get("depends_on", {})
        if isinstance(depends_on, list):  # the short form waits only for the start
            depends_on = {target: {"condition": "service_started"} for target in depends_on}
        for target, spec in depends_on.items():
            assert target in SERVICES, f"{name} depends on unknown service {target}"
            if spec["condition"] == "service_healthy":
                assert "healthcheck" in SERVICES[target], f"{name} waits for {target} healthy, which has none"
            if spec["condition"] == "service_completed_successfully":
                assert SERVICES[target].get("restart") == "no", f"{name} waits for {target} to exit; it restarts"
