"""A webhook's signature and its request's one time bound, against real receivers: the
`standardwebhooks` library verifying, and loopback servers that answer too slowly."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from services.notifying import webhook
from services.worker.channels.webhook import WebhookClient

BODY = b'{"id":"evt_1","type":"agreement.submitted"}'
DEV = webhook.Egress.of(production=False)


def test_a_signature_made_after_a_rotation_is_the_new_secrets_at_once():
    old, new = webhook.new_secret(), webhook.new_secret()
    before = webhook.headers(msg_id="evt_1", timestamp=int(datetime.now(UTC).timestamp()), body=BODY, secrets=[old])
    assert Webhook(old).verify(BODY, before)
    after = webhook.headers(msg_id="evt_1", timestamp=int(datetime.now(UTC).timestamp()), body=BODY, secrets=[new])
    assert Webhook(new).verify(BODY, after)
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(BODY, after)
    # During the rotation's overlap both signatures go, and each receiver verifies its own.
    both = webhook.headers(msg_id="evt_2", timestamp=int(datetime.now(UTC).timestamp()), body=BODY, secrets=[new, old])
    assert Webhook(new).verify(BODY, both) and Webhook(old).verify(BODY, both)


def test_signing_the_same_message_twice_gives_the_same_signature_and_another_body_another():
    secret = webhook.new_secret()
    first = webhook.sign(secret, msg_id="evt_1", timestamp=1, body=BODY)
    assert webhook.sign(secret, msg_id="evt_1", timestamp=1, body=BODY) == first  # the kept key is not consumed
    assert webhook.sign(secret, msg_id="evt_1", timestamp=1, body=BODY + b" ") != first


@asynccontextmanager
async def receiver(answer: Callable[[asyncio.StreamWriter], Awaitable[None]]) -> AsyncIterator[str]:
    """A loopback server that reads a request's head and answers with `answer`."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            await answer(writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/in"
    finally:
        server.close()


async def silent(writer: asyncio.StreamWriter) -> None:
    await asyncio.sleep(30)


async def trickling(writer: asyncio.StreamWriter) -> None:
    """Its status and headers at once, then the answer's body a byte at a time, never ending:
    only a bound on the whole request, not one per read, ends it."""
    writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\n")
    for _ in range(300):
        await writer.drain()
        writer.write(b"x")
        await asyncio.sleep(0.1)


@pytest.mark.parametrize("answer", [silent, trickling], ids=["never answering", "trickling its answer"])
async def test_a_receiver_too_slow_for_the_webhook_timeout_is_a_timed_out_attempt(answer):
    client = WebhookClient()
    try:
        async with receiver(answer) as url:
            outcome = await asyncio.wait_for(
                client.post(url, egress=DEV, content=BODY, headers={}, timeout_seconds=0.5, now=datetime.now(UTC)),
                timeout=20,  # a bound for the test itself, far past the webhook's
            )
    finally:
        await client.close()
    assert (outcome.error, outcome.status, outcome.permanent) == ("timeout", None, False)
