"""The Temporal dev server `pakta dev` and the bench run: its SQLite database in
write-ahead-log mode, what it accepted still there after the process is killed, and its
metrics on a named port, read by the bench as counts of the server's work."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
import time

import pytest
from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes

from bench.temporal_metrics import counters, per_transition, scrape
from services.embedded.ports import free_port
from tests.fixtures.ports import started_temporal
from workflows.contracts import search

on_the_session_loop = pytest.mark.asyncio(loop_scope="session")


@on_the_session_loop
async def test_the_dev_server_logs_ahead_and_keeps_a_started_workflow_through_a_kill(tmp_path):
    server = await started_temporal(tmp_path / "temporal")
    try:
        client = await Client.connect(server.address)
        await client.start_workflow("KillProbe", id="kill-probe", task_queue="kill-probe-nobody")
        assert server.process is not None
        server.process.kill()  # SIGKILL: nothing held in memory is written
        server.process.wait(timeout=10)
        server.process = None

        with sqlite3.connect(tmp_path / "temporal" / "temporal.db") as database:
            assert database.execute("PRAGMA journal_mode").fetchone() == ("wal",)

        server.spawn()
        await server.wait_ready()
        client = await Client.connect(server.address)
        described = await client.get_workflow_handle("kill-probe").describe()
        assert described.workflow_type == "KillProbe"
    finally:
        server.stop()


@on_the_session_loop
async def test_the_dev_server_on_a_named_metrics_port_counts_each_request_by_method(tmp_path):
    server = await started_temporal(tmp_path / "temporal", metrics=True)
    assert server.metrics_url is not None
    try:
        client = await Client.connect(server.address)
        handle = await client.start_workflow("CountProbe", id="count-probe", task_queue="count-probe-nobody")
        before = await scrape(server.metrics_url)
        for _ in range(3):
            await handle.signal("poke")
        signalled = "service_requests{operation=SignalWorkflowExecution,service_name=frontend}"
        deadline = time.monotonic() + 60  # the counters reach its page within seconds; a busy machine, later
        while time.monotonic() < deadline:
            grown = per_transition(before, await scrape(server.metrics_url), 3)
            if grown.get(signalled) == 1.0:
                break
            await asyncio.sleep(0.1)

        assert grown[signalled] == 1.0
    finally:
        server.stop()


def test_a_metrics_page_is_read_for_its_counters_only_summed_across_namespaces():
    page = "\n".join(
        [
            "# TYPE service_requests counter",
            'service_requests{namespace="default",operation="PollWorkflowTaskQueue",service_name="frontend"} 4',
            'service_requests{namespace="system",operation="PollWorkflowTaskQueue",service_name="frontend"} 1',
            "# TYPE pending_polls gauge",
            'pending_polls{namespace="default"} 7',
            "# TYPE service_latency histogram",
            'service_latency_bucket{operation="X",le="1"} 2',
        ]
    )
    assert counters(page) == {"service_requests{operation=PollWorkflowTaskQueue,service_name=frontend}": 5.0}


@on_the_session_loop
async def test_the_dev_server_serves_search_attributes_from_its_cache_not_a_database_read_per_use(tmp_path):
    server = await started_temporal(tmp_path / "temporal", metrics=True)
    assert server.metrics_url is not None
    try:
        client = await Client.connect(server.address)
        indexed = TypedSearchAttributes([SearchAttributePair(search.STAGE, "draft")])
        # The first use fills each service's cache.
        await client.start_workflow(
            "CacheProbe", id="cache-probe", task_queue="cache-probe-nobody", search_attributes=indexed
        )
        before = await scrape(server.metrics_url)
        for i in range(10):
            await client.start_workflow(
                "CacheProbe", id=f"cache-probe-{i}", task_queue="cache-probe-nobody", search_attributes=indexed
            )
        started = "service_requests{operation=StartWorkflowExecution,service_name=history}"
        deadline = time.monotonic() + 60  # the counters reach its page within seconds; a busy machine, later
        while time.monotonic() < deadline:
            grown = per_transition(before, await scrape(server.metrics_url), 10)
            if grown.get(started, 0) >= 1.0:
                break
            await asyncio.sleep(0.1)

        assert grown.get(started, 0) >= 1.0
        # Read from the database per start, they would be ≥ 1 a start (≈ 1.3 measured); a
        # cache's own refresh now and then stays well below.
        definitions_read = sum(rate for key, rate in grown.items() if "GetCurrentClusterMetadata" in key)
        assert definitions_read < 0.5
        found = [w.id async for w in client.list_workflows("PaktaStage = 'draft'")]
        assert len(found) <= 11  # the attribute is known to the server: the query is accepted
    finally:
        server.stop()


@on_the_session_loop
async def test_the_dev_server_whose_metrics_port_another_process_took_first_starts_again_on_free_ports(tmp_path):
    # What a suite running beside this one did once: it took the metrics port between its
    # choice and the server's start.
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        held = other.getsockname()[1]
        drawn = iter([free_port(), held])
        server = await started_temporal(
            tmp_path / "temporal", metrics=True, ports=lambda: next(drawn, None) or free_port()
        )
        try:
            assert server.metrics_port not in (None, held)
            assert server.metrics_url is not None
            assert await scrape(server.metrics_url)  # its own metrics, on its own port
            assert "address already in use" in server.log_path.read_text()  # the first start did fail
        finally:
            server.stop()
