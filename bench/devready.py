"""How long `pakta dev` takes from the command to "Pakta is running." — started twice on one
data dir: the first start makes the database (initdb, migrations), the second is the warm
start the issue's target (≤ 10 s) speaks of."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

from services.embedded.ports import free_port

READY = b"Pakta is running."


async def _start_once(data_dir: Path, timeout: float = 120.0) -> float:  # noqa: ASYNC109 -- named in the error
    argv = [sys.executable, "-m", "services.cli", "dev", "--data-dir", str(data_dir)]
    for flag in ("--port", "--temporal-port", "--ui-port", "--pg-port"):
        argv += [flag, str(free_port())]
    started = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, start_new_session=True
    )
    assert process.stdout is not None
    seen = b""
    try:
        async with asyncio.timeout(timeout):
            while READY not in seen:
                chunk = await process.stdout.read(4096)
                if not chunk:
                    raise RuntimeError(f"`pakta dev` stopped before it was ready:\n{seen.decode(errors='replace')}")
                seen += chunk
        return round(time.perf_counter() - started, 2)
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
            try:
                async with asyncio.timeout(30):
                    while await process.stdout.read(4096):
                        pass
                    await process.wait()
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()


async def dev_ready() -> dict[str, float]:
    data_dir = Path(tempfile.mkdtemp(prefix="pakta-bench-dev-"))
    try:
        first = await _start_once(data_dir)
        warm = await _start_once(data_dir)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    return {"first_start_s": first, "warm_start_s": warm}
