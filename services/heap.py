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


def keep_startup_out_of_collections() -> None:
    """Collect once, then freeze every object left (`gc.freeze`): the collector no longer
    walks them. Garbage made later is collected as before; only objects already alive now
    are exempt, and they live as long as the process anyway."""
    gc.collect()
    gc.freeze()
