"""The embedded PostgreSQL after an unclean stop: its next start replays the WAL, and the
start knows it is a recovery (and waits for it, rather than stopping it half way at its
plain limit and making the next start begin again)."""

from __future__ import annotations

import contextlib
import threading
import time

import psutil

from services.embedded import postgres as embedded
from services.embedded.ports import free_port
from tests.fixtures.ports import on_free_ports
from tests.fixtures.servers import started_postgres


def test_a_start_after_the_server_was_killed_is_known_as_a_recovery_and_keeps_every_commit(tmp_path):
    server = embedded.EmbeddedPostgres(tmp_path, free_port())
    server.start()
    try:
        assert not embedded.recovering(server.log_since_start())
        server._psql("CREATE TABLE kept (n int); INSERT INTO kept VALUES (1), (2)", embedded.DB_NAME)
        _power_cut(server)
        server.start()
        assert embedded.recovering(server.log_since_start())
        assert server._psql("SELECT sum(n) FROM kept", embedded.DB_NAME).strip() == "3"
    finally:
        server.stop()
    server.start()  # stopped cleanly: no recovery this time
    try:
        assert not embedded.recovering(server.log_since_start())
    finally:
        server.stop()


def _power_cut(server: embedded.EmbeddedPostgres) -> None:
    """The postmaster and every backend killed at once, no shutdown checkpoint: the WAL is
    all there is."""
    assert server.process is not None
    postmaster = psutil.Process(server.process.pid)
    everyone = [postmaster, *postmaster.children(recursive=True)]
    for process in everyone:
        process.kill()
    psutil.wait_procs(everyone, timeout=10)
    server.process.wait()
    server.process = None


# The start's plain limit in the test below. PostgreSQL says it is recovering within it, even
# on a loaded machine (its startup process does so as it begins); the replay is then held for
# longer than the limit, however fast the machine is.
START_LIMIT = 10.0


def test_a_recovery_longer_than_the_start_s_limit_is_waited_for_not_stopped_half_way(tmp_path):
    # A slow replay, made here by pausing the postmaster (which alone marks the server ready)
    # once it has forked the startup process that replays the WAL. It stays paused until this
    # thread has seen the log say "recovering" and the start's limit pass, both observed here,
    # not assumed of the machine's speed. (The start runs in the test's own thread: the server
    # is spawned to die with the thread that spawned it.)
    server = on_free_ports(lambda port: started_postgres(embedded.EmbeddedPostgres(tmp_path, port)))
    server._psql("CREATE TABLE kept (n int); INSERT INTO kept SELECT generate_series(1, 1000)", embedded.DB_NAME)
    _power_cut(server)
    held: list[float] = []  # how long the replay was held, once released
    paused: list[psutil.Process] = []

    def hold_the_replay() -> None:
        gives_up = time.monotonic() + 120
        while not paused and time.monotonic() < gives_up:
            with contextlib.suppress(psutil.Error):
                if server.process is not None and _startup_forked(postmaster := psutil.Process(server.process.pid)):
                    postmaster.suspend()
                    paused.append(postmaster)
            time.sleep(0.002)
        if not paused:
            return
        since = time.monotonic()
        while time.monotonic() < gives_up and not (
            embedded.recovering(server.log_since_start()) and time.monotonic() - since > START_LIMIT + 2
        ):
            time.sleep(0.05)
        held.append(time.monotonic() - since)
        paused[0].resume()

    holder = threading.Thread(target=hold_the_replay)
    holder.start()
    try:
        server.start(timeout=START_LIMIT)
        holder.join(150)
        assert paused, "the replay was never held"
        assert held and held[0] > START_LIMIT, held
        assert embedded.recovering(server.log_since_start())
        assert server._psql("SELECT count(*) FROM kept", embedded.DB_NAME).strip() == "1000"
    finally:
        holder.join(150)
        for postmaster in paused:
            with contextlib.suppress(psutil.Error):
                postmaster.resume()
        server.stop()


def _startup_forked(postmaster: psutil.Process) -> bool:
    """Has the postmaster forked its startup process (which replays the WAL)? Its other
    children (the checkpointer, the background writer) may come first."""
    return any("startup" in " ".join(child.cmdline()) for child in postmaster.children())
