"""The `pakta` command.

    pakta dev [--data-dir D] [--port P] [--temporal-port T] [--ui-port U] [--pg-port G] [--demo]
    pakta api | pakta worker | pakta dispatcher | pakta db upgrade | pakta db revision -m MESSAGE
    pakta token --sub S --org O --roles r1,r2 [--gates g1,g2] [--ttl SECONDS]
    pakta calendar edition --from WHEN [--years 2000-2060] [--add D1,D2] [--remove D3]
    pakta zones compare [DIR] [--years 2000-2100] [--zones Z1,Z2]

Production commands read their configuration from PAKTA_* environment variables.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from services.auth import DEFAULT_TTL_SECONDS, ROLES
from workflows.messages import GATES

if TYPE_CHECKING:
    from fastapi import FastAPI

    from services.settings import Settings
    from workflows.national_days import Edition


def _csv(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pakta", description="Pakta: cooperation agreements workflow service")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    dev = commands.add_parser("dev", help="run the whole stack locally (embedded PostgreSQL + Temporal)")
    dev.add_argument("--data-dir", type=Path, default=Path(".pakta"), help="where all state lives (default .pakta/)")
    dev.add_argument("--port", type=int, default=8000, help="API port (default 8000)")
    dev.add_argument("--temporal-port", type=int, default=7233, help="Temporal gRPC port (default 7233)")
    dev.add_argument("--ui-port", type=int, default=8233, help="Temporal web UI port (default 8233)")
    dev.add_argument(
        "--pg-port",
        type=int,
        default=None,
        help="PostgreSQL port (default: the one remembered in the data dir, else 5433 or a free one)",
    )
    dev.add_argument("--demo", action="store_true", help="seed example agreements")

    commands.add_parser("api", help="serve the HTTP API (PAKTA_API_HOST:PAKTA_API_PORT)")
    commands.add_parser("worker", help="run a Temporal worker (and, unless PAKTA_WORKER_DISPATCH=false, a dispatcher)")
    commands.add_parser("dispatcher", help="send the notification outbox (email, webhooks), without a worker")

    db = commands.add_parser("db", help="database migrations")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    db_commands.add_parser("upgrade", help="apply all migrations (alembic upgrade head)")
    revision = db_commands.add_parser("revision", help="create a migration file")
    revision.add_argument("-m", "--message", required=True)
    revision.add_argument("--rev-id", help="short id, e.g. 0002 (file: YYYY_MM_DD_<rev>_<slug>.py)")
    revision.add_argument("--autogenerate", action="store_true", help="diff models against the database")

    token = commands.add_parser("token", help="mint a bearer JWT with the configured secret")
    token.add_argument("--sub", required=True, help="subject (user id)")
    token.add_argument("--org", required=True, help="organisation, e.g. jabar")
    token.add_argument("--roles", required=True, type=_csv, help=f"comma-separated: {','.join(ROLES)}")
    token.add_argument("--gates", default=[], type=_csv, help=f"comma-separated: {','.join(GATES)}")
    token.add_argument("--ttl", type=int, default=DEFAULT_TTL_SECONDS, help="lifetime in seconds")
    token.add_argument(
        "--data-dir",
        type=Path,
        default=Path(".pakta"),
        help="without PAKTA_JWT_SECRET, use the secret of this `pakta dev` data dir",
    )

    calendar = commands.add_parser("calendar", help="the national days off the decider counts with")
    calendar_commands = calendar.add_subparsers(dest="calendar_command", required=True, metavar="ACTION")
    edition = calendar_commands.add_parser(
        "edition",
        help="print the module of the next edition (workflows/national_days/edition_N.py) from the installed "
        "holidays release and the decree's dates; docs/lifecycle.md, 'Days of service'",
    )
    edition.add_argument(
        "--from",
        dest="effective_from",
        required=True,
        type=_moment,
        help="when it applies, UTC (2027-10-01 or 2027-10-01T00:00): at least a week after the deploy carrying it",
    )
    edition.add_argument("--years", default="2000-2060", type=_years, help="FIRST-LAST (default 2000-2060)")
    edition.add_argument("--add", default=[], type=_dates, help="comma-separated days off of the decree to add")
    edition.add_argument("--remove", default=[], type=_dates, help="comma-separated days (estimates) to remove")
    edition.add_argument("--number", type=int, default=None, help="edition number (default: the latest + 1)")
    zones = commands.add_parser("zones", help="the zone data the decider counts office hours with")
    zones_commands = zones.add_subparsers(dest="zones_command", required=True, metavar="ACTION")
    compare = zones_commands.add_parser(
        "compare",
        help="the zones whose UTC offsets differ between the installed (pinned) tzdata and the zone files in DIR "
        "(a new release's, before merging its bump; the host's); exit 1 when any differ",
    )
    compare.add_argument("directory", metavar="DIR", type=Path, nargs="?", default=Path("/usr/share/zoneinfo"))
    compare.add_argument("--years", type=_years, default=range(2000, 2101), help="FIRST-LAST (default 2000-2100)")
    compare.add_argument("--zones", type=_csv, default=None, help="only these zones (default: every zone of both)")
    return parser


def _moment(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _years(value: str) -> range:
    first, _, last = value.partition("-")
    years = range(int(first), int(last or first) + 1)
    if not years:  # "2060-2000" would print an edition without a single day off
        raise argparse.ArgumentTypeError(f"{value}: FIRST-LAST, the first not after the last")
    return years


def _dates(value: str) -> list[date]:
    return [date.fromisoformat(item) for item in _csv(value)]


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handlers = {
        "dev": _dev,
        "api": _api,
        "worker": _worker,
        "dispatcher": _dispatcher,
        "db": _db,
        "token": _token,
        "calendar": _calendar,
        "zones": _zones,
    }
    handler = handlers[args.command]
    return handler(args) or 0


def _dev(args: argparse.Namespace) -> int:
    from services.devstack import DevOptions, run_dev

    return run_dev(
        DevOptions(
            data_dir=args.data_dir,
            port=args.port,
            temporal_port=args.temporal_port,
            ui_port=args.ui_port,
            pg_port=args.pg_port,
            demo=args.demo,
        )
    )


def _configured() -> Settings:
    from services.logging import configure_logging
    from services.settings import get_settings

    settings = get_settings()
    configure_logging(settings)
    return settings


def _api(args: argparse.Namespace) -> int:
    import uvicorn

    from services.api.app import create_app
    from services.api.server import server_options
    from services.heap import settle_heap_for_serving

    settings = _configured()
    try:
        app = create_app(settings)
    except RuntimeError as exc:  # a refusal to start, e.g. the dev secret in production
        print(f"pakta api: {exc}", file=sys.stderr)
        return 2
    settle_heap_for_serving()
    # Several processes on the one socket: uvicorn starts each with an app of its own, built
    # from the same settings (`app_of_this_process`); this one supervises them. Their metrics
    # go to files in one directory, so /metrics, answered by any of them, adds all up.
    served: FastAPI | str = app
    if settings.api_processes > 1:
        served = "services.api.app:app_of_this_process"
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="pakta-api-metrics-")
    uvicorn.run(
        served,
        factory=settings.api_processes > 1,
        workers=settings.api_processes,
        host=settings.api_host,
        port=settings.api_port,
        log_config=None,
        access_log=False,
        proxy_headers=True,
        # uvicorn kills a process that has not started serving 5 s after it was started (and
        # one that does not answer its ping in as long), then starts another: on a loaded
        # machine each one's imports and app took longer, and `PAKTA_API_PROCESSES=2` never
        # came up (the bench, load average ≈ 20: a child killed every 5 s for 90 s).
        timeout_worker_healthcheck=60,
        **server_options(),
    )
    return 0


def _worker(args: argparse.Namespace) -> int:
    from services import eventloop
    from services.heap import settle_heap_for_the_worker
    from services.worker.main import run_worker

    settings = _configured()
    settle_heap_for_the_worker()
    eventloop.run(run_worker(settings))
    return 0


def _dispatcher(args: argparse.Namespace) -> int:
    from services import eventloop
    from services.heap import settle_heap_for_serving
    from services.worker.main import run_dispatcher

    settings = _configured()
    settle_heap_for_serving()
    eventloop.run(run_dispatcher(settings))
    return 0


def _db(args: argparse.Namespace) -> int:
    from services.store.migrate import make_revision, upgrade_database_sync

    settings = _configured()
    if args.db_command == "upgrade":
        print("migrating the database…", flush=True)
        upgrade_database_sync(settings.database_url)
        print("ok", flush=True)
    else:
        make_revision(settings.database_url, message=args.message, rev_id=args.rev_id, autogenerate=args.autogenerate)
    return 0


def _token(args: argparse.Namespace) -> int:
    from services.auth import mint_token
    from services.settings import get_settings

    unknown = [r for r in args.roles if r not in ROLES] + [g for g in args.gates if g not in GATES]
    if unknown:
        print(f"pakta token: unknown role or gate: {', '.join(unknown)}", file=sys.stderr)
        return 2
    settings = get_settings()
    dev_secret = args.data_dir / "jwt_secret"
    if settings.uses_dev_secret and dev_secret.exists():
        settings = settings.model_copy(update={"jwt_secret": dev_secret.read_text().strip()})
    print(mint_token(settings, sub=args.sub, org=args.org, roles=args.roles, gates=args.gates, ttl_seconds=args.ttl))
    return 0


def _calendar(args: argparse.Namespace) -> int:
    """Print the next edition's module text; what it changes against the latest goes to
    stderr, for the review of the dates against the decree."""
    from services import national_days as nd

    latest = nd.latest()
    refusal = _edition_refused(args, latest, datetime.now(UTC))
    if refusal:
        print(f"pakta calendar: {refusal}", file=sys.stderr)
        return 2
    if args.effective_from < datetime.now(UTC) + timedelta(days=7):
        print("pakta calendar: warning: --from is less than a week away; deploy first", file=sys.stderr)
    number = args.number or latest.number + 1
    installed = nd.from_holidays(args.years)
    days = nd.corrected(installed, args.add, args.remove)
    source = f"`holidays` {nd.holidays_version()} for Indonesia, categories public and government, "
    source += f"{args.years.start}-{args.years.stop - 1}"
    if args.add or args.remove:
        source += f", corrected by the decree ({len(args.add)} days added, {len(args.remove)} removed)"
    missing = sorted(set(latest.days) - set(args.years))
    if missing:
        print(
            f"pakta calendar: warning: no years {nd.spans(missing)}: none of their days would be off",
            file=sys.stderr,
        )
    # A correction that changes nothing: the installed release may carry the decree already,
    # or a date was mistyped; either way the reviewer should know.
    for day in args.add:
        if day in installed.get(day.year, set()):
            print(f"pakta calendar: warning: --add {day}: already a day off in the installed release", file=sys.stderr)
    for day in args.remove:
        if day not in installed.get(day.year, set()):
            print(f"pakta calendar: warning: --remove {day}: not a day off in the installed release", file=sys.stderr)
    for line in nd.changes(latest, days):
        print(line, file=sys.stderr)
    print(nd.module_text(number, args.effective_from, days, source), end="")
    return 0


def _zones(args: argparse.Namespace) -> int:
    """Print, zone by zone, where the installed zone data and DIR's give other offsets, and
    the zones only one of them knows (a zone a new release dropped: docs/lifecycle.md)."""
    from services import zone_data as zd

    directory: Path = args.directory
    if not directory.is_dir():
        print(f"pakta zones: {directory} is not a directory of zone files", file=sys.stderr)
        return 2
    installed, there = zd.pinned_names(), zd.names_in(directory)
    asked = set(args.zones) if args.zones is not None else installed | there
    unknown = sorted(asked - installed - there)
    if unknown:
        print(f"pakta zones: no such zone in either: {', '.join(unknown)}", file=sys.stderr)
        return 2
    differing = 0
    for side, names in (("the installed tzdata", installed - there), (str(directory), there - installed)):
        if names & asked:
            differing += 1
            print(f"only in {side}: {', '.join(sorted(names & asked))}")
    spans: dict[str, list[zd.Difference]] = {}
    for difference in zd.compare(directory, args.years.start, args.years.stop - 1, asked & installed & there):
        spans.setdefault(difference.zone, []).append(difference)
    for zone, found in spans.items():
        print(f"{zone}: {len(found)} span(s) from {_utc(found[0].start)} to {_utc(found[-1].end)}")
        for one in found[:3]:
            print(f"  {_utc(one.start)} to {_utc(one.end)}: installed {_offset(one.pinned)}, DIR {_offset(one.other)}")
    years = f"{args.years.start}-{args.years.stop - 1}"
    print(f"{len(spans)} zone(s) with other offsets in {years}, of {len(asked & installed & there)} compared")
    return 1 if spans or differing else 0


def _utc(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%MZ")


def _offset(offset: timedelta | None) -> str:
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    return f"UTC{'+' if minutes >= 0 else '-'}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _edition_refused(args: argparse.Namespace, latest: Edition, now: datetime) -> str | None:
    """Why the edition asked for must not be printed, if it must not. An `effective_from`
    already past would change, on the deploy, decisions made since then with the older
    edition: their replay would count other days (a different timer is a non-determinism
    error, an agreement frozen). A number taken already would be a second edition N."""
    if args.effective_from <= latest.effective_from:
        return f"--from must follow edition {latest.number}'s {latest.effective_from}"
    if args.effective_from <= now:
        return f"--from {args.effective_from} is past: decisions made since then counted with edition {latest.number}"
    if args.number is not None and args.number <= latest.number:
        return f"--number must follow edition {latest.number}'s"
    outside = sorted(day for day in (*args.add, *args.remove) if day.year not in args.years)
    if outside:
        return f"--add/--remove outside --years: {', '.join(str(day) for day in outside)}"
    return None


if __name__ == "__main__":
    sys.exit(main())
