"""Webhook egress (SSRF) at delivery, with production settings: only allowed addresses are
posted to, checked on the address actually connected; an attempt records a status code and
a generic error class, never the answer or an exception's text; an unusable URL is a failed
attempt, final, not an endless retry. Real receivers on 127.0.0.1, a real PostgreSQL, the
real activity (in Temporal's ActivityEnvironment)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from services.notifying import webhook
from services.settings import Settings
from services.store import notifications as store
from services.store.db import session_scope
from services.worker.activities.notify import NotifyActivities
from services.worker.channels.webhook import WebhookClient
from tests.certificates import self_signed_server
from workflows import lifecycle as L
from workflows import messages as m
from workflows.contracts import notify as c

pytestmark = pytest.mark.asyncio(loop_scope="session")
NOW = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
STRONG = "Zq8v3N1xR7pT0kYw5LmC2jH9sD4fG6aB"


def production(settings: Settings, *allowed: str) -> Settings:
    return settings.model_copy(
        update={
            "env": "production",
            "jwt_secret": STRONG,
            "webhook_allowed_hosts": list(allowed),
            # The receivers answer at once; one answer read only after a stall of the test's
            # loop longer than this would be a timeout. No test here is about timeouts.
            "webhook_timeout_seconds": 60.0,
        }
    )


def an_event(org: str) -> m.Event:
    parties = [
        m.Party(org=org, role="initiator", sector="government", signatory="Bupati"),
        m.Party(org=f"{org}-b", role="counterparty", sector="government", signatory="Wali Kota"),
    ]
    proposal = m.Proposal(
        title="Sampah",
        kind="ksdd",
        objectives="TPPAS.",
        sector="environment",
        parties=parties,
        start_date="2027-02-01",
        duration_months=60,
    )
    return L.create(proposal, m.Actor(sub=f"staff@{org}", org=org, roles=["staff"]), NOW, str(uuid.uuid4()))[0]


async def endpoint_at(sessionmaker, org: str, url: str) -> store.EndpointRecord:
    async with session_scope(sessionmaker) as session:
        return await store.create_endpoint(
            session, org=org, url=url, events=["*"], secret=webhook.new_secret(), created_by="test"
        )


async def deliver(settings: Settings, sessionmaker, org: str, url: str):
    """Deliver one event to a new endpoint at `url`: the activity's result or its error,
    and the attempts recorded."""
    endpoint = await endpoint_at(sessionmaker, org, url)
    acts = NotifyActivities(settings, sessionmaker)
    try:
        outcome: object = await ActivityEnvironment().run(
            acts.deliver_webhook, c.DeliverWebhookInput(event=an_event(org), endpoint_id=endpoint.id)
        )
    except ApplicationError as error:
        outcome = error
    async with session_scope(sessionmaker) as session:
        attempts = await store.list_attempts(session, endpoint_id=endpoint.id)
    return outcome, attempts


@pytest.fixture
async def chatty() -> AsyncIterator[int]:
    """A receiver that answers 500 with a body an internal service might send."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        body = b"FATAL: password authentication failed for user postgres"
        writer.write(b"HTTP/1.1 500 Oops\r\ncontent-length: %d\r\nconnection: close\r\n\r\n" % len(body) + body)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


async def test_an_allow_listed_internal_receiver_gets_the_delivery(settings, sessionmaker, receiver, orgs):
    org, _ = orgs
    outcome, attempts = await deliver(production(settings, "127.0.0.1"), sessionmaker, org, receiver.url("/in"))
    assert isinstance(outcome, c.DeliveryResult) and outcome.outcome == "sent"
    assert len(receiver.at("/in")) == 1
    assert receiver.at("/in")[0].headers["host"] == f"127.0.0.1:{receiver.port}"  # the registered host
    assert [(a.status_code, a.error) for a in attempts] == [(200, None)]


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "0x7f000001", "2130706433", "127.1", "[::ffff:127.0.0.1]", "localhost", "[::1]", "0.0.0.0"],
)
async def test_without_the_allow_list_loopback_in_any_spelling_is_refused_at_delivery(
    settings, sessionmaker, receiver, orgs, host
):
    org, _ = orgs
    url = f"https://{host}:{receiver.port}/in"
    outcome, attempts = await deliver(production(settings), sessionmaker, org, url)
    assert isinstance(outcome, ApplicationError) and outcome.non_retryable and outcome.type == "webhook_refused"
    assert [(a.status_code, a.error) for a in attempts] == [(None, "refused_address")]
    assert receiver.requests == []  # nothing left Pakta


async def test_an_answer_is_recorded_as_its_status_and_class_only(settings, sessionmaker, orgs, chatty):
    org, _ = orgs
    outcome, attempts = await deliver(
        production(settings, "127.0.0.0/8"), sessionmaker, org, f"http://127.0.0.1:{chatty}/x"
    )
    assert isinstance(outcome, ApplicationError) and not outcome.non_retryable  # a 500 is retried
    assert [(a.status_code, a.error) for a in attempts] == [(500, "http_status")]
    assert "postgres" not in outcome.message and "password" not in outcome.message


@pytest.fixture
async def asks_to_wait() -> AsyncIterator[int]:
    """A receiver that answers 503 with a Retry-After of digits only Python calls digits."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        retry_after = "\u00b2\u00b3".encode()
        writer.write(
            b"HTTP/1.1 503 Busy\r\nretry-after: %s\r\ncontent-length: 0\r\nconnection: close\r\n\r\n" % retry_after
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


async def test_a_retry_after_that_is_not_a_number_is_a_plain_failed_attempt_retried_later(
    settings, sessionmaker, orgs, asks_to_wait
):
    # "²³".isdigit() is true and float() refuses it: the delivery raised past its outcome.
    org, _ = orgs
    outcome, attempts = await deliver(
        production(settings, "127.0.0.1"), sessionmaker, org, f"http://127.0.0.1:{asks_to_wait}/x"
    )
    assert isinstance(outcome, ApplicationError) and not outcome.non_retryable
    assert [(a.status_code, a.error) for a in attempts] == [(503, "http_status")]


async def test_a_closed_port_is_connection_refused_and_nothing_more(settings, sessionmaker, orgs):
    org, _ = orgs
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    outcome, attempts = await deliver(
        production(settings, "127.0.0.1"), sessionmaker, org, f"http://127.0.0.1:{port}/x"
    )
    assert isinstance(outcome, ApplicationError) and not outcome.non_retryable
    assert [(a.status_code, a.error) for a in attempts] == [(None, "connection_refused")]


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:1/a\r\nX-Injected: 1", "http://127.0.0.1:99999/", "ftp://127.0.0.1/", "https://u:p@x.test/"],
)
async def test_a_url_that_cannot_be_sent_to_is_a_final_failed_attempt(settings, sessionmaker, orgs, url):
    # Stored before registration checked URLs: the delivery fails once, for good.
    org, _ = orgs
    outcome, attempts = await deliver(production(settings, "127.0.0.1"), sessionmaker, org, url)
    assert isinstance(outcome, ApplicationError) and outcome.non_retryable
    assert [(a.status_code, a.error) for a in attempts] == [(None, "invalid_url")]


async def test_the_address_checked_is_the_address_connected():
    egress = webhook.Egress.of(production=True, allowed=["hooks.internal.test", "10.9.0.0/16"])
    target = await webhook.resolve("https://8.8.8.8:8443/hook?a=1", egress)
    assert target.connect_url == "https://8.8.8.8:8443/hook?a=1" and target.host_header == "8.8.8.8:8443"
    mapped = await webhook.resolve("https://[2606:4700::1111]/h", egress)
    assert mapped.connect_url == "https://[2606:4700::1111]:443/h" and mapped.host_header == "[2606:4700::1111]"
    assert (await webhook.resolve("http://10.9.1.2/h", egress)).address.exploded == "10.9.1.2"
    for refused in ("https://10.8.0.1/", "https://169.254.169.254/latest", "https://[fe80::1]/", "https://224.0.0.1/"):
        with pytest.raises(webhook.UrlRefused) as caught:
            await webhook.resolve(refused, egress)
        assert caught.value.error == "refused_address"
    assert not webhook.public(webhook.ipaddress.ip_address("::ffff:10.0.0.1"))
    assert webhook.public(webhook.ipaddress.ip_address("1.1.1.1"))


async def test_a_6to4_address_is_checked_as_the_ipv4_address_it_carries():
    # 2002::/16 carries an IPv4 address that relays deliver to: loopback and cloud metadata
    # inside it were "global" to Python, and allowed.
    egress = webhook.Egress.of(production=True)
    for refused in ("https://[2002:7f00:1::]/", "https://[2002:a9fe:a9fe::1]/", "https://[2002:a00:1::]/"):
        with pytest.raises(webhook.UrlRefused) as caught:
            await webhook.resolve(refused, egress)
        assert caught.value.error == "refused_address"
    assert (await webhook.resolve("https://[2002:808:808::1]/", egress)).address.exploded.startswith("2002:0808")


# One address from each special-purpose block of the IANA IPv4 and IPv6 registries that is
# not globally reachable, whichever of them this Python's `ipaddress` calls global.
NOT_GLOBALLY_REACHABLE = [
    "192.0.0.8",  # IPv4 dummy address (RFC 7600), in IETF protocol assignments (RFC 6890)
    "192.0.0.1",  # DS-Lite (RFC 7335)
    "192.0.0.9",  # the rest of 192.0.0.0/24 alike
    "192.0.0.171",  # NAT64 discovery (RFC 8880)
    "192.0.2.7",  # TEST-NET-1 (RFC 5737)
    "192.88.99.1",  # the deprecated 6to4 relay anycast (RFC 7526)
    "198.18.0.1",  # benchmarking (RFC 2544)
    "198.51.100.7",  # TEST-NET-2
    "203.0.113.7",  # TEST-NET-3
    "100.64.0.1",  # shared address space (RFC 6598)
    "255.255.255.255",  # limited broadcast (RFC 919)
    "64:ff9b::7f00:1",  # NAT64 (RFC 6052) of 127.0.0.1
    "64:ff9b:1::1",  # local-use NAT64 (RFC 8215)
    "100::1",  # discard-only (RFC 6666)
    "100:0:0:1::1",  # dummy IPv6 prefix (RFC 9780)
    "2001::1",  # TEREDO, in IETF protocol assignments (RFC 2928)
    "2001:2::1",  # benchmarking (RFC 5180)
    "2001:db8::1",  # documentation (RFC 3849)
    "3fff::1",  # documentation (RFC 9637)
    "5f00::1",  # segment routing SIDs (RFC 9602)
    "fec0::1",  # site-local, deprecated (RFC 3879)
    "fc00::1",  # unique local (RFC 4193)
]


@pytest.mark.parametrize("address", NOT_GLOBALLY_REACHABLE)
async def test_an_address_of_a_block_that_is_not_globally_reachable_is_refused_at_delivery(address):
    literal = f"[{address}]" if ":" in address else address
    with pytest.raises(webhook.UrlRefused) as caught:
        await webhook.resolve(f"https://{literal}/hook", webhook.Egress.of(production=True))
    assert caught.value.error == "refused_address"


async def test_an_ietf_protocol_address_is_a_refused_delivery_and_nothing_leaves(settings, sessionmaker, orgs):
    org, _ = orgs
    outcome, attempts = await deliver(production(settings), sessionmaker, org, "https://192.0.0.8/in")
    assert isinstance(outcome, ApplicationError) and outcome.non_retryable and outcome.type == "webhook_refused"
    assert [(a.status_code, a.error) for a in attempts] == [(None, "refused_address")]


async def test_a_nat64_address_carrying_a_public_ipv4_address_is_allowed():
    # A NAT64 gateway delivers to the IPv4 address in the last 32 bits: checked as that one.
    target = await webhook.resolve("https://[64:ff9b::808:808]/", webhook.Egress.of(production=True))
    assert target.address.exploded.startswith("0064:ff9b")


async def test_a_host_written_as_an_address_is_checked_as_that_address_without_the_resolver():
    # In an event loop that can no longer resolve (its resolver's threads shut down), a
    # plain IP address is still checked and kept, or refused; a name, and a numeric form
    # only the resolver reads as an address, still go to the resolver.
    egress = webhook.Egress.of(production=True)

    async def without_resolver() -> tuple[str, str, list[str]]:
        await asyncio.get_running_loop().shutdown_default_executor()
        kept = await webhook.resolve("https://8.8.8.8/hook", egress)
        refused = []
        for url in ("https://10.0.0.1/", "https://[::ffff:127.0.0.1]/", "https://[fe80::1]/"):
            with pytest.raises(webhook.UrlRefused) as caught:
                await webhook.resolve(url, egress)
            refused.append(caught.value.error)
        mapped = await webhook.resolve("https://[2606:4700::1111]/", egress)
        for needs_resolver in ("https://hooks.example.test/", "https://0x7f000001/"):
            with pytest.raises(RuntimeError):
                await webhook.resolve(needs_resolver, egress)
        return kept.connect_url, str(mapped.address), refused

    kept, mapped, refused = await asyncio.to_thread(asyncio.run, without_resolver())
    assert kept == "https://8.8.8.8:443/hook" and mapped == "2606:4700::1111"
    assert refused == ["refused_address"] * 3


async def test_a_names_kept_resolution_is_checked_again_at_every_delivery_and_kept_only_a_while():
    # The resolver's threads are shut down after the first resolution: a name resolved
    # within the kept spell needs no resolver; its addresses are checked by each egress
    # (loopback allowed in dev, refused in production); a spell of 0 s keeps nothing.
    dev, production = webhook.Egress.of(production=False), webhook.Egress.of(production=True)

    async def resolver_gone_after_the_first() -> tuple[str, str, str]:
        kept, unkept = webhook.Resolutions(seconds=3600.0), webhook.Resolutions(seconds=0.0)
        first = await webhook.resolve("http://localhost:8080/hook", dev, kept)
        await webhook.resolve("http://localhost:8080/hook", dev, unkept)
        await asyncio.get_running_loop().shutdown_default_executor()
        again = await webhook.resolve("http://localhost:8080/other", dev, kept)
        with pytest.raises(webhook.UrlRefused) as refused:
            await webhook.resolve("https://localhost:8080/hook", production, kept)
        with pytest.raises(RuntimeError):  # nothing kept: the resolver is asked, and is gone
            await webhook.resolve("http://localhost:8080/hook", dev, unkept)
        return str(first.address), str(again.address), refused.value.error

    first, again, refused = await asyncio.to_thread(asyncio.run, resolver_gone_after_the_first())
    assert first == again and webhook.ipaddress.ip_address(first).is_loopback
    assert refused == "refused_address"


@pytest.fixture
async def tls_receiver(tmp_path) -> AsyncIterator[tuple[int, list[str | None]]]:
    """A TLS server with a self-signed certificate for localhost: its port, and the server
    names clients asked for (SNI)."""
    context = self_signed_server(tmp_path, name="localhost")
    names: list[str | None] = []
    context.sni_callback = lambda _socket, server_name, _context: names.append(server_name)

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0, ssl=context)
    yield server.sockets[0].getsockname()[1], names
    server.close()
    await server.wait_closed()


async def test_a_webhook_over_tls_names_the_registered_host_and_refuses_a_certificate_nobody_vouches_for(
    tls_receiver,
):
    port, names = tls_receiver
    client = WebhookClient()
    try:
        outcome = await client.post(
            f"https://localhost:{port}/in",
            egress=webhook.Egress.of(production=True, allowed=["localhost", "127.0.0.1"]),
            content=b"{}",
            headers={},
            timeout_seconds=60.0,  # the handshake's refusal, not a timeout, however slow the loop
            now=NOW,
        )
    finally:
        await client.close()
    assert names == ["localhost"]  # connected to the checked address, the name sent as SNI
    assert (outcome.status, outcome.error) == (None, "tls_error")
