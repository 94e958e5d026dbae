"""Schemathesis against `/openapi.json` on a real server (API and worker processes on the
embedded PostgreSQL and the Temporal dev server), with a token of each role: no request it
generates from the contract gets a 5xx, a status the contract does not declare, a content
type it does not declare, or a body that breaks the declared schema.

Schema-valid requests that Pakta still refuses (an e-mail address that is not one, an
unknown time zone, a control character in a path) are fine here: the contract promises the
shape of the answer, not that every string of the right type is a valid value.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
import schemathesis
import schemathesis.checks as checks
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings

from services.auth import mint_token
from services.settings import Settings
from tests.stack.faults import Topology

pytestmark = pytest.mark.asyncio(loop_scope="session")
ROLES: dict[str, dict[str, Any]] = {
    "staff": {"roles": ["staff"]},
    "partner": {"roles": ["partner"]},
    "approver": {"roles": ["approver"], "gates": ["review", "legal", "dprd", "ministry", "head"]},
    "auditor": {"roles": ["auditor"]},
    "admin": {"roles": ["admin"]},
    "operator": {"roles": ["operator"]},
}
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]
EXAMPLES_PER_OPERATION = 8  # per role: about 1,300 requests in all, bounded for CI


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Topology]:
    topology = Topology(tmp_path_factory.mktemp("schemathesis"))
    await topology.start()
    try:
        yield topology
    finally:
        await topology.stop()


def exercise(base_url: str, token: str) -> dict[str, str]:
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    failures: dict[str, str] = {}
    for result in schema.get_all_operations():
        operation = result.ok()

        @hypothesis_settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            phases=[Phase.generate],
            database=None,
        )
        @given(operation.as_strategy())
        def run(case: schemathesis.Case) -> None:
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}
            case.call_and_validate(base_url=base_url, checks=CHECKS)

        try:
            run()
        except Exception as error:  # every failing operation is reported, not only the first
            failures[f"{operation.method.upper()} {operation.path}"] = str(error)[:2000]
    return failures


@pytest.mark.parametrize("role", list(ROLES))
async def test_the_contract_holds_for_every_generated_request(server: Topology, role: str) -> None:
    claims = ROLES[role]
    token = mint_token(
        Settings(jwt_secret=server.settings.jwt_secret),
        sub=f"{role}@kab-schema",
        org="kab-schema",
        roles=claims["roles"],
        gates=claims.get("gates", ()),
    )
    failures = await asyncio.to_thread(exercise, server.api, token)
    assert not failures, "\n\n".join(f"{op}\n{text}" for op, text in failures.items())
