"""The event loop Pakta's processes run on: uvloop (libuv), cheaper per socket event than
asyncio's own loop — the API's connections, the worker's gRPC polls to Temporal and both
edges' PostgreSQL round trips. `pakta worker` and `pakta dev` start theirs with `run`;
`pakta api` has uvicorn start it (`services.api.server.server_options`)."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any, TypeVar

import uvloop

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run `main` to completion on a new uvloop event loop (as `asyncio.run` does)."""
    return uvloop.run(main)
