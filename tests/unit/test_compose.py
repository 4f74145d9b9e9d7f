"""docker-compose.yml, checked against the code (no Docker engine needed): every declared queue has exactly
one worker service with the command ``stack.workers`` builds for it, every command's module and flags
exist, every mounted path exists, published ports match the code and docs/operations.md, secrets come
from .env, and the Dockerfile builds what the services run."""

from __future__ import annotations

import fnmatch
import importlib.util
import re
from pathlib import Path

import pytest
import yaml

from runtime.queues import QUEUES
from stack.workers import worker_command

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict] = COMPOSE["services"]
APP = {name: s for name, s in SERVICES.items() if s.get("build") == "."}


def command(service: dict) -> list[str]:
    cmd = service.get("command", [])
    assert isinstance(cmd, list), "commands are exec-form lists (no shell, signals reach the process)"
    return [str(part) for part in cmd]


def option(cmd: list[str], name: str) -> str | None:
    return cmd[cmd.index(name) + 1] if name in cmd else None


WORKERS = {
    name: command(s) for name, s in APP.items() if command(s)[:4] == ["celery", "-A", "worker", "worker"]
}


@pytest.mark.parametrize("queue", QUEUES, ids=lambda q: q.name)
def test_every_declared_queue_has_exactly_one_worker_built_from_the_declaration(queue):
    consumers = [name for name, cmd in WORKERS.items() if queue.name in (option(cmd, "-Q") or "").split(",")]
    assert len(consumers) == 1, f"queue {queue.name!r} consumed by {consumers}"
    expected = ["celery", *worker_command(queue, loglevel="INFO")[3:]]
    assert WORKERS[consumers[0]] == expected
    assert option(expected, "-c") == str(queue.concurrency)
    assert option(expected, "--prefetch-multiplier") == str(queue.prefetch)


def test_workers_consume_only_declared_queues():
    declared = {q.name for q in QUEUES}
    for name, cmd in WORKERS.items():
        assert set(option(cmd, "-Q").split(",")) <= declared, name
        assert name == f"worker-{option(cmd, '-Q')}"


def _module_of(cmd: list[str]) -> str:
    if cmd[:2] == ["python", "-m"]:
        return cmd[2]
    assert cmd[:3] == ["celery", "-A", "worker"], cmd
    return "worker.celery"


@pytest.mark.parametrize("name", sorted(APP))
def test_every_command_module_and_flag_exists(name):
    cmd = command(APP[name])
    module = _module_of(cmd)
    spec = importlib.util.find_spec(module)
    assert spec is not None, f"{name}: no module {module}"
    if cmd[0] == "python":
        main = importlib.util.find_spec(f"{module}.__main__") if spec.submodule_search_locations else spec
        assert main is not None and main.origin, f"{name}: {module} cannot run with -m"
        source = Path(main.origin).read_text()
        for part in cmd[3:]:
            if part.startswith("--"):
                assert f'"{part}"' in source, f"{name}: {module} has no option {part}"
            elif not part[0].isdigit() and not part.startswith("/") and part not in ("0.0.0.0",):
                assert f'"{part}"' in source, f"{name}: {module} has no subcommand {part!r}"


def test_the_stack_has_its_services():
    redis_cmd = command(SERVICES["redis"])
    assert (
        option(redis_cmd, "--appendonly") == "yes" and option(redis_cmd, "--maxmemory-policy") == "noeviction"
    )
    for name in ("redis", "postgres", "flower", "exporter"):
        assert SERVICES[name]["healthcheck"]["test"], name
    assert all(s.get("healthcheck", {}).get("test") for s in (APP[n] for n in WORKERS)), "workers ping"
    assert command(SERVICES["migrate"]) == ["python", "-m", "storage", "migrate"]
    assert SERVICES["migrate"]["restart"] == "no" and "migrate" not in SERVICES["migrate"]["depends_on"]
    beats = [n for n, s in APP.items() if command(s)[:4] == ["celery", "-A", "worker", "beat"]]
    assert sorted(beats) == ["beat", "beat-standby"]  # RedBeat's lock keeps one active
    assert all(SERVICES[b]["restart"] == "always" and "-S" not in command(SERVICES[b]) for b in beats)
    for name in ("prometheus", "grafana"):
        assert name in SERVICES


def test_app_services_wait_for_the_migration_and_read_secrets_from_env_file():
    for name, service in APP.items():
        assert service["env_file"] == ".env", name
        if name != "migrate":
            assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully", name
        for key, value in service.get("environment", {}).items():
            assert "change-me" not in str(value), f"{name}: {key} holds a literal secret"
    assert SERVICES["postgres"]["environment"]["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD")


def _binds() -> list[tuple[str, str]]:
    found = []
    for name, service in SERVICES.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith((".", "/")):
                found.append((name, source))
    return found


@pytest.mark.parametrize(("service", "source"), _binds())
def test_every_mounted_path_exists_in_the_repo(service, source):
    assert source.startswith("./"), f"{service}: mount {source} from outside the repository"
    assert (ROOT / source).exists(), f"{service}: {source} does not exist"


def test_named_volumes_are_declared():
    named = {v.split(":")[0] for s in SERVICES.values() for v in s.get("volumes", [])} - {
        s for _, s in _binds()
    }
    assert named == set(COMPOSE["volumes"])


def test_prometheus_loads_the_rules_it_mounts():
    (mount,) = [v for v in SERVICES["prometheus"]["volumes"] if v.startswith("./")]
    source, target = mount.split(":")[:2]
    config = yaml.safe_load((ROOT / source / "prometheus.yml").read_text())
    assert target == "/etc/prometheus"
    for rules in config["rule_files"]:
        assert (ROOT / source / rules).is_file(), rules
    targets = [t for job in config["scrape_configs"] for c in job["static_configs"] for t in c["targets"]]
    assert "exporter:9102" in targets


def test_grafana_is_provisioned_from_its_mounts():
    mounts = {
        t: s for s, t in (v.split(":")[:2] for v in SERVICES["grafana"]["volumes"] if v.startswith("./"))
    }
    provisioning = ROOT / mounts["/etc/grafana/provisioning"]
    datasources = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())["datasources"]
    assert [d["url"] for d in datasources] == [f"http://prometheus:{_published()['prometheus']}"]
    (provider,) = yaml.safe_load((provisioning / "dashboards" / "tickerbeat.yml").read_text())["providers"]
    dashboards = mounts[provider["options"]["path"]]
    assert list((ROOT / dashboards).glob("*.json")), "no dashboard to provision"


def _published() -> dict[str, int]:
    ports = {}
    for name, service in SERVICES.items():
        for mapping in service.get("ports", []):
            host_ip, host, container = str(mapping).split(":")
            assert host_ip == "127.0.0.1", f"{name} publishes on every interface"
            assert host == container
            ports[name] = int(host)
    return ports


def test_ports_match_the_code():
    from monitoring.server import DEFAULT_PORT
    from stack.flower import main as flower_main  # noqa: F401 - the module the flower service runs

    ports = _published()
    assert ports["exporter"] == DEFAULT_PORT == 9102
    assert option(command(SERVICES["exporter"]), "--port") == "9102"
    assert ports["flower"] == 5555 == int(option(command(SERVICES["flower"]), "--port"))
    flower_source = (ROOT / "stack" / "flower.py").read_text()
    assert "default=5555" in flower_source


def test_ports_match_the_docs():
    docs = (ROOT / "docs" / "operations.md").read_text()
    for service, port in _published().items():
        assert re.search(rf"^\|[^\n]*\b{re.escape(service)}\b[^\n]*\|\s*`?{port}`?\s*\|", docs, re.M), (
            f"docs/operations.md has no table row for {service} on port {port}"
        )


# -- the image ----------------------------------------------------------------------------------------------

DOCKERFILE = (ROOT / "Dockerfile").read_text()
IGNORED = [
    line.strip()
    for line in (ROOT / ".dockerignore").read_text().splitlines()
    if line.strip() and not line.startswith("#")
]


def _ignored(path: str) -> bool:
    parts = Path(path).parts
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    return any(
        fnmatch.fnmatch(c, p) or fnmatch.fnmatch(c, p.removeprefix("**/"))
        for c in candidates
        for p in IGNORED
    )


def test_the_dockerfile_builds_a_non_root_python_311_image():
    assert re.search(r"^FROM python:3\.11-slim", DOCKERFILE, re.M)
    users = re.findall(r"^USER\s+(\S+)", DOCKERFILE, re.M)
    assert users and users[-1] not in ("root", "0")
    assert re.search(r"pip install '\.\[postgres\]'", DOCKERFILE)
    assert "postgresql-client" in DOCKERFILE  # pg_dump for the nightly backup


@pytest.mark.parametrize(
    "path",
    ["pyproject.toml", "README.md", "beat_schedule.py", "storage/migrations/env.py", "storage/alembic.ini",
     "ratelimits/acquire.lua", "runtime/queues.py", "stack/flower.py", "monitoring/__main__.py"],
)  # fmt: skip
def test_the_build_context_keeps_what_the_image_needs(path):
    assert (ROOT / path).exists()
    assert not _ignored(path)


@pytest.mark.parametrize("path", [".env", ".venv/bin/python", "var/tickerbeat.db", ".git/config"])
def test_the_build_context_leaves_out_secrets_and_local_state(path):
    assert _ignored(path)
