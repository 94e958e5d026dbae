"""`make bench` itself, run small (2 agreements, 2 clients, 200 rows in the read model) as a
subprocess: it starts its own stack, drives both legs, stops everything, and ends with the
BENCH line the lead's scripts read. Nothing here is about speed: no figure is compared
with a target, only shown to be there and to be a number."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import psutil

from bench.procedure import ACTIONS_PER_AGREEMENT
from bench.run import BENCH_FIELDS

ROOT = Path(__file__).resolve().parents[2]


def test_a_small_bench_run_ends_with_a_bench_line_of_numbers_and_leaves_no_server_behind(tmp_path: Path):
    out, counts, wal_split = tmp_path / "results.json", tmp_path / "temporal.json", tmp_path / "wal.json"
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    run = subprocess.run(
        [
            *(sys.executable, "-m", "bench.run", "--agreements", "2", "--clients", "2", "--single", "1"),
            *("--list-n", "200", "--reads", "20", "--sleepers", "3", "--idle-s", "1", "--out", str(out)),
        ],
        cwd=ROOT,
        env={**os.environ, "BENCH_TEMPORAL_METRICS": str(counts), "BENCH_PG_WAL": str(wal_split)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]

    last = run.stdout.strip().splitlines()[-1]
    assert last.startswith("BENCH ")
    fields = dict(pair.split("=", 1) for pair in last.removeprefix("BENCH ").split())
    assert list(fields) == BENCH_FIELDS
    values = {name: float(text) for name, text in fields.items()}
    assert all(math.isfinite(v) and v > 0 for v in values.values()), values

    results = json.loads(out.read_text())
    assert results["bench"] == values
    # Each leg's CPU against the bench process's own, the machine's yardstick.
    assert all(results["cpu_per_client_cpu"][leg] > 0 for leg in ("pakta", "raw"))
    floor_with_client = results["cpu_against_floor_with_its_client"]
    assert floor_with_client["raw_cpu_ms"] > results["bench"]["raw_cpu_ms"]
    assert floor_with_client["ratio"] <= results["bench"]["cpu_ms"] / results["bench"]["raw_cpu_ms"]
    pakta = results["pakta"]["2_clients"]
    assert pakta["transitions"] == 2 * ACTIONS_PER_AGREEMENT
    # The floor's local legs run before Pakta's and again after; the line compares with both.
    assert results["raw"]["local_2_clients"]["transitions"] == 2 * 2 * ACTIONS_PER_AGREEMENT
    assert all(tps > 0 for tps in results["raw"]["drift"]["tps_2_clients_before_after"])
    assert results["raw"]["regular_2_clients"]["transitions"] == 2 * ACTIONS_PER_AGREEMENT
    # CPU is accounted per process: the servers, the API, the worker and the dispatcher each spent some.
    busy = {p for p, s in pakta["cpu_s_by_process"].items() if s > 0}
    assert {"temporal", "postgres", "api-1", "worker-1", "dispatcher-1"} <= busy
    # Each leg says what PostgreSQL wrote to its WAL per transition, and how often a commit
    # waited for the disk: every transition of both legs commits.
    for leg in (pakta, results["raw"]["local_2_clients"]):
        wal = leg["wal_per_transition"]
        assert wal["bytes"] > 0 and wal["records"] > 0 and wal["flushes"] > 0, wal
    # Asked for, the WAL split by table from the WAL itself: the recording's tables in Pakta's
    # one-client leg, the floor's table in its own (autovacuum may write beside either).
    split = json.loads(wal_split.read_text())
    assert {"agreement_events", "agreements", "deliveries"} <= set(split["Pakta × 1"]["by_table"])
    assert "bench_raw_transitions" in split["raw local × 1"]["by_table"]
    # And by relation: each index under its own name, with the entries inserted into it.
    by_relation = split["Pakta × 1"]["by_relation"]
    assert by_relation["pk_agreement_events"]["Btree/INSERT_LEAF"]["blocks"] > 0
    assert "uq_notifications_event_id_audience_key" not in by_relation
    # Notifications were on: the regions' contacts got mail and their webhooks were posted to.
    assert results["notifications"]["mails"] > 0 and results["notifications"]["webhook_requests"] > 0
    assert results["history"]["by_workflow_type"]["AgreementWorkflow"]["executions"] >= 2 + 1
    assert results["reads"]["list"]["count"] == 20 and results["reads"]["get"]["count"] == 20
    # Each list filter is measured on its own too, and every read measure says what a request
    # cost the API, PostgreSQL and the bench's client.
    filters = [name for name in results["reads"] if name.startswith("list ")]
    assert len(filters) == 6 and all(results["reads"][name]["count"] == 20 for name in filters)
    for name in [*filters, "list", "get"]:
        assert {"api-1", "postgres", "bench-client"} <= set(results["reads"][name]["cpu_ms_per_request_by_process"])
    # Asked for, the Temporal server's counts per transition: one Update each, in both legs.
    server = json.loads(counts.read_text())
    assert set(server) == {
        *("raw_local_2_clients", "raw_local_1_client", "pakta_2_clients", "pakta_1_client"),
        *("raw_local_2_clients_after", "raw_local_1_client_after"),
    }
    updates = "service_requests{operation=UpdateWorkflowExecution,service_name=frontend}"
    assert all(leg[updates] >= 1.0 for leg in server.values()), server
    sleepers = results["sleepers"]
    assert sleepers["agreements"] == 3 and sleepers["worker_rss_mb"]["worker-1"] > 0
    assert "worker-1" in sleepers["idle_cpu_percent_by_process"]
    # Every server the bench started has stopped with it.
    assert {p.pid for p in psutil.Process().children(recursive=True)} <= before
