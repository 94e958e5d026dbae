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


def test_a_recovery_longer_than_the_start_s_limit_is_waited_for_not_stopped_half_way(tmp_path):
    # A slow replay, made here by pausing the postmaster (which alone marks the server ready)
    # once the replay has begun, for longer than the start's plain limit: the start waits.
    # (The start runs in the test's own thread: the server is spawned to die with the thread
    # that spawned it.)
    server = embedded.EmbeddedPostgres(tmp_path, free_port())
    server.start()
    server._psql("CREATE TABLE kept (n int); INSERT INTO kept SELECT generate_series(1, 1000)", embedded.DB_NAME)
    _power_cut(server)
    paused: list[psutil.Process] = []

    def hold_the_replay() -> None:
        deadline = time.monotonic() + 30
        while not paused and time.monotonic() < deadline:
            process = server.process
            with contextlib.suppress(psutil.Error):
                if process is not None and psutil.Process(process.pid).children():
                    # The postmaster has forked its startup process, which replays the WAL
                    # and logs that it does; paused, the postmaster cannot declare it ready.
                    postmaster = psutil.Process(process.pid)
                    postmaster.suspend()
                    paused.append(postmaster)
                    time.sleep(2.5)  # well past the start's 1 s limit
                    postmaster.resume()
            time.sleep(0.001)

    holder = threading.Thread(target=hold_the_replay)
    holder.start()
    try:
        server.start(timeout=1.0)
        holder.join(30)
        assert paused, "the replay was never held"
        assert embedded.recovering(server.log_since_start())
        assert server._psql("SELECT count(*) FROM kept", embedded.DB_NAME).strip() == "1000"
    finally:
        holder.join(30)
        for postmaster in paused:
            with contextlib.suppress(psutil.Error):
                postmaster.resume()
        server.stop()
