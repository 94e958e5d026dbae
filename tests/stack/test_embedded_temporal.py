"""The Temporal dev server `pakta dev` and the bench run: its SQLite database in
write-ahead-log mode, and what it accepted still there after the process is killed."""

from __future__ import annotations

import sqlite3

import pytest
from temporalio.client import Client

from services.embedded.ports import free_port
from services.embedded.temporal import EmbeddedTemporal

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_the_dev_server_logs_ahead_and_keeps_a_started_workflow_through_a_kill(tmp_path):
    server = EmbeddedTemporal(tmp_path / "temporal", free_port(), ui_port=None)
    server.spawn()
    try:
        await server.wait_ready()
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
