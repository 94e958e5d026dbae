"""The PDFs are drawn in threads of their own, at most `PDF_THREADS` at once: many long
PDFs asked at once no longer take every thread Starlette shares with the synchronous
dependencies of every request (issue #11, review18). Pure: threads held on an event, no
clock."""

from __future__ import annotations

import asyncio
import threading

import anyio.to_thread
import pytest

from services.api.web.pdf import PDF_THREADS, drawn

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_many_pdfs_asked_at_once_leave_starlette_s_threads_to_other_requests():
    """Fails on `8f344fa`: the PDFs went to Starlette's 40 shared threads (run_in_threadpool),
    so 40 long ones held every thread, and a request's synchronous dependency waited."""
    release, lock = threading.Event(), threading.Lock()
    drawing = [0, 0]  # now, most at once
    loop, all_drawing = asyncio.get_running_loop(), asyncio.Event()

    def draw(n: int) -> bytes:
        with lock:
            drawing[0] += 1
            drawing[1] = max(drawing[1], drawing[0])
            if drawing[0] == PDF_THREADS:
                loop.call_soon_threadsafe(all_drawing.set)
        release.wait()
        with lock:
            drawing[0] -= 1
        return b"%PDF " + str(n).encode()

    shared = anyio.to_thread.current_default_thread_limiter().total_tokens
    pdfs = [asyncio.create_task(drawn(draw, n)) for n in range(int(shared) + 5)]
    await all_drawing.wait()  # the first ones are drawing
    # A synchronous dependency of another request still gets one of Starlette's threads.
    # (A bound, not a clock: on the shared threads this waited for the PDFs, forever here.)
    assert await asyncio.wait_for(anyio.to_thread.run_sync(lambda: "served"), timeout=60) == "served"
    assert drawing[0] == PDF_THREADS
    release.set()
    assert await asyncio.gather(*pdfs) == [b"%PDF " + str(n).encode() for n in range(len(pdfs))]
    assert drawing[1] == PDF_THREADS


async def test_an_exception_while_drawing_reaches_the_caller_as_it_is():
    def broken() -> bytes:
        raise ValueError("a font lacks a glyph")

    with pytest.raises(ValueError, match="a font lacks a glyph"):
        await drawn(broken)
