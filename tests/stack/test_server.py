"""The API as uvicorn serves it (`services.api.server`): a request uvicorn itself refuses —
headers too large, a malformed request line — still gets the one JSON error shape."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import psutil
import pytest
import pytest_asyncio
import uvicorn

from services.api.app import create_app
from services.api.server import MAX_HEADER_BYTES, server_options
from services.embedded.ports import free_port
from services.settings import Settings
from tests.fixtures.ports import listening_socket

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest_asyncio.fixture(loop_scope="session")
async def served() -> AsyncIterator[int]:
    listening = listening_socket()  # the port is uvicorn's from now on: nothing can take it first
    port = listening.getsockname()[1]
    config = uvicorn.Config(
        create_app(Settings(env="dev", metrics_port=0, log_json=False)),
        host="127.0.0.1",
        port=port,
        log_config=None,
        lifespan="on",  # lazy: no connection to PostgreSQL or Temporal until a request needs one
        **server_options(),
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[listening]))
    for _ in range(200):  # up to 10 s
        if server.started:
            break
        await asyncio.sleep(0.05)
    yield port
    server.should_exit = True
    await task


async def exchange(port: int, request: bytes) -> tuple[int, dict[str, str], bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    raw = await reader.read()
    writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines)}
    return int(status_line.split()[1]), headers, body


@pytest.mark.parametrize(
    ("request_bytes", "status", "code"),
    [
        (
            b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (MAX_HEADER_BYTES + 1) + b"\r\n\r\n",
            431,
            "request_header_fields_too_large",
        ),
        (
            b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(3000)) + b"\r\n",
            431,
            "request_header_fields_too_large",
        ),
        # Still incomplete past the limit (headers arriving in several reads): h11 refuses it.
        (b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (MAX_HEADER_BYTES + 1), 400, "invalid_request"),
        (b"NOT A REQUEST\r\n\r\n", 400, "invalid_request"),
    ],
    ids=["one-huge-header", "many-headers", "incomplete-past-the-limit", "malformed"],
)
async def test_a_request_with_headers_too_large_or_unreadable_gets_the_json_error_shape(
    served: int, request_bytes: bytes, status: int, code: str
):
    got, headers, body = await exchange(served, request_bytes)
    assert got == status and headers["content-type"] == "application/json"
    assert json.loads(body)["error"]["code"] == code


async def test_ordinary_headers_pass(served: int):
    status, _, body = await exchange(served, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status == 200 and json.loads(body) == {"status": "ok"}


async def test_a_request_after_a_large_body_on_the_same_connection_is_read_whole(served: int):
    # Only a request's head counts against the limit, never the body before it.
    body = b"x" * (2 * MAX_HEADER_BYTES)
    first = b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    second = b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    reader, writer = await asyncio.open_connection("127.0.0.1", served)
    writer.write(first)
    await writer.drain()
    await asyncio.sleep(0.05)  # the next request in another read
    writer.write(second[:20])
    await writer.drain()
    await asyncio.sleep(0.05)  # its head in two
    writer.write(second[20:])
    await writer.drain()
    raw = await reader.read()
    writer.close()
    assert re.findall(rb"HTTP/1.1 (\d{3}) ", raw) == [b"405", b"200"]


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    length = int(re.search(rb"(?i)\r\ncontent-length: (\d+)", head).group(1))  # type: ignore[union-attr]
    return int(head[9:12]), await reader.readexactly(length)


async def test_answers_on_one_kept_connection_each_arrive_whole_with_their_head_and_body(served: int):
    # The head of each response waits for its body and leaves with it (services.api.server).
    reader, writer = await asyncio.open_connection("127.0.0.1", served)
    answers = []
    for path in (b"/healthz", b"/agreements", b"/healthz", b"/nowhere"):
        writer.write(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path)
        answers.append(await read_response(reader))
    writer.close()
    assert [status for status, _ in answers] == [200, 401, 200, 404]
    assert json.loads(answers[0][1]) == {"status": "ok"} and json.loads(answers[1][1])["error"]["code"]


async def test_a_client_expecting_100_continue_is_told_to_continue_before_it_sends_the_body(served: int):
    body = json.dumps({"title": "x"}).encode()
    reader, writer = await asyncio.open_connection("127.0.0.1", served)
    writer.write(
        b"POST /agreements HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(body)
    )
    # The interim answer goes at once, not held back with the final answer's head.
    interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
    writer.write(body)
    status, answer = await read_response(reader)
    writer.close()
    assert status == 401 and json.loads(answer)["error"]["code"]


async def test_a_head_request_on_a_kept_connection_gets_its_head_at_once(served: int):
    # A HEAD answer has no body to wait for: its head must not be held back for one.
    reader, writer = await asyncio.open_connection("127.0.0.1", served)
    writer.write(b"HEAD /static/web/pakta.css HTTP/1.1\r\nHost: x\r\n\r\n")
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    status, body = await read_response(reader)
    writer.close()
    assert head.startswith(b"HTTP/1.1 200") and (status, json.loads(body)) == (200, {"status": "ok"})


async def test_pakta_api_with_two_processes_serves_its_port_from_both_and_counts_every_request_in_its_metrics(
    tmp_path: Path,
):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PAKTA_", "PROMETHEUS_"))}
    env |= {"PAKTA_ENV": "dev", "PAKTA_API_PORT": str(port), "PAKTA_API_PROCESSES": "2", "PAKTA_METRICS_PORT": "0"}
    with (tmp_path / "api.log").open("wb") as log:
        api = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "services.cli", "api", stdout=log, stderr=log, env=env
        )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            for _ in range(600):  # up to 60 s: each process imports the app afresh
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get("/healthz")).status_code == 200:
                        break
                await asyncio.sleep(0.1)
            serving = [p for p in psutil.Process(api.pid).children() if "spawn_main" in " ".join(p.cmdline())]
            assert len(serving) >= 2, [p.cmdline() for p in psutil.Process(api.pid).children()]
            # Each on a connection of its own: the kernel hands each to one of the processes.
            for _ in range(20):
                async with httpx.AsyncClient() as once:
                    assert (await once.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200
            metrics = (await http.get("/metrics")).text
        counted = re.findall(r'pakta_http_requests_total\{[^}]*route="/healthz"[^}]*status="200"\} ([0-9.]+)', metrics)
        assert sum(float(c) for c in counted) >= 21, metrics[:2000]  # every process's, added up
        # Each serving process froze what its start-up built (services/heap.py).
        frozen = re.findall(r"^pakta_heap_frozen_objects(?:\{[^}]*\})? ([0-9.e+]+)$", metrics, flags=re.MULTILINE)
        assert frozen and float(frozen[0]) > 10_000, metrics[:2000]
    finally:
        api.terminate()
        await asyncio.wait_for(api.wait(), 30)
