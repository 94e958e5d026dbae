"""docker-compose.yml, the CLI, Settings and the README describe the same system."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from services.cli import build_parser
from services.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
PAKTA_SERVICES = ("migrate", "api", "worker-1", "worker-2", "dispatcher")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def pakta_variables(node) -> set[str]:
    """Every PAKTA_* key set anywhere in the (merged) compose file."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(key, str) and key.startswith("PAKTA_"):
                found.add(key)
            found |= pakta_variables(value)
    elif isinstance(node, list):
        for item in node:
            found |= pakta_variables(item)
    return found


def test_every_service_has_an_image_or_a_build(compose):
    for name, service in compose["services"].items():
        assert "image" in service or "build" in service, name
    assert {"postgres", "temporal", "temporal-ui", "smtp", *PAKTA_SERVICES} <= set(compose["services"])


def test_pakta_variables_are_settings_fields(compose):
    fields = {f"PAKTA_{name.upper()}" for name in Settings.model_fields}
    variables = pakta_variables(compose)
    assert variables, "compose should configure Pakta through PAKTA_* variables"
    assert variables <= fields, variables - fields


def test_pakta_services_run_real_subcommands(compose):
    parser = build_parser()
    expected = {
        "migrate": ["db", "upgrade"],
        "api": ["api"],
        "worker-1": ["worker"],
        "worker-2": ["worker"],
        "dispatcher": ["dispatcher"],
    }
    for name, args in expected.items():
        command = compose["services"][name]["command"]
        assert command[0] == "pakta" and command[1:] == args, (name, command)
        parsed = parser.parse_args(command[1:])  # exits on an unknown subcommand
        assert parsed.command == args[0]
        env = compose["services"][name]["environment"]
        assert env["PAKTA_DATABASE_URL"].startswith("postgresql+asyncpg://")
        assert env["PAKTA_ENV"] == "production" and env["PAKTA_JWT_SECRET"]


def test_readme_documents_every_setting():
    readme = (ROOT / "README.md").read_text()
    documented = set(re.findall(r"^\| `(PAKTA_[A-Z0-9_]+)` \|", readme, flags=re.MULTILINE))
    fields = {f"PAKTA_{name.upper()}" for name in Settings.model_fields}
    assert fields - documented == set(), "undocumented settings"
    assert documented - fields == set(), "README documents settings that do not exist"


def test_readme_opens_with_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    head = readme[: readme.index("## Configuration")]
    assert "make dev" in head and "make test" in head


def test_ci_entry_point_runs_make_test():
    script = (ROOT / ".ci" / "run").read_text()
    assert script.startswith("#!/usr/bin/env bash") and "set -euo pipefail" in script
    assert "make test" in script


def test_every_image_is_pinned_and_services_wait_for_what_they_need_to_be_ready(compose):
    for name, service in compose["services"].items():
        image = service.get("image", "")
        if "build" not in service:
            assert ":" in image and not image.endswith(":latest"), (name, image)
    for name in ("postgres", "temporal"):
        assert "healthcheck" in compose["services"][name], name
    for name in ("api", "worker-1", "worker-2"):
        needs = compose["services"][name]["depends_on"]
        assert needs["temporal"]["condition"] == "service_healthy", name
        assert needs["migrate"]["condition"] == "service_completed_successfully", name
    assert compose["services"]["dispatcher"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_the_workers_leave_the_outbox_to_the_dispatcher(compose):
    services = compose["services"]
    for name in ("worker-1", "worker-2"):
        assert services[name]["environment"]["PAKTA_WORKER_DISPATCH"] == "false", name
    assert services["dispatcher"]["command"] == ["pakta", "dispatcher"]
    assert "PAKTA_WORKER_DISPATCH" not in services["dispatcher"]["environment"]
