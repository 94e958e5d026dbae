"""`pakta dev` for real, as a user runs it: a subprocess that starts PostgreSQL, Temporal,
migrations, the worker and the API; stops them all; and keeps its data across restarts."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import asyncpg
import httpx
import psutil
import pytest
from temporalio.client import Client

from services.auth import decode_token
from services.embedded.ports import free_port
from services.settings import Settings
from tests.fixtures.ports import ATTEMPTS

ROOT = Path(__file__).resolve().parents[2]
ROLES = ("staff", "partner", "signatory", "approver", "scheduler", "auditor", "admin")


class DevStack:
    """One `pakta dev` process with its output collected in the background."""

    def __init__(self, data_dir: Path, ports: dict[str, int]) -> None:
        self.data_dir, self.ports = data_dir, ports
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "services.cli",
                "dev",
                "--data-dir",
                str(data_dir),
                "--port",
                str(ports["api"]),
                "--temporal-port",
                str(ports["temporal"]),
                "--ui-port",
                str(ports["ui"]),
                "--pg-port",
                str(ports["pg"]),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._collector = threading.Thread(target=self._collect, daemon=True)
        self._collector.start()

    def _collect(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def read_to_the_end(self, timeout: float = 60) -> None:
        """Once it has exited: until the collecting thread has read its output to the end
        (the pipe's end, when every process writing to it has gone), so `output` is whole."""
        self._collector.join(timeout)

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.ports['api']}"

    async def wait_ready(self, timeout: float = 90) -> None:  # noqa: ASYNC109 -- the bound is named in the failure
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient() as http:
            while time.monotonic() < deadline:
                assert self.process.poll() is None, f"pakta dev exited:\n{self.output}"
                try:
                    ready = (await http.get(f"{self.api}/readyz", timeout=5)).status_code == 200
                    # Alive after the answer: it has held the API's port since its check, so
                    # the answer was its own, not another program's that took a port it left.
                    if ready and self.process.poll() is None:
                        # readyz answers before the banner is printed; wait for it too
                        while "Press Ctrl-C" not in self.output and time.monotonic() < deadline:  # noqa: ASYNC110 -- polls the output a thread collects
                            await asyncio.sleep(0.1)
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.3)
        pytest.fail(f"pakta dev not ready in {timeout}s:\n{self.output}")

    async def stop(self, sig: int = signal.SIGINT, timeout: float = 45) -> int:  # noqa: ASYNC109 -- the bound is named in the failure
        self.process.send_signal(sig)
        deadline = time.monotonic() + timeout
        while self.process.poll() is None and time.monotonic() < deadline:  # noqa: ASYNC110 -- polls another process; nothing here could set an Event
            await asyncio.sleep(0.2)
        if self.process.poll() is None:
            self.process.kill()
            pytest.fail(f"pakta dev did not stop within {timeout}s:\n{self.output}")
        await asyncio.to_thread(self.read_to_the_end)  # what it wrote last, before its exit
        return self.process.returncode


def servers_using(data_dir: Path) -> list[psutil.Process]:
    leftovers = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if str(data_dir) in cmdline and "services.cli" not in cmdline and "pytest" not in cmdline:
            leftovers.append(proc)
    return leftovers


async def wait_no_servers(data_dir: Path, timeout: float = 20) -> list[psutil.Process]:  # noqa: ASYNC109 -- a test helper's own bound
    deadline = time.monotonic() + timeout
    while (left := servers_using(data_dir)) and time.monotonic() < deadline:  # noqa: ASYNC110 -- polls the process table
        await asyncio.sleep(0.2)
    return left


async def connect_as(data_dir: Path, port: int, role: str, password: str | None = None) -> asyncpg.Connection:
    passwords = json.loads((data_dir / "pg_passwords.json").read_text())
    return await asyncpg.connect(
        host="127.0.0.1", port=port, user=role, database="pakta", password=password or passwords[role]
    )


async def the_database_asks_for_passwords_and_the_application_gets_rows_only(data_dir: Path, port: int) -> None:
    for role in ("pakta", "pakta_owner", "pakta_app"):
        with pytest.raises(asyncpg.InvalidPasswordError):
            await connect_as(data_dir, port, role, password="wrong")
    owner = await connect_as(data_dir, port, "pakta_owner")
    try:
        assert not await owner.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        assert await owner.fetchval("SELECT tableowner FROM pg_tables WHERE tablename = 'agreements'") == "pakta_owner"
    finally:
        await owner.close()
    app = await connect_as(data_dir, port, "pakta_app")
    try:
        assert not await app.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        assert await app.fetchval("SELECT count(*) FROM agreements") >= 0
        for statement in (
            "CREATE TABLE intruder (x int)",
            "ALTER TABLE agreements ADD COLUMN x int",
            "DROP TABLE documents",
            "UPDATE agreement_events SET type = type",
            "UPDATE superseded_events SET type = type",
            "DELETE FROM superseded_events",
            "TRUNCATE agreement_events",
            "UPDATE alembic_version SET version_num = version_num",
            "SET session_replication_role = replica",
        ):
            with pytest.raises(asyncpg.PostgresError):
                await app.execute(statement)
    finally:
        await app.close()


def drawn_ports() -> dict[str, int]:
    chosen: set[int] = set()
    while len(chosen) < 4:
        chosen.add(free_port())
    return dict(zip(("api", "temporal", "ui", "pg"), sorted(chosen), strict=True))


@pytest.fixture
def ports() -> dict[str, int]:
    return drawn_ports()


def kept_then_drawn(ports: dict[str, int]) -> Callable[[], dict[str, int]]:
    """`ports` first, then newly drawn ones: a restart on its data keeps the ports it had,
    unless a suite beside this one took one while it was down (the data dir holds no port)."""
    draws = iter([ports])
    return lambda: next(draws, None) or drawn_ports()


async def started_dev_stack(data_dir: Path, *, draw: Callable[[], dict[str, int]] = drawn_ports) -> DevStack:
    """`pakta dev` on free ports, ready; on newly drawn ones if a suite beside this one took
    one first (`pakta dev` never moves a port: it says so in one line, exit code 2). A
    restart on its data: `draw=kept_then_drawn(stack.ports)`."""
    for attempt in range(1, ATTEMPTS + 1):
        stack = DevStack(data_dir, draw())
        try:
            await stack.wait_ready()
            return stack
        except BaseException:
            if stack.process.poll() is None:
                stack.process.kill()
                stack.process.wait()
            stack.process.wait()
            await asyncio.to_thread(stack.read_to_the_end)  # its last line says why it exited
            if stack.process.returncode != 2 or "is already in use" not in stack.output or attempt == ATTEMPTS:
                raise
    raise AssertionError("unreachable")


async def test_dev_stack_runs_stops_cleanly_and_keeps_its_data(tmp_path):
    data_dir = tmp_path / "data"

    # -- first run: everything comes up, prints where it is and how to authenticate --------
    first = await started_dev_stack(data_dir)
    ports = first.ports
    try:
        out = first.output
        for line in ("starting PostgreSQL… ok", "migrating the database… ok", "waiting for Temporal… ok"):
            assert line in out
        assert f"API           {first.api}" in out and f"{first.api}/docs" in out
        assert f"http://127.0.0.1:{ports['ui']}" in out and str(data_dir) in out
        printed = dict(re.findall(r"^  (\w+) +(eyJ[\w.-]+)$", out, flags=re.MULTILINE))
        assert set(printed) == set(ROLES)
        saved = dict(line.split("\t") for line in (data_dir / "tokens.txt").read_text().splitlines())
        assert saved == printed
        # Bearer credentials and database passwords: readable by their owner only.
        for secret_file in ("tokens.txt", "jwt_secret", "pg_passwords.json"):
            assert (data_dir / secret_file).stat().st_mode & 0o777 == 0o600, secret_file
        settings = Settings(jwt_secret=(data_dir / "jwt_secret").read_text().strip())
        approver = decode_token(settings, printed["approver"])
        assert approver.org == "jabar" and set(approver.gates) == {"review", "legal", "dprd", "ministry", "head"}
        async with httpx.AsyncClient() as http:
            assert (await http.get(f"{first.api}/docs")).status_code == 200
            assert (await http.get(f"{first.api}/healthz")).json() == {"status": "ok"}
            # Once ready, the one process froze what start-up built (services/heap.py).
            deadline = time.monotonic() + 60  # a bound, not a clock: a busy machine freezes late
            while time.monotonic() < deadline:
                metrics = (await http.get(f"{first.api}/metrics")).text
                frozen = re.search(r"^pakta_heap_frozen_objects ([0-9.e+]+)$", metrics, flags=re.MULTILINE)
                if frozen and float(frozen[1]) > 0:
                    break
                await asyncio.sleep(0.1)
            assert frozen and float(frozen[1]) > 10_000, metrics[:2000]
            # the demo organisations are in the register, with whom they report to
            staff = {"Authorization": f"Bearer {printed['staff']}"}
            bandung = (await http.get(f"{first.api}/organisations/kota-bandung", headers=staff)).json()
            assert bandung["oversight"] == {"org": "jabar", "derived": True}

        await the_database_asks_for_passwords_and_the_application_gets_rows_only(data_dir, ports["pg"])

        # Leave a mark in both stores: a row in PostgreSQL and a workflow in Temporal.
        db = await connect_as(data_dir, ports["pg"], "pakta_owner")
        await db.execute("CREATE TABLE devstack_probe (note text); INSERT INTO devstack_probe VALUES ('kept')")
        await db.close()
        temporal = await Client.connect(f"127.0.0.1:{ports['temporal']}")
        await temporal.start_workflow("DevstackProbe", id="devstack-probe", task_queue="devstack-probe-nobody")
    finally:
        code = await first.stop(signal.SIGINT)
    assert code == 0, first.output
    assert await wait_no_servers(data_dir) == [], "PostgreSQL or Temporal outlived pakta dev"

    # -- second run on the same data dir: the data is still there, old tokens still work ----
    # A suite beside this one took a port while the stack was down: it comes back on others.
    with listener(ports["temporal"]):
        second = await started_dev_stack(data_dir, draw=kept_then_drawn(ports))
    assert second.ports["temporal"] != ports["temporal"]
    try:
        db = await connect_as(data_dir, second.ports["pg"], "pakta_owner")
        assert await db.fetchval("SELECT note FROM devstack_probe") == "kept"
        await db.close()
        temporal = await Client.connect(f"127.0.0.1:{second.ports['temporal']}")
        described = await temporal.get_workflow_handle("devstack-probe").describe()
        assert described.workflow_type == "DevstackProbe"
        settings = Settings(jwt_secret=(data_dir / "jwt_secret").read_text().strip())
        assert decode_token(settings, printed["staff"]).sub == "demo-staff"
    finally:
        # Even a SIGKILL, which allows no cleanup, must not leave servers behind.
        await second.stop(signal.SIGKILL)
    assert await wait_no_servers(data_dir) == [], "PostgreSQL or Temporal outlived a killed pakta dev"


# What each port of `pakta dev` serves, and the option that changes it.
OPTIONS = {
    "api": ("API", "--port"),
    "temporal": ("Temporal", "--temporal-port"),
    "ui": ("Temporal UI", "--ui-port"),
    "pg": ("PostgreSQL", "--pg-port"),
}


def taken_message(ports: dict[str, int], which: str) -> str:
    what, flag = OPTIONS[which]
    return f"pakta dev: port {ports[which]} is already in use ({what}); choose another with {flag}"


def listener(port: int) -> socket.socket:
    """Another program's server on `port`: bound and listening, with SO_REUSEADDR as servers
    set it (so a port only bound, not listened on, would not stop it)."""
    other = socket.socket()
    other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        other.bind(("127.0.0.1", port))
        other.listen()
    except OSError:
        other.close()
        raise
    return other


def checked(data_dir: Path, stack: DevStack) -> None:
    """Wait until `pakta dev` has checked its ports: it then writes down PostgreSQL's port,
    seconds before PostgreSQL (after initdb) and Temporal (after PostgreSQL) bind theirs."""
    deadline = time.monotonic() + 60
    while not (data_dir / "pg_port").exists():
        assert stack.process.poll() is None and time.monotonic() < deadline, stack.output
        time.sleep(0.005)


@pytest.mark.parametrize("which", OPTIONS)
def test_a_port_taken_before_the_start_is_one_line_naming_its_option_and_exit_code_2(tmp_path, ports, which):
    with listener(ports[which]):
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "services.cli",
                "dev",
                "--data-dir",
                str(tmp_path / "data"),
                "--port",
                str(ports["api"]),
                "--temporal-port",
                str(ports["temporal"]),
                "--ui-port",
                str(ports["ui"]),
                "--pg-port",
                str(ports["pg"]),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == taken_message(ports, which) + "\n"
    assert servers_using(tmp_path / "data") == []


@pytest.mark.parametrize("which", ["pg", "temporal", "ui"])
def test_a_port_another_program_takes_while_the_stack_starts_is_one_line_naming_its_option_and_exit_code_2(
    tmp_path, ports, which
):
    """PostgreSQL and the Temporal dev server bind their ports seconds after the check; one
    taken in between is reported as one taken before, not moved (it is the one asked for)."""
    data_dir = tmp_path / "data"
    stack = DevStack(data_dir, ports)
    try:
        checked(data_dir, stack)
        with listener(ports[which]):
            assert stack.process.wait(timeout=120) == 2, stack.output
        stack.read_to_the_end()  # the collecting thread reads the last line
        assert stack.output.endswith("failed\n" + taken_message(ports, which)), stack.output
        assert servers_using(data_dir) == []
    finally:
        if stack.process.poll() is None:
            stack.process.kill()


async def test_the_api_port_is_held_from_the_check_so_no_program_takes_it_while_the_stack_starts(tmp_path, ports):
    data_dir = tmp_path / "data"
    stack = DevStack(data_dir, ports)
    try:
        checked(data_dir, stack)
        with pytest.raises(OSError, match="already in use"):
            listener(ports["api"]).close()
        await stack.wait_ready()
        async with httpx.AsyncClient() as http:
            assert (await http.get(f"{stack.api}/healthz", timeout=30)).status_code == 200
    finally:
        assert await stack.stop() == 0, stack.output


async def test_a_dev_stack_for_a_test_whose_port_a_suite_beside_took_first_starts_on_newly_drawn_ports(tmp_path):
    first = drawn_ports()
    with listener(first["temporal"]):
        stack = await started_dev_stack(tmp_path / "data", draw=kept_then_drawn(first))
    try:
        assert stack.ports["temporal"] != first["temporal"]
        async with httpx.AsyncClient() as http:
            assert (await http.get(f"{stack.api}/healthz", timeout=30)).status_code == 200
    finally:
        assert await stack.stop() == 0, stack.output
