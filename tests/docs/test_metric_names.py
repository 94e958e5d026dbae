"""The metrics the docs name are the ones the code registers, by their exposed names and
labels; and every metric the code registers is in docs/reliability.md's table.

An alert written from the docs on a name the code does not expose never fires. No servers:
the modules that define metrics are imported, never run.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

from prometheus_client import REGISTRY

ROOT = Path(__file__).resolve().parents[2]
DEFINING = (
    "services.api.observability",
    "services.heap",
    "services.worker.dispatcher",
    "services.worker.activities.notify",
    "services.worker.activities.portfolio",
    "services.worker.activities.records",
)
# `pakta_…` in backticks that are not metrics: PostgreSQL roles (services/store/roles.py).
NOT_METRICS = {"pakta_owner", "pakta_app"}
MENTION = re.compile(r"`(pakta_[a-z_]+)(?:\{([a-z_,]*)\})?`")
PAGES = [ROOT / "README.md"] + [
    page for page in sorted((ROOT / "docs").glob("*.md")) if not page.name.startswith("performance")
]


def registered() -> dict[str, set[str]]:
    """Exposed name (counters with `_total`) → its labels, for every `pakta_` metric."""
    for module in DEFINING:
        importlib.import_module(module)
    metrics: dict[str, set[str]] = {}
    for collector in list(REGISTRY._collector_to_names):
        for family in collector.describe() if hasattr(collector, "describe") else ():
            if not family.name.startswith("pakta_"):
                continue
            name = f"{family.name}_total" if family.type == "counter" else family.name
            metrics[name] = set(getattr(collector, "_labelnames", ()))
    return metrics


def test_every_module_defining_a_metric_is_imported_here():
    defining = {
        ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for path in (ROOT / "services").rglob("*.py")
        if re.search(r'(Counter|Gauge|Histogram)\(\s*"pakta_', path.read_text())
    }
    assert defining == set(DEFINING)


def test_every_metric_the_docs_name_is_registered_with_those_labels():
    metrics = registered()
    assert len(metrics) >= 10
    wrong = []
    for page in PAGES:
        for name, labels in MENTION.findall(page.read_text()):
            if name in NOT_METRICS:
                continue
            if name not in metrics:
                wrong.append(f"{page.name}: {name} is not a metric")
            elif labels and set(labels.split(",")) != metrics[name]:
                wrong.append(f"{page.name}: {name} has labels {sorted(metrics[name])}, not {labels}")
    assert wrong == []


def test_every_registered_metric_is_in_the_reliability_table():
    text = (ROOT / "docs" / "reliability.md").read_text()
    table = dict(re.findall(r"^\| `(pakta_[a-z_]+)` \|([^|]*)\|", text, flags=re.MULTILINE))
    metrics = registered()
    assert set(metrics) == set(table)
    for name, labels in metrics.items():
        assert set(re.findall(r"`([a-z_]+)`", table[name])) == labels, name
