"""What the Temporal server did for a leg, by kind: its Prometheus counters (requests per
gRPC method and service, persistence and visibility operations, tasks, sticky-cache
misses…) read before and after the leg, the difference divided by the leg's transitions.

Opt-in: with `BENCH_TEMPORAL_METRICS=<file>` in the environment the dev server serves its
metrics on a known port (`bench.stack`) and the legs' counts per transition are written to
`<file>` as JSON. Unset, nothing is read. docs/performance.md (`perf-temporal`) reads it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import httpx

METRICS_ENV = "BENCH_TEMPORAL_METRICS"

# `name{label="value",…} 12` — a sample line of the Prometheus text format.
_SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>[^}]*)\})? (?P<value>\S+)")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')
# Labels that split a count without saying what kind of work it is.
_IGNORED_LABELS = frozenset(
    {
        "namespace",
        "namespace_id",
        "namespace_state",
        "task_queue",
        "partition",
        "worker_build_id",
        "visibility_index_name",
    }
)


def metrics_file() -> Path | None:
    """Where the per-transition counts go, when asked for."""
    value = os.environ.get(METRICS_ENV)
    return Path(value) if value else None


def counters(text: str) -> dict[str, float]:
    """The counters of a Prometheus text page, each series keyed `name{label=value,…}`
    (namespace and task queue left out: series differing only in them are summed)."""
    kinds: dict[str, str] = {}
    found: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            kinds[name] = kind.strip()
            continue
        match = _SAMPLE.match(line)
        if match is None or kinds.get(match["name"]) != "counter":
            continue
        labels = sorted((k, v) for k, v in _LABEL.findall(match["labels"] or "") if k not in _IGNORED_LABELS)
        key = match["name"] + "{" + ",".join(f"{k}={v}" for k, v in labels) + "}"
        found[key] = found.get(key, 0.0) + float(match["value"])
    return found


async def scrape(url: str) -> dict[str, float]:
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.get(url)
        response.raise_for_status()
        return counters(response.text)


def per_transition(before: dict[str, float], after: dict[str, float], transitions: int) -> dict[str, float]:
    """Each counter's growth over the leg ÷ its transitions, the largest first."""
    grown = {key: value - before.get(key, 0.0) for key, value in after.items()}
    rates = {key: round(delta / max(1, transitions), 3) for key, delta in grown.items() if delta > 0}
    return dict(sorted(rates.items(), key=lambda item: (-item[1], item[0])))
