"""The heap of a long-running Pakta process and Python's cyclic garbage collector.

A full (oldest-generation) collection walks every object the process holds: in `pakta api`
that is the imported modules, FastAPI's routes and pydantic's schemas — ≈ 110–150 ms on
this project's benchmark machine, during which the API answers nothing, so 16 requests in
flight each wait that long: the reads' p99 (docs/performance.md, "The API's pauses").
What start-up builds lives as long as the process, so it is moved out of the collector's
sight once it is built; a collection then walks only what requests made since.
"""

from __future__ import annotations

import gc

from prometheus_client import Gauge

# Operators can see that a process froze its start-up heap — and how much a full collection
# no longer walks. `livesum`: `pakta api`'s processes on one port add up (`PAKTA_API_PROCESSES`).
FROZEN_OBJECTS = Gauge(
    "pakta_heap_frozen_objects",
    "Objects start-up left out of the garbage collector's walks (gc.freeze); 0: a full collection walks them all",
    multiprocess_mode="livesum",
)


def keep_startup_out_of_collections() -> None:
    """Collect once, then freeze every object left (`gc.freeze`): the collector no longer
    walks them. Garbage made later is collected as before; only objects already alive now
    are exempt, and they live as long as the process anyway."""
    gc.collect()
    gc.freeze()
    FROZEN_OBJECTS.set(gc.get_freeze_count())
