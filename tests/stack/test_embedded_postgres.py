"""The embedded PostgreSQL after an unclean stop: its next start replays the WAL, and the
start knows it is a recovery (and waits for it, rather than stopping it half way at its
plain limit and making the next start begin again)."""

from __future__ import annotations

import psutil

from services.embedded import postgres as embedded
from services.embedded.ports import free_port


def test_a_start_after_the_server_was_killed_is_known_as_a_recovery_and_keeps_every_commit(tmp_path):
    server = embedded.EmbeddedPostgres(tmp_path, free_port())
    server.start()
    try:
        assert not embedded.recovering(server.log_since_start())
        server._psql("CREATE TABLE kept (n int); INSERT INTO kept VALUES (1), (2)", embedded.DB_NAME)
        assert server.process is not None
        # As a power cut would: the postmaster and every backend at once, no shutdown
        # checkpoint — the WAL is all there is.
        postmaster = psutil.Process(server.process.pid)
        everyone = [postmaster, *postmaster.children(recursive=True)]
        for process in everyone:
            process.kill()
        psutil.wait_procs(everyone, timeout=10)
        server.process.wait()
        server.process = None
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
