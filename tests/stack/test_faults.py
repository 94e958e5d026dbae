"""Faults on the real stack, each in the middle of a burst of commands: the worker killed
and restarted, the API killed and restarted, the Temporal dev server restarted on its
persistence file, PostgreSQL stopped and started. After each, every agreement reaches its
stage, every command answered 2xx is in its audit trail, every chain verifies, and every
agreement takes its next command at once. The whole dev stack killed with SIGKILL mid-burst
is `test_devstack.py`'s neighbour below. Results are tabled in docs/reliability.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import httpx
import pytest
import pytest_asyncio

from services.api.commands import execute_act, now_utc
from services.embedded.postgres import EmbeddedPostgres
from services.embedded.temporal import EmbeddedTemporal
from services.temporal_client import connect_temporal
from tests.stack.faults import ApiAddress, Driver, Topology, check_outcome, run_burst, until_progress
from tests.stack.test_devstack import kept_then_drawn, started_dev_stack, wait_no_servers
from workflows import messages as m
from workflows.agreement import ActInput, AgreementWorkflow, workflow_id

pytestmark = pytest.mark.asyncio(loop_scope="session")
BURST = 6  # agreements driven at once; each takes ~13 commands into implementation
REPORT = Path(__file__).resolve().parents[2] / ".pakta" / "faults.json"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def topology(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Topology]:
    topology = Topology(tmp_path_factory.mktemp("faults"))
    await topology.start()
    try:
        yield topology
    finally:
        await topology.stop()


async def recording_retried(topology: Topology, workflow: str, timeout: float = 120) -> None:  # noqa: ASYNC109
    """Until the worker's log says a `record_events` attempt of `workflow` failed (temporalio's
    own line, one per failed attempt): the recording is under way and retrying, however long
    a busy machine took to get there. A bound, not a clock."""
    deadline = time.monotonic() + timeout
    while not any(
        "Completing activity as failed" in line and "'record_events'" in line and workflow in line
        for line in topology.since_start("worker").splitlines()
    ):
        assert time.monotonic() < deadline, f"no recording of {workflow} retried:\n{topology.tail('worker')}"
        await asyncio.sleep(0.2)


def untested_if_moved(moved: bool, server: str) -> None:
    """A fault test of how the running API and worker live through `server`'s restart ends
    as skipped, not passed, when the server moved (its port taken meanwhile by a suite
    beside): they were restarted to follow it, so what it tests did not happen. The
    outcome is still checked and reported before."""
    if moved:
        pytest.skip(
            f"{server}'s port was taken while it was down: it moved, and the API and the worker were "
            "restarted to follow it, so their living through its restart was not tested"
        )


async def test_a_fault_test_whose_server_moved_ends_skipped_with_its_reason_not_passed():
    """On `8f344fa` a PostgreSQL or Temporal restart that moved restarted the API and the
    worker and the in-place tests passed all the same, having tested another fault."""
    untested_if_moved(False, "PostgreSQL")  # in place: the test goes on to pass
    with pytest.raises(pytest.skip.Exception, match="PostgreSQL's port was taken"):
        untested_if_moved(True, "PostgreSQL")


def report(name: str, totals: dict[str, int]) -> None:
    """What each fault run did, for docs/reliability.md's table."""
    REPORT.parent.mkdir(exist_ok=True)
    done = json.loads(REPORT.read_text()) if REPORT.exists() else {}
    done[name] = totals
    REPORT.write_text(json.dumps(done, indent=2, sort_keys=True))


async def no_duplicate_notifications(topology: Topology, drivers: list[Driver]) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        for driver in drivers:
            staff = driver.people()[0]
            listed = (await driver.call(http, "GET", "/notifications", staff, deadline=time.monotonic() + 60)).json()[
                "items"
            ]
            seen = Counter((n["event_id"], n["type"]) for n in listed)
            assert all(count == 1 for count in seen.values()), seen


async def test_killing_the_worker_mid_burst_loses_nothing(topology: Topology):
    drivers, tasks = await run_burst(topology.address, topology.settings.jwt_secret, BURST, "w")
    await until_progress(drivers, BURST * 4)
    topology.kill("worker")
    await asyncio.sleep(2)
    topology.start_process("worker")
    await asyncio.gather(*tasks)
    totals = await check_outcome(drivers)
    await no_duplicate_notifications(topology, drivers)
    report("worker killed (SIGKILL) and restarted", {**totals, "faults": 1})


async def test_killing_the_api_mid_request_loses_nothing(topology: Topology):
    drivers, tasks = await run_burst(topology.address, topology.settings.jwt_secret, BURST, "a")
    for round_ in range(2):
        await until_progress(drivers, BURST * (3 + 3 * round_))
        topology.kill("api")
        await asyncio.sleep(1)
        await topology.start_api()  # on its port, or on another if that was taken meanwhile
    await asyncio.gather(*tasks)
    totals = await check_outcome(drivers)
    await no_duplicate_notifications(topology, drivers)
    report("API killed (SIGKILL) mid-request, twice", {**totals, "faults": 2})


class _Another(BaseHTTPRequestHandler):
    """Another suite's server: 404 to anything, each request's path kept."""

    paths: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.paths.append(self.path)
        self.send_response(404)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    do_POST = do_GET

    def log_message(self, *args: object) -> None:
        pass


async def test_the_drivers_follow_a_killed_api_to_another_port_when_its_own_is_taken_while_it_is_down(
    topology: Topology,
):
    drivers, tasks = await run_burst(topology.address, topology.settings.jwt_secret, BURST, "m")
    await until_progress(drivers, BURST * 3)
    port = topology.api_port
    topology.kill("api")
    other = ThreadingHTTPServer(("127.0.0.1", port), _Another)  # a suite beside took the port
    threading.Thread(target=other.serve_forever, daemon=True).start()
    try:
        await topology.start_api()
        assert topology.api_port != port
        assert "address already in use" in topology.logs["api"].read_text()  # its first start
        await asyncio.gather(*tasks)
        totals = await check_outcome(drivers)
    finally:
        other.shutdown()
        other.server_close()
    # Only the restart's readiness probes reached the other server (and were not taken for
    # ours); no driver's request did.
    assert set(_Another.paths) <= {"/readyz"}, _Another.paths
    report("API killed (SIGKILL), its port taken while down, restarted on another", {**totals, "faults": 1})


@contextlib.contextmanager
def held_port(port: int) -> Iterator[None]:
    """`port` taken by another suite's HTTP server (`_Another`), as one would take a port a
    stopped server left free: it answers PostgreSQL's and gRPC's clients with an HTTP error."""
    other = ThreadingHTTPServer(("127.0.0.1", port), _Another)  # SO_REUSEADDR: past a TIME_WAIT
    threading.Thread(target=other.serve_forever, daemon=True).start()
    try:
        yield
    finally:
        other.shutdown()
        other.server_close()


async def test_postgres_restarted_while_its_port_is_taken_moves_and_the_api_and_worker_follow_it(
    topology: Topology,
):
    def followed() -> bool:
        return f":{topology.pg.port}/" in topology.env()["PAKTA_DATABASE_URL"]

    totals = await restarted_while_its_port_is_taken(
        topology, lambda: topology.pg, topology.start_postgres_again, followed, tag="pm"
    )
    report("PostgreSQL stopped, its port taken while down, started on another", {**totals, "faults": 1})


async def test_temporal_restarted_while_its_port_is_taken_moves_and_the_api_and_worker_follow_it(
    topology: Topology,
):
    def followed() -> bool:
        return topology.env()["PAKTA_TEMPORAL_ADDRESS"] == f"127.0.0.1:{topology.temporal.port}"

    totals = await restarted_while_its_port_is_taken(
        topology, lambda: topology.temporal, topology.restart_temporal, followed, tag="tm"
    )
    report("Temporal dev server stopped, its port taken while down, started on another", {**totals, "faults": 1})


async def restarted_while_its_port_is_taken(
    topology: Topology,
    server: Callable[[], EmbeddedPostgres | EmbeddedTemporal],
    restart: Callable[[], Awaitable[bool]],
    followed: Callable[[], bool],
    *,
    tag: str,
) -> dict[str, int]:
    """A burst runs; the `server` stops and, while it is down, a suite beside takes its port;
    `restart` starts it again: on another port (its first start's log says the port was in
    use), the restarted API and worker given that address (`followed`), and the burst's
    outcome checked. `server` is asked again after the restart: a moved server may be
    another object."""
    drivers, tasks = await run_burst(topology.address, topology.settings.jwt_secret, BURST, tag)
    await until_progress(drivers, BURST * 4)
    port = server().port
    server().stop()
    with held_port(port):
        assert await restart()
        assert server().port != port
        assert "already in use" in server().log_path.read_text(errors="replace")  # its first start
        assert followed()  # what the restarted ones got
        await asyncio.gather(*tasks)
        return await check_outcome(drivers)


async def test_restarting_temporal_on_its_persistence_file_loses_nothing(topology: Topology):
    drivers, tasks = await run_burst(topology.address, topology.settings.jwt_secret, BURST, "t")
    await until_progress(drivers, BURST * 4)
    moved = await topology.restart_temporal()  # on its port, or on another if that was taken meanwhile
    await asyncio.gather(*tasks)
    totals = await check_outcome(drivers)
    report("Temporal dev server restarted on its database file", {**totals, "faults": 1})
    untested_if_moved(moved, "Temporal")


async def test_restarting_postgres_while_actions_flow_loses_nothing(topology: Topology):
    drivers, tasks = await run_burst(topology.address, topology.settings.jwt_secret, BURST, "p")
    await until_progress(drivers, BURST * 4)
    topology.pg.stop()
    async with httpx.AsyncClient(timeout=10) as http:
        ready = await http.get(f"{topology.api}/readyz")
        assert ready.status_code == 503 and "database" in ready.json()["error"]["down"]
    await asyncio.sleep(3)
    moved = await topology.start_postgres_again()  # on its port, or on another if that was taken meanwhile
    await topology.wait_api()
    await asyncio.gather(*tasks)
    totals = await check_outcome(drivers)
    report("PostgreSQL stopped for 3 s and started again", {**totals, "faults": 1})
    untested_if_moved(moved, "PostgreSQL")


async def test_killing_the_whole_dev_stack_mid_burst_and_restarting_it_on_its_data(tmp_path: Path):
    data_dir = tmp_path / "dev"
    stack = await started_dev_stack(data_dir)
    secret = (data_dir / "jwt_secret").read_text().strip()
    address = ApiAddress(stack.api)
    drivers, tasks = await run_burst(address, secret, BURST, "d")
    try:
        await until_progress(drivers, BURST * 4)
        address.url = None  # before the kill: once it is dead, its ports may be anyone's
        await stack.stop(signal.SIGKILL)
        (data_dir / "killed-stack.log").write_text(stack.output)  # kept with the data, for a failure
        await asyncio.sleep(1)
        assert await wait_no_servers(data_dir) == [], "PostgreSQL or Temporal outlived the killed pakta dev"
        # On its ports, or on others if a suite beside this one took one meanwhile; the
        # drivers follow (the data dir holds no port).
        stack = await started_dev_stack(data_dir, draw=kept_then_drawn(stack.ports))
        address.url = stack.api
        await asyncio.gather(*tasks)
        totals = await check_outcome(drivers)
        report("whole `pakta dev` killed (SIGKILL) and restarted on its data", {**totals, "faults": 1})
    finally:
        for task in tasks:
            task.cancel()
        try:
            await stack.stop(signal.SIGINT)
        finally:
            (data_dir / "restarted-stack.log").write_text(stack.output)


async def test_the_worker_stops_within_bounds_while_a_recording_waits_for_the_database(topology: Topology):
    """SIGTERM while a command's recording retries against a database that is down: the
    worker exits within its shutdown limit, and the command completes once both are back."""
    drivers, tasks = await run_burst(topology.address, topology.settings.jwt_secret, 1, "s")
    await until_progress(drivers, 1)
    driver = drivers[0]
    client = await connect_temporal(topology.settings)
    staff = m.Actor(sub=driver.people()[0].sub, org=driver.region, roles=["staff"])
    await asyncio.gather(*tasks)  # in implementation: comments are always possible
    topology.pg.stop()
    pending = asyncio.create_task(
        execute_act(
            client,
            driver.agreement_id or "",
            ActInput(command=m.Comment(text="Menunggu basis data."), actor=staff, at=now_utc()),
        )
    )
    await recording_retried(topology, workflow_id(driver.agreement_id or ""))  # the update is accepted
    assert not pending.done()
    started = time.monotonic()
    topology.processes["worker"].send_signal(signal.SIGTERM)
    topology.processes["worker"].wait(timeout=60)
    stopped_after = time.monotonic() - started
    assert stopped_after < 30, stopped_after
    await topology.start_postgres_again()  # the API follows it if it moved; the worker is started after
    topology.start_process("worker")
    receipt = await asyncio.wait_for(pending, timeout=120)
    state = await client.get_workflow_handle(workflow_id(receipt.id)).query(AgreementWorkflow.state)
    assert state.version == receipt.version and state.comments[-1].text == "Menunggu basis data."
    await topology.wait_api()
    report(
        "worker stopped (SIGTERM) while a recording waited for the database",
        {
            "agreements": 1,
            "accepted": 1,
            "faults": 2,
            "retries": 0,
            "superseded": 0,
            "stop_seconds": round(stopped_after),
        },
    )
