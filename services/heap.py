"""The heap of a long-running Pakta process and Python's cyclic garbage collector.

A full (oldest-generation) collection walks every object the process holds: in `pakta api`
that is the imported modules, FastAPI's routes and pydantic's schemas — ≈ 110–150 ms on
this project's benchmark machine, during which the API answers nothing, so 16 requests in
flight each wait that long: the reads' p99 (docs/performance-log.md, "The API's pauses").
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


# How many new container objects (net of those freed) set off a collection of the youngest
# generation. CPython's default, 700, had the dispatcher collect ≈ 120 times per 2,000
# deliveries — ≈ 5 % of its CPU; at 7,000, 0–3 times, and at most a few thousand objects'
# garbage (well under a megabyte) waits a little longer (docs/performance-log.md, perf-deliver6).
YOUNG_THRESHOLD = 7_000


def settle_heap_for_serving() -> None:
    """Once start-up is done: collect, then freeze every object left (`gc.freeze`) — the
    collector no longer walks them, and they live as long as the process anyway — and
    collect the youngest generation less often. Garbage made later is still collected;
    the older generations keep their ratios to the youngest."""
    _freeze_start_up()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, oldest)


def settle_heap_for_the_worker() -> None:
    """`settle_heap_for_serving` without the rarer young collections: a worker's garbage is
    the workflows its cache lets go of (each a sandbox's worth of objects in cycles, freed
    only by a full collection, which comes ten times more rarely at 7,000). With 3,000
    agreements asleep and 1,000 cached the worker held 435 MB at 7,000 and 312 MB at
    CPython's 700 (`make bench ARGS="--sleepers 3000"`, docs/performance-log.md). At 700 its
    young and middle collections cost ≈ 0.5 % of its CPU under the benchmark (perf-worker7):
    a larger threshold has little to save."""
    _freeze_start_up()


def _freeze_start_up() -> None:
    gc.collect()
    gc.freeze()
    FROZEN_OBJECTS.set(gc.get_freeze_count())
