"""Webhook URLs at registration, on an app with production settings: a URL that cannot be
sent to, or that leads to a loopback, private, link-local, multicast, unspecified or
reserved address, is refused with 422 naming the field; the allow-list lets deliberate
internal receivers in. Deliveries are listed with bounded paging."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio

from services.api.app import create_app
from services.auth import mint_token
from services.settings import Settings
from tests.api.stack import Stack
from tests.fixtures.api import app_client

pytestmark = pytest.mark.asyncio(loop_scope="session")
STRONG = "Zq8v3N1xR7pT0kYw5LmC2jH9sD4fG6aB"

REFUSED_ADDRESSES = [
    "https://127.0.0.1/hook",
    "https://10.0.0.1/hook",
    "https://172.16.5.4/hook",
    "https://192.168.1.1/hook",
    "https://169.254.169.254/latest/meta-data",
    "https://0x7f000001/hook",
    "https://2130706433/hook",
    "https://[::ffff:127.0.0.1]/hook",
    "https://[::1]/hook",
    "https://[fe80::1]/hook",
    "https://[fc00::1]/hook",
    "https://224.0.0.1/hook",
    "https://0.0.0.0/hook",
    "https://240.0.0.1/hook",
    "https://localhost:5432/hook",
    "https://192.0.0.8/hook",  # IETF protocol assignments (RFC 6890), "global" to Python 3.11
    "https://192.88.99.1/hook",  # the deprecated 6to4 relay anycast (RFC 7526)
    "https://[3fff::1]/hook",  # IPv6 documentation (RFC 9637)
    "https://[fec0::1]/hook",  # IPv6 site-local, deprecated (RFC 3879)
]
UNSENDABLE = [
    "http://203.0.113.9/hook",  # plain http in production
    "https://example.go.id/a\r\nX-Injected: 1",
    "https://example.go.id/\x00",
    "https://user:secret@1.1.1.1/hook",
    "https://exa mple.go.id/hook",
    "https://1.1.1.1:99999/hook",
    "https:///hook",
    "gopher://1.1.1.1/hook",
]


async def production_client(stack: Stack, *allowed: str) -> AsyncIterator[tuple[httpx.AsyncClient, Settings]]:
    settings = stack.settings.model_copy(
        update={"env": "production", "jwt_secret": STRONG, "webhook_allowed_hosts": list(allowed)}
    )
    async with app_client(create_app(settings)) as client:
        yield client, settings


@pytest_asyncio.fixture(loop_scope="session")
async def prod(stack: Stack):
    async for pair in production_client(stack):
        yield pair


@pytest_asyncio.fixture(loop_scope="session")
async def prod_allowing_loopback(stack: Stack):
    async for pair in production_client(stack, "127.0.0.1"):
        yield pair


def staff_token(settings: Settings, org: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(settings, sub=f'staff@{org}', org=org, roles=['staff'])}"}


@pytest.mark.parametrize("url", REFUSED_ADDRESSES + UNSENDABLE)
async def test_a_url_webhooks_cannot_go_to_is_refused_naming_the_field(prod, orgs, url):
    client, settings = prod
    resp = await client.post("/webhooks", json={"url": url}, headers=staff_token(settings, orgs[0]))
    assert resp.status_code == 422, resp.text
    error = resp.json()["error"]
    assert error["code"] == ("refused_address" if url in REFUSED_ADDRESSES else "invalid_url")
    assert error["field"] == "url" and error["errors"][0]["loc"] == ["body", "url"]


async def test_a_public_address_is_accepted(prod, orgs):
    client, settings = prod
    resp = await client.post("/webhooks", json={"url": "https://1.1.1.1/pakta"}, headers=staff_token(settings, orgs[0]))
    assert resp.status_code == 201, resp.text


async def test_the_allow_list_admits_a_deliberate_internal_receiver(prod_allowing_loopback, prod, orgs, receiver):
    client, settings = prod_allowing_loopback
    headers = staff_token(settings, orgs[0])
    resp = await client.post("/webhooks", json={"url": receiver.url("/internal")}, headers=headers)
    assert resp.status_code == 201, resp.text
    # ... and only what it lists.
    resp = await client.post("/webhooks", json={"url": "https://10.0.0.1/hook"}, headers=headers)
    assert resp.status_code == 422 and resp.json()["error"]["code"] == "refused_address"
    plain, plain_settings = prod
    resp = await plain.post("/webhooks", json={"url": receiver.url("/x")}, headers=staff_token(plain_settings, orgs[0]))
    assert resp.status_code == 422


async def test_paging_deliveries_past_the_column_is_a_422(stack: Stack, orgs, receiver):
    staff = stack.user(orgs[0], "staff")
    hook = (await stack.post(staff, "/webhooks", {"url": receiver.url(f"/{uuid.uuid4().hex}")})).json()
    resp = await stack.get(staff, f"/webhooks/{hook['id']}/deliveries?before={2**70}")
    assert resp.status_code == 422 and resp.json()["error"]["code"] == "validation_error"
    assert (await stack.get(staff, f"/webhooks/{hook['id']}/deliveries?before={2**63 - 1}")).status_code == 200
