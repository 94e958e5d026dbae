"""The tests' servers on free ports whatever runs beside them (issue #11, branch web15): a port
chosen free and bound later may be taken in between by another suite, so a server the
test process runs itself is handed a socket already bound, and one that binds its port
itself is started again on another when it reports the one it was given taken."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
import uvicorn
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.testing import WorkflowEnvironment

from services.devstack import dev_mail_sink
from services.embedded.ports import free_port
from services.embedded.postgres import EmbeddedPostgres
from tests.fixtures.ports import listening_socket, on_free_ports, started_controller
from tests.fixtures.servers import start_dev_server, start_time_skipping_server, started_postgres
from tests.receivers import MailSink
from tests.stack.faults import Topology


@pytest.fixture
def taken() -> Iterator[int]:
    """A port another process listens on, as a suite beside this one did."""
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        yield other.getsockname()[1]


def taken_first(port: int):
    drawn = iter([port])
    return lambda: next(drawn, None) or free_port()


def another_server_on(port: int) -> None:
    """Another server listening on `port`, with SO_REUSEADDR as servers set it: a port
    only bound, not listened on, would not stop it."""
    with socket.socket() as other:
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        other.bind(("127.0.0.1", port))
        other.listen()


def test_postgresql_on_a_port_another_process_took_first_starts_again_on_a_free_one(tmp_path, taken):
    server = on_free_ports(lambda port: started_postgres(EmbeddedPostgres(tmp_path, port)), ports=taken_first(taken))
    try:
        assert server.port != taken
        assert server._psql("SELECT 1", "postgres").strip() == "1"
    finally:
        server.stop()


def test_a_mail_server_on_a_port_another_process_took_first_starts_again_on_a_free_one(taken):
    sink = MailSink()
    sink.port = taken  # as if `free_port()` had drawn it just before another suite took it
    sink.start()
    try:
        assert sink.port != taken
        with socket.create_connection(("127.0.0.1", sink.port), timeout=5) as smtp:
            assert smtp.recv(100).startswith(b"220 ")
    finally:
        sink.stop()


def test_a_mail_server_that_must_come_back_on_its_own_port_is_not_moved(taken):
    with pytest.raises(OSError, match="address already in use"):
        started_controller(object(), taken, fixed=True)


def test_a_failure_that_is_not_a_taken_port_is_raised_at_once():
    starts: list[int] = []

    def start(port: int) -> None:
        starts.append(port)
        raise RuntimeError("the server's configuration is wrong")

    with pytest.raises(RuntimeError, match="configuration"):
        on_free_ports(start)
    assert len(starts) == 1


async def test_uvicorn_serves_the_socket_it_is_handed_so_no_one_can_take_its_port_first():
    listening = listening_socket()
    port = listening.getsockname()[1]
    with pytest.raises(OSError, match="already in use"):  # too late: the port is the server's
        another_server_on(port)

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    serving = asyncio.create_task(server.serve(sockets=[listening]))
    for _ in range(200):
        if server.started:
            break
        await asyncio.sleep(0.02)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert (await reader.read()).startswith(b"HTTP/1.1 204")
    writer.close()
    server.should_exit = True
    await serving


async def test_the_dev_stacks_mail_sink_on_a_port_another_process_took_since_its_choice_binds_another(tmp_path, taken):
    sink = await dev_mail_sink(tmp_path / "mail", taken)
    try:
        port = sink.sockets[0].getsockname()[1]
        assert port != taken
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        assert (await reader.readline()).startswith(b"220 ")
        writer.close()
    finally:
        sink.close()
        await sink.wait_closed()


class _Ready(BaseHTTPRequestHandler):
    """Another suite's server: 200 to anything, `/readyz` included."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.asyncio(loop_scope="session")
async def test_the_fault_tests_api_on_a_port_another_server_took_first_starts_again_on_a_free_one(tmp_path):
    other = ThreadingHTTPServer(("127.0.0.1", 0), _Ready)
    threading.Thread(target=other.serve_forever, daemon=True).start()
    topology = Topology(tmp_path)
    topology.api_port = other.server_address[1]  # as if `free_port()` had drawn it just before
    try:
        await topology.start()
        assert topology.api_port != other.server_address[1]  # not ready by the other's answer
        assert "address already in use" in topology.logs["api"].read_text()  # its first start
        async with httpx.AsyncClient() as http:
            ready = await http.get(f"{topology.api}/readyz", timeout=30)
        assert ready.status_code == 200 and ready.json() != {}
    finally:
        await topology.stop()
        other.shutdown()
        other.server_close()


def port_of(environment: WorkflowEnvironment) -> int:
    return int(environment.client.service_client.config.target_host.rsplit(":", 1)[1])


@pytest.mark.asyncio(loop_scope="session")
async def test_a_dev_server_whose_port_another_temporal_server_holds_starts_on_another_and_is_not_that_server(
    temporal_env,
):
    held = port_of(temporal_env)  # a Temporal server of another suite, as far as this start knows
    environment = await start_dev_server(ports=taken_first(held))
    try:
        assert port_of(environment) != held
        await environment.client.workflow_service.get_system_info(GetSystemInfoRequest())
    finally:
        await environment.shutdown()


@pytest.mark.asyncio(loop_scope="session")
async def test_a_time_skipping_server_whose_port_another_temporal_server_holds_starts_on_another_and_is_not_that_server(
    time_skipping_env,
):
    held = port_of(time_skipping_env)
    environment = await start_time_skipping_server(ports=taken_first(held))
    try:
        assert port_of(environment) != held
        assert environment.supports_time_skipping
        await environment.client.workflow_service.get_system_info(GetSystemInfoRequest())
    finally:
        await environment.shutdown()
