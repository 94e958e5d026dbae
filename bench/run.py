"""`make bench`: Pakta against the raw Temporal floor, side by side, on one stack.

    make bench                                        # the whole run (defaults: 40 agreements, 8 clients)
    make bench ARGS="--agreements 20 --list-n 0"      # smaller, without the reads at scale
    make bench ARGS="--workers 2 --apis 2"            # N API and M worker processes
    make bench ARGS="--api-processes 2"               # one `pakta api` on one port, two processes
    make bench ARGS="--dispatchers 0"                 # the workers dispatch (one `pakta worker`)
    make bench ARGS="--dev-ready"                     # also: how long `pakta dev` takes to be ready
    make bench ARGS="decider"                         # the pure decider only (seconds, no servers)

The stack run (`bench.stack`) measures, against the same Temporal server and PostgreSQL:
the raw baseline (local and regular activity), Pakta over HTTP with notifications on at C
clients and at one, the history each command leaves, and reads over `--list-n` agreements.
Progress goes to stderr; a summary and then the results as JSON go to stdout (and to
`--out`); the last line is `BENCH ratio=… pakta_tps=… …`. docs/performance.md reads it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import shutil
import sys
import tempfile
from collections.abc import Awaitable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.progress import latency_ms, note

if TYPE_CHECKING:
    from bench.legs import Leg
    from bench.stack import BenchStack

BENCH_FIELDS = [
    *("ratio", "pakta_tps", "raw_tps", "p50_ms", "p99_ms", "raw_p50_ms", "raw_p99_ms"),
    *("p50_1client_ms", "raw_p50_1client_ms", "cpu_ms", "raw_cpu_ms", "history_bytes_per_command", "list_p99_ms"),
    # CPU per transition without the dispatchers (nor the bench's client), and theirs per delivery.
    *("path_cpu_ms", "delivery_cpu_ms"),
]
PAKTA_TYPES = ["AgreementWorkflow"]


async def bench_stack(args: argparse.Namespace) -> dict[str, Any]:
    from temporalio.client import Client

    from bench.accounting import PeakRss
    from bench.devready import dev_ready
    from bench.history import history_by_type, per_command
    from bench.legs import pakta_leg, raw_leg, register_notifications
    from bench.procedure import ACTIONS_PER_AGREEMENT, pairs
    from bench.raw_workflow import RAW_WORKFLOW
    from bench.reads import reads_leg
    from bench.stack import start_stack, stop_stack

    data_dir = Path(tempfile.mkdtemp(prefix="pakta-bench-"))
    load = os.getloadavg()
    results: dict[str, Any] = {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "loadavg_at_start": [round(x, 2) for x in load],
            "python": platform.python_version(),
        },
        "options": {k: v for k, v in vars(args).items() if k != "which"},
        "actions_per_agreement": ACTIONS_PER_AGREEMENT,
    }
    note(
        f"starting the stack in {data_dir} ({args.apis} API, {args.workers} worker, "
        f"{args.dispatchers} dispatcher processes)"
    )
    stack = await start_stack(
        data_dir,
        apis=args.apis,
        api_processes=args.api_processes,
        workers=args.workers,
        dispatchers=args.dispatchers,
        search_attributes=not args.no_search_attributes,
    )
    try:
        client = await Client.connect(stack.settings.temporal_address, namespace=stack.settings.temporal_namespace)
        regions = pairs(max(1, min(args.agreements, 8)))
        await register_notifications(stack, regions)
        single = args.single if args.single is not None else max(2, args.agreements // 4)
        path = ["temporal", "postgres", *(s.name for s in [*stack.apis, *stack.workers])]
        senders = [s.name for s in stack.dispatchers]
        pakta_processes = [*path, *senders]
        raw_processes = ["temporal", "postgres", "raw-worker"]

        note("raw baseline: one Update per transition, local activity → PostgreSQL")
        # Each warm-up runs as many at once as the leg it warms: the pools grow to what the leg
        # holds before it is measured (a new connection costs PostgreSQL a type introspection
        # per array type a statement uses: ≈ 10 ms each, docs/performance-log.md, perf-pg2).
        warm = max(2, args.clients)
        counts: dict[str, dict[str, float]] = {}
        await raw_leg(stack, client, "warm-up raw", warm, warm, local=True)
        raw = await _counted(
            stack,
            counts,
            f"raw_local_{args.clients}_clients",
            raw_leg(stack, client, f"raw local × {args.clients}", args.agreements, args.clients, local=True),
        )
        raw_regular = await raw_leg(
            stack, client, f"raw regular × {args.clients}", args.agreements, args.clients, local=False
        )
        raw_one = await _counted(
            stack, counts, "raw_local_1_client", raw_leg(stack, client, "raw local × 1", single, 1, local=True)
        )

        note("Pakta: whole KSDD procedures over HTTP, notifications on")
        await pakta_leg(stack, "warm-up Pakta", regions, warm, warm)
        workers_rss = PeakRss({name: p for name, p in stack.processes().items() if name.startswith("worker-")})
        with workers_rss:
            pakta = await _counted(
                stack,
                counts,
                f"pakta_{args.clients}_clients",
                pakta_leg(stack, f"Pakta × {args.clients}", regions, args.agreements, args.clients),
            )
            pakta_one = await _counted(
                stack, counts, "pakta_1_client", pakta_leg(stack, "Pakta × 1", regions, single, 1)
            )
        results["notifications"] = {"mails": stack.mail.messages, "webhook_requests": stack.hooks.requests}

        # The floor once more, after Pakta: this machine's speed drifts by tens of per cent
        # over minutes (the floor's own CPU per transition 12–24 ms between runs), and a
        # floor measured only before would put all of a drift into the ratio. The headline
        # takes both halves as one leg; the summary shows each half's rate.
        note("raw baseline again, after Pakta")
        raw_after = await _counted(
            stack,
            counts,
            f"raw_local_{args.clients}_clients_after",
            raw_leg(stack, client, f"raw local × {args.clients}, after", args.agreements, args.clients, local=True),
        )
        raw_one_after = await _counted(
            stack,
            counts,
            "raw_local_1_client_after",
            raw_leg(stack, client, "raw local × 1, after", single, 1, local=True),
        )
        _save_counts(counts)

        results["raw"] = {
            f"local_{args.clients}_clients": raw.joined(raw_after).summary(raw_processes),
            f"regular_{args.clients}_clients": raw_regular.summary(raw_processes),
            "local_1_client": raw_one.joined(raw_one_after).summary(raw_processes),
            "drift": {
                f"tps_{args.clients}_clients_before_after": [_tps(raw), _tps(raw_after)],
                "p50_ms_1_client_before_after": [
                    latency_ms(raw_one.actions)["p50_ms"],
                    latency_ms(raw_one_after.actions)["p50_ms"],
                ],
            },
        }
        results["pakta"] = {
            f"{args.clients}_clients": pakta.summary(pakta_processes, path, senders),
            "1_client": pakta_one.summary(pakta_processes, path, senders),
            "worker_rss_mb": {name: round(b / 2**20, 1) for name, b in workers_rss.sample().items()},
            "worker_peak_rss_mb": {name: round(b / 2**20, 1) for name, b in workers_rss.peak.items()},
        }

        note("histories: fetching every workflow's history")
        totals = await history_by_type(client)
        # Every history is fetched, the warm-ups' too: count their commands with them.
        pakta_commands = (pakta.agreements + pakta_one.agreements + warm) * (1 + ACTIONS_PER_AGREEMENT)
        raw_agreements = raw.agreements + raw_regular.agreements + raw_one.agreements + warm
        raw_commands = (raw_agreements + raw_after.agreements + raw_one_after.agreements) * (1 + ACTIONS_PER_AGREEMENT)
        everything_pakta = sorted(t for t in totals if t != RAW_WORKFLOW)
        results["history"] = {
            "by_workflow_type": totals,
            "pakta_agreement": per_command(totals, PAKTA_TYPES, pakta_commands),
            "pakta_all_workflows": per_command(totals, everything_pakta, pakta_commands),
            "raw": per_command(totals, [RAW_WORKFLOW], raw_commands),
        }

        if args.list_n > 0:
            results["reads"] = await reads_leg(stack, args.list_n, args.reads)
        if args.sleepers > 0:
            from bench.sleepers import sleepers_leg

            results["sleepers"] = await sleepers_leg(stack, regions, args.sleepers, idle_s=args.idle_s)
    finally:
        note("stopping the stack")
        await stop_stack(stack)
        if args.keep:
            note(f"kept {data_dir}")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)
    if args.dev_ready:
        results["dev_ready_s"] = await dev_ready()
    results["bench"] = _headline(results, args.clients)
    results["cpu_per_client_cpu"] = {
        "pakta": _per_client_cpu(results["pakta"][f"{args.clients}_clients"]),
        "raw": _per_client_cpu(results["raw"][f"local_{args.clients}_clients"]),
    }
    results["cpu_against_floor_with_its_client"] = _against_floor_with_its_client(results, args.clients)
    return results


async def _counted(stack: BenchStack, counts: dict[str, dict[str, float]], name: str, leg: Awaitable[Leg]) -> Leg:
    """Run `leg`; with `BENCH_TEMPORAL_METRICS` set, note the server's counters' growth over
    it per transition under `name`."""
    from bench.temporal_metrics import per_transition, scrape

    url = stack.temporal.metrics_url
    if url is None:
        return await leg
    before = await scrape(url)
    done = await leg
    await asyncio.sleep(2)  # the server's counters reach its metrics page a moment late
    counts[name] = per_transition(before, await scrape(url), done.transitions)
    return done


def _tps(leg: Leg) -> float:
    return round(leg.transitions / leg.wall_s, 2) if leg.wall_s else 0.0


def _save_counts(counts: dict[str, dict[str, float]]) -> None:
    from bench.temporal_metrics import metrics_file

    target = metrics_file()
    if target is not None and counts:
        target.write_text(json.dumps(counts, indent=1) + "\n")
        note(f"the Temporal server's counts per transition: {target}")


def _headline(results: dict[str, Any], clients: int) -> dict[str, float]:
    pakta, pakta_one = results["pakta"][f"{clients}_clients"], results["pakta"]["1_client"]
    raw, raw_one = results["raw"][f"local_{clients}_clients"], results["raw"]["local_1_client"]
    reads, nan = results.get("reads", {}), math.nan
    return {
        "ratio": round(pakta["transitions_per_s"] / raw["transitions_per_s"], 3) if raw["transitions_per_s"] else nan,
        "pakta_tps": pakta["transitions_per_s"],
        "raw_tps": raw["transitions_per_s"],
        "p50_ms": pakta["action"]["p50_ms"],
        "p99_ms": pakta["action"]["p99_ms"],
        "raw_p50_ms": raw["action"]["p50_ms"],
        "raw_p99_ms": raw["action"]["p99_ms"],
        "p50_1client_ms": pakta_one["action"]["p50_ms"],
        "raw_p50_1client_ms": raw_one["action"]["p50_ms"],
        "cpu_ms": pakta["cpu_ms_per_transition"],
        "raw_cpu_ms": raw["cpu_ms_per_transition"],
        "history_bytes_per_command": results["history"]["pakta_agreement"]["bytes_per_command"],
        "list_p99_ms": reads.get("list", {}).get("p99_ms", math.nan),
        "path_cpu_ms": pakta["cpu_ms_per_transition_path"],
        "delivery_cpu_ms": pakta["cpu_ms_per_delivery"],
    }


def _per_client_cpu(leg: dict[str, Any]) -> float:
    """The leg's CPU per transition ÷ the bench process's own in the same leg (its HTTP
    clients and the mail and webhook receivers). That process is the same code in every run,
    so this moves with Pakta's code and not with the machine's speed, which on a shared
    machine moves every process's CPU per transition by a third between runs
    (docs/performance-log.md, the sixth pass). Not comparable between the two legs: their
    clients do different work (HTTP against the Temporal client)."""
    client = leg["cpu_ms_per_transition_by_process"].get("bench-client", 0.0)
    return round(leg["cpu_ms_per_transition"] / client, 2) if client else math.nan


def _against_floor_with_its_client(results: dict[str, Any], clients: int) -> dict[str, float]:
    """Pakta's CPU per transition against the floor's with the floor's own Temporal client
    counted. Pakta's API sends each Update through the same SDK client the floor's bench
    process does, and its CPU is Pakta's; the floor's sender is the bench process, left out
    of `raw_cpu_ms` with Pakta's HTTP clients. A like-for-like view beside the BENCH line's
    (which stays the issue's measure): during the raw legs the bench process does little
    else (its receivers are idle)."""
    pakta, raw = results["pakta"][f"{clients}_clients"], results["raw"][f"local_{clients}_clients"]
    floor = raw["cpu_ms_per_transition"] + raw["cpu_ms_per_transition_by_process"].get("bench-client", 0.0)
    return {
        "raw_cpu_ms": round(floor, 1),
        "ratio": round(pakta["cpu_ms_per_transition"] / floor, 2) if floor else math.nan,
    }


def bench_line(headline: dict[str, float]) -> str:
    return "BENCH " + " ".join(f"{name}={headline[name]}" for name in BENCH_FIELDS)


def _summary(results: dict[str, Any], clients: int) -> str:
    h, hist, per_client = results["bench"], results["history"], results["cpu_per_client_cpu"]
    regular = results["raw"][f"regular_{clients}_clients"]
    pakta = results["pakta"][f"{clients}_clients"]
    rows = [
        ("", "Pakta", "raw (local act.)", "raw (regular act.)"),
        (f"transitions/s × {clients}", h["pakta_tps"], h["raw_tps"], regular["transitions_per_s"]),
        (f"action p50 ms × {clients}", h["p50_ms"], h["raw_p50_ms"], regular["action"]["p50_ms"]),
        (f"action p99 ms × {clients}", h["p99_ms"], h["raw_p99_ms"], regular["action"]["p99_ms"]),
        ("action p50 ms × 1", h["p50_1client_ms"], h["raw_p50_1client_ms"], ""),
        ("CPU ms per transition", h["cpu_ms"], h["raw_cpu_ms"], regular["cpu_ms_per_transition"]),
        ("… ÷ the bench client's CPU", per_client["pakta"], per_client["raw"], ""),
        ("… the floor with its client", "", results["cpu_against_floor_with_its_client"]["raw_cpu_ms"], ""),
        ("… on the transition path", h["path_cpu_ms"], "", ""),
        ("dispatcher CPU ms per delivery", h["delivery_cpu_ms"], "", ""),
        ("history B per command", h["history_bytes_per_command"], hist["raw"]["bytes_per_command"], ""),
        (
            "history events per command",
            hist["pakta_agreement"]["events_per_command"],
            hist["raw"]["events_per_command"],
            "",
        ),
    ]
    lines = ["", *(f"{a:<30}{b!s:>12}{c!s:>20}{d!s:>20}" for a, b, c, d in rows)]
    everything = hist["pakta_all_workflows"]
    lines += [
        f"Pakta's CPU ms per transition by process: {pakta['cpu_ms_per_transition_by_process']}",
        *(
            f"PostgreSQL's WAL per transition, {name}: {leg['wal_per_transition']}"
            for name, leg in (
                (f"Pakta × {clients}", pakta),
                ("Pakta × 1", results["pakta"]["1_client"]),
                (f"raw × {clients}", results["raw"][f"local_{clients}_clients"]),
                ("raw × 1", results["raw"]["local_1_client"]),
            )
        ),
        f"all Pakta workflows' history per command: {everything['bytes_per_command']} B, "
        f"{everything['events_per_command']} events",
        f"worker RSS MB: {results['pakta']['worker_rss_mb']} (peak {results['pakta']['worker_peak_rss_mb']})",
    ]
    if "reads" in results:
        r = results["reads"]
        lines.append(
            f"reads over {r['agreements']:,} agreements × {r['concurrency']}: "
            f"GET /agreements p50 {r['list']['p50_ms']} p99 {r['list']['p99_ms']} ms; "
            f"GET /agreements/{{id}} p50 {r['get']['p50_ms']} p99 {r['get']['p99_ms']} ms"
        )
        lines += [
            f"  {name:<52} p50 {m['p50_ms']:>7} p99 {m['p99_ms']:>7} ms; CPU ms per request "
            f"{m['cpu_ms_per_request_by_process']}"
            for name, m in r.items()
            if name.startswith(("list", "get"))
        ]
    if "sleepers" in results:
        s = results["sleepers"]
        lines.append(
            f"{s['agreements']:,} agreements asleep on timers: worker RSS MB {s['worker_rss_mb']}; "
            f"CPU % of a core over {s['idle_s']:.0f} s idle: {s['idle_cpu_percent_by_process']}"
        )
    if "dev_ready_s" in results:
        lines.append(f"`pakta dev` ready: {results['dev_ready_s']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("which", nargs="?", choices=["stack", "decider"], default="stack")
    parser.add_argument("--agreements", "-N", type=int, default=40, help="agreements in the concurrent legs (40)")
    parser.add_argument("--clients", "-C", type=int, default=8, help="concurrent clients (8)")
    parser.add_argument("--single", type=int, default=None, help="agreements in the one-client legs (N/4, at least 2)")
    parser.add_argument("--workers", type=int, default=1, help="`pakta worker` processes (1)")
    parser.add_argument(
        "--dispatchers", type=int, default=1, help="`pakta dispatcher` processes; 0: the workers dispatch (1)"
    )
    parser.add_argument("--apis", type=int, default=1, help="`pakta api` processes; clients spread over them (1)")
    parser.add_argument(
        "--api-processes", type=int, default=1, help="processes each `pakta api` serves its port with (1)"
    )
    parser.add_argument(
        "--no-search-attributes",
        action="store_true",
        help="agreements without the operators' search attributes (PAKTA_TEMPORAL_SEARCH_ATTRIBUTES=false)",
    )
    parser.add_argument("--list-n", type=int, default=100_000, help="agreements loaded for the reads; 0 skips them")
    parser.add_argument("--reads", type=int, default=1000, help="requests per read measure (1000)")
    parser.add_argument(
        "--sleepers", type=int, default=0, help="also create and submit N agreements, then measure the idle stack (0)"
    )
    parser.add_argument("--idle-s", type=float, default=30.0, help="how long the sleepers' stack idles (30)")
    parser.add_argument("--dev-ready", action="store_true", help="also time `pakta dev` from start to ready, twice")
    parser.add_argument("--out", type=Path, default=None, help="results JSON (default .bench/results-<time>.json)")
    parser.add_argument("--keep", action="store_true", help="keep the stack's data dir and logs")
    parser.add_argument("--n", type=int, default=100, help="decider: samples per measure")
    args = parser.parse_args(argv)
    if args.which == "decider":
        from bench.decider import bench_decider

        bench_decider(args.n)
        return
    results = asyncio.run(bench_stack(args))
    out = args.out or Path(".bench") / f"results-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(_summary(results, args.clients))
    print(f"\nresults: {out}")
    print(json.dumps(results, default=str))
    print(bench_line(results["bench"]), flush=True)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
