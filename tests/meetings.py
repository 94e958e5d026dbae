"""A meeting held a moment from now, on any machine: the tests that record minutes need one
held, and a meeting is scheduled only ahead of time (`at` after the command's time)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import httpx

LEAD = timedelta(seconds=1.5)  # ahead of now, on a machine that is not slow


async def held_soon(schedule: Callable[[datetime], Awaitable[httpx.Response]]) -> httpx.Response:
    """`schedule(at)` (a `schedule_meeting` sent with `at`) for a moment from now, answered
    200, once that moment has passed. A command that reached the workflow after `at` (a
    machine running other suites is slow at random) is refused on `at` and nothing is
    recorded: it is sent again twice as far ahead, so no lead is a race the test can lose."""
    lead = LEAD
    for _ in range(8):  # 1.5 s doubled 7 times: over 3 min, far past any machine's slowness
        at = datetime.now(UTC) + lead
        answer = await schedule(at)
        if answer.status_code == 200:
            await asyncio.sleep(max(0.0, (at - datetime.now(UTC)).total_seconds()) + 0.2)
            return answer
        assert answer.status_code == 422 and "ahead of time" in answer.text, answer.text
        lead *= 2
    raise AssertionError(f"no meeting {lead} ahead was scheduled in time")
