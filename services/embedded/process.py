"""Child processes that never outlive us.

Each child gets its own session, so a Ctrl-C in the terminal reaches only us and we stop
the children in order (API and worker first, then Temporal, then PostgreSQL). On Linux the
kernel also signals a child when we die without cleaning up (PR_SET_PDEATHSIG), so even a
SIGKILL of `pakta dev` leaves no orphan servers behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO

_PR_SET_PDEATHSIG = 1


def _die_with_parent(sig: int) -> Callable[[], None] | None:
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    parent = os.getpid()

    def preexec() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
        # The parent may have died between fork and prctl.
        if os.getppid() != parent:
            os.kill(os.getpid(), int(sig))

    return preexec


def spawn(
    argv: Sequence[str],
    *,
    stdout: IO[bytes] | int | None = None,
    user: str | None = None,
    death_signal: int = signal.SIGTERM,
    env: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """Start `argv` in its own session, logging to `stdout`. Call from the main thread:
    the death signal fires when the *thread* that forked exits."""
    return subprocess.Popen(
        list(argv),
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=subprocess.STDOUT if stdout is not None else None,
        user=user,
        env=env,
        start_new_session=True,
        preexec_fn=_die_with_parent(death_signal),
    )


def stop_process(process: subprocess.Popen[bytes], sig: int, *, timeout: float) -> None:
    """Ask politely with `sig`, wait, then kill the whole process group."""
    if process.poll() is not None:
        return
    try:
        process.send_signal(sig)
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)


def log_from(log_path: Path, offset: int) -> str:
    """What a server appended to its log from `offset` on (its current start's lines: the
    log is appended to across starts); empty when there is no log yet."""
    try:
        with log_path.open("rb") as server_log:
            server_log.seek(offset)
            return server_log.read().decode(errors="replace")
    except FileNotFoundError:
        return ""
