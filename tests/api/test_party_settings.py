"""A region's days off and time zone changed in its settings reach the open agreements it is
party to: each records `party_settings_changed`, and what is decided after counts with them.
The whole stack (tests/api/stack.py): the real app, a real worker on the Temporal dev server
running PartySettingsWorkflow and the portfolio sweep, the embedded PostgreSQL."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import text
from temporalio.service import RPCError

from services.store import organisations
from services.worker.activities.portfolio import PortfolioActivities
from tests.api.stack import Stack
from tests.api.test_api_organisations import proposal
from workflows import timeline as t
from workflows.contracts import portfolio as c
from workflows.portfolio.sweep import PortfolioSweepWorkflow

pytestmark = pytest.mark.asyncio(loop_scope="session")
AUDITOR = ("audit", "auditor")


def a_working_day_ahead(days: int) -> date:
    """A day of service in Jakarta `days` days of service from today."""
    calendar = t.Calendar("Asia/Jakarta", edition=t.edition_at(datetime.now(UTC)))
    return calendar.add_office_days(datetime.now(UTC).date(), days)


async def events_of(stack: Stack, agreement_id: str) -> list[dict[str, Any]]:
    resp = await stack.get(stack.user(*AUDITOR), f"/agreements/{agreement_id}/events")
    assert resp.status_code == 200, resp.text
    return list(resp.json()["events"])


async def settings_brought(stack: Stack, temporal_env, org: str) -> c.RefreshCounts:
    """What the run of `party-settings-<org>` the last change started did, once it is done."""
    handle = temporal_env.client.get_workflow_handle(c.party_settings_workflow_id(org))
    deadline = time.monotonic() + 60  # a bound, not a clock: a busy machine starts it late
    while time.monotonic() < deadline:
        try:
            return c.RefreshCounts.model_validate(await handle.result())
        except RPCError:  # not started yet
            await asyncio.sleep(0.1)
    raise AssertionError(f"party-settings-{org} never ran")


# A version written while the database's clock ran an hour ahead of where it stands now.
AN_HOUR_AHEAD = "UPDATE organisation_settings SET updated_at = clock_timestamp() + interval '1 hour' WHERE org = :org"


def unversioned(data: dict[str, Any]) -> dict[str, Any]:
    """A `party_settings_changed`'s data without the register's version it carries (when the
    settings were changed: a moment, checked to be one)."""
    assert datetime.fromisoformat(data["as_of"]).tzinfo is not None, data
    return {k: v for k, v in data.items() if k != "as_of"}


async def settings_changes(stack: Stack, agreement_id: str) -> list[dict[str, Any]]:
    return [
        unversioned(e["data"]) for e in await events_of(stack, agreement_id) if e["type"] == "party_settings_changed"
    ]


async def put_settings(stack: Stack, org: str, body: dict[str, Any]) -> None:
    resp = await stack.http.put(
        f"/organisations/{org}/settings", headers=stack.auth(stack.user(org, "staff")), json=body
    )
    assert resp.status_code == 200, resp.text


async def test_a_day_off_the_region_adds_reaches_its_open_agreements_and_a_later_deadline_skips_it(
    stack: Stack, temporal_env
):
    region, other, partner = (f"{p}-{uuid.uuid4().hex[:6]}" for p in ("ntb", "ntt", "bali"))
    staff, others = stack.user(region, "staff"), stack.user(other, "staff")
    open_one = await stack.create(staff, proposal(region, partner))
    closed = await stack.create(staff, proposal(region, partner))
    await stack.act(staff, closed["id"], {"type": "withdraw", "reason": "Batal"})
    not_party = await stack.create(others, proposal(other, partner))
    untouched = {a: len(await events_of(stack, a)) for a in (closed["id"], not_party["id"])}

    day_off = a_working_day_ahead(3)
    await put_settings(stack, region, {"time_zone": "Asia/Jakarta", "days_off": [day_off.isoformat()]})
    assert (await settings_brought(stack, temporal_env, region)).sent == 1

    changed = [e for e in await events_of(stack, open_one["id"]) if e["type"] == "party_settings_changed"]
    assert [(unversioned(e["data"]), e["actor"]["sub"]) for e in changed] == [
        ({"org": region, "days_off": [day_off.isoformat()], "time_zone": "Asia/Jakarta"}, "system")
    ]
    assert {a: len(await events_of(stack, a)) for a in untouched} == untouched
    snap = await stack.snapshot(staff, open_one["id"])
    assert next(p for p in snap["parties"] if p["org"] == region)["days_off"] == [day_off.isoformat()]
    assert "refresh_party_settings" not in snap["allowed_actions"]

    # The review counts its days of service in each region's calendar: the region's is one
    # day longer now, the other region's (no days off) is the control.
    submitted = await stack.act(staff, open_one["id"], {"type": "submit"})
    control = await stack.act(others, not_party["id"], {"type": "submit"})
    due, control_due = (datetime.fromisoformat(s["deadlines"]["step"]).date() for s in (submitted, control))
    assert control_due > day_off
    calendar = t.Calendar("Asia/Jakarta", frozenset({day_off}), edition=t.edition_at(datetime.now(UTC)))
    assert due == calendar.add_office_days(control_due, 1)

    # The same settings again record nothing.
    await put_settings(stack, region, {"time_zone": "Asia/Jakarta", "days_off": [day_off.isoformat()]})
    again = await settings_brought(stack, temporal_env, region)
    assert again.sent == 0
    types = [e["type"] for e in await events_of(stack, open_one["id"])]
    assert types.count("party_settings_changed") == 1


async def test_the_nightly_reconciliation_brings_settings_whose_prompt_was_lost(stack: Stack, temporal_env):
    region, partner = f"sumbar-{uuid.uuid4().hex[:6]}", f"riau-{uuid.uuid4().hex[:6]}"
    staff = stack.user(region, "staff")
    agreement = await stack.create(staff, proposal(region, partner))
    day_off = a_working_day_ahead(5)
    # Written behind the API's back, as a change whose prompt never left: nothing arrives...
    async with stack.sessionmaker() as session:
        await session.execute(
            text(
                "INSERT INTO organisation_settings (org, time_zone, days_off, updated_by) "
                "VALUES (:org, 'Asia/Makassar', CAST(:days AS date[]), 'test')"
            ),
            {"org": region, "days": [day_off]},
        )
        await session.commit()
    assert "party_settings_changed" not in [e["type"] for e in await events_of(stack, agreement["id"])]

    # ... until the night's reconciliation finds the party differing from its settings.
    result = await temporal_env.client.execute_workflow(
        PortfolioSweepWorkflow.run,
        c.SweepInput(reconcile=True, digests=False, orgs=[region]),
        id=f"sweep-{uuid.uuid4()}",
        task_queue=stack.settings.temporal_task_queue,
        result_type=c.SweepResult,
    )
    found = [(d.kind, d.repaired) for d in result.discrepancies if d.agreement_id == agreement["id"]]
    assert found == [("party_settings_stale", True)]
    changed = await settings_changes(stack, agreement["id"])
    assert changed == [{"org": region, "days_off": [day_off.isoformat()], "time_zone": "Asia/Makassar"}]

    # A second night finds nothing to bring.
    result = await temporal_env.client.execute_workflow(
        PortfolioSweepWorkflow.run,
        c.SweepInput(reconcile=True, digests=False, orgs=[region]),
        id=f"sweep-{uuid.uuid4()}",
        task_queue=stack.settings.temporal_task_queue,
        result_type=c.SweepResult,
    )
    assert "party_settings_stale" not in result.totals.by_kind


async def test_an_organisation_s_agreements_are_brought_page_by_page_across_runs(stack: Stack, temporal_env):
    region, partner = f"kaltim-{uuid.uuid4().hex[:6]}", f"kalsel-{uuid.uuid4().hex[:6]}"
    staff = stack.user(region, "staff")
    agreements = [(await stack.create(staff, proposal(region, partner)))["id"] for _ in range(3)]
    async with stack.sessionmaker() as session:
        await session.execute(
            text(
                "INSERT INTO organisation_settings (org, time_zone, updated_by) VALUES (:org, 'Asia/Makassar', 'test')"
            ),
            {"org": region},
        )
        await session.commit()
    # One agreement a page, two pages a run: the third comes in a run continued as new.
    counts = await temporal_env.client.execute_workflow(
        c.PARTY_SETTINGS_WORKFLOW,
        c.PartySettingsInput(org=region, page_size=1, pages_per_run=2),
        id=f"{c.party_settings_workflow_id(region)}-{uuid.uuid4().hex[:6]}",
        task_queue=stack.settings.temporal_task_queue,
        result_type=c.RefreshCounts,
    )
    assert counts == c.RefreshCounts(sent=3)
    for agreement_id in agreements:
        changed = await settings_changes(stack, agreement_id)
        # The days off were never stated: the party keeps its own (none).
        assert changed == [{"org": region, "days_off": [], "time_zone": "Asia/Makassar"}]


async def test_a_settings_zone_the_zone_data_no_longer_knows_leaves_the_partys_zone_and_still_brings_its_days_off(
    stack: Stack, temporal_env
):
    """A zone saved in the settings that the pinned tzdata does not know (one a later release
    dropped, or one the host's zone files knew when an older Pakta read them) is not sent:
    the party keeps its own zone, and the days off still reach it. Sent as it was, the
    command did not validate: the night's reconciliation page raised on every try, and the
    agreements after it on that page were never checked."""
    region, partner = f"jambi-{uuid.uuid4().hex[:6]}", f"bengkulu-{uuid.uuid4().hex[:6]}"
    agreement = await stack.create(stack.user(region, "staff"), proposal(region, partner))
    day_off = a_working_day_ahead(5)
    async with stack.sessionmaker() as session:
        await session.execute(
            text(
                "INSERT INTO organisation_settings (org, time_zone, days_off, updated_by) "
                "VALUES (:org, 'Asia/Atlantis', CAST(:days AS date[]), 'test')"
            ),
            {"org": region, "days": [day_off]},
        )
        await session.commit()

    async with asyncio.timeout(60):
        await temporal_env.client.execute_workflow(
            PortfolioSweepWorkflow.run,
            c.SweepInput(reconcile=True, digests=False, orgs=[region]),
            id=f"sweep-{uuid.uuid4()}",
            task_queue=stack.settings.temporal_task_queue,
            result_type=c.SweepResult,
        )
    changed = await settings_changes(stack, agreement["id"])
    assert changed == [{"org": region, "days_off": [day_off.isoformat()], "time_zone": "Asia/Jakarta"}]


async def test_a_nights_page_read_before_a_change_whose_prompt_came_first_does_not_bring_the_older_settings_back(
    stack: Stack, temporal_env
):
    """The interleaving regiondays15 left: the night's reconciliation reads the register
    (settings C, written behind the API's back), a PUT then commits B and its
    PartySettingsWorkflow brings B, and only then is the night's older read sent — by the
    reconciliation's own sending code, to the real workflow. It is refused as superseded,
    nothing is recorded, and the agreement keeps B, as the register does; the next night
    finds nothing to bring."""
    region, partner = f"papua-{uuid.uuid4().hex[:6]}", f"maluku-{uuid.uuid4().hex[:6]}"
    staff = stack.user(region, "staff")
    agreement = await stack.create(staff, proposal(region, partner))
    await put_settings(stack, region, {"time_zone": "Asia/Jayapura"})
    assert (await settings_brought(stack, temporal_env, region)).sent == 1
    async with stack.sessionmaker() as session:
        await session.execute(
            text("UPDATE organisation_settings SET time_zone = 'Asia/Makassar', updated_at = now() WHERE org = :org"),
            {"org": region},
        )
        await session.commit()
        read_by_the_night = await organisations.stale_parties_of(session, ids=[agreement["id"]])
    assert [item.command.time_zone for item in read_by_the_night] == ["Asia/Makassar"]

    await put_settings(stack, region, {"time_zone": "Asia/Jakarta"})
    assert (await settings_brought(stack, temporal_env, region)).sent == 1
    night = PortfolioActivities(stack.settings, stack.sessionmaker, client=temporal_env.client)
    late = [await night._send_settings(item) for item in read_by_the_night]

    assert late == ["unchanged"]
    zones = [change["time_zone"] for change in await settings_changes(stack, agreement["id"])]
    assert zones == ["Asia/Jayapura", "Asia/Jakarta"]
    snap = await stack.snapshot(staff, agreement["id"])
    assert next(p for p in snap["parties"] if p["org"] == region)["time_zone"] == "Asia/Jakarta"
    result = await temporal_env.client.execute_workflow(
        PortfolioSweepWorkflow.run,
        c.SweepInput(reconcile=True, digests=False, orgs=[region]),
        id=f"sweep-{uuid.uuid4()}",
        task_queue=stack.settings.temporal_task_queue,
        result_type=c.SweepResult,
    )
    assert "party_settings_stale" not in result.totals.by_kind


async def test_a_settings_change_that_commits_after_another_is_the_newer_version(stack: Stack):
    """The version is the clock when the row is written under its lock, not the start of
    the writing transaction: a change whose transaction began first but wrote after
    another's commit is the newer one, so its own push is not refused as superseded (and
    the night, reading it, is not refused forever)."""
    org = f"gorontalo-{uuid.uuid4().hex[:6]}"

    async def version() -> datetime:
        async with stack.sessionmaker() as session:
            query = text("SELECT updated_at FROM organisation_settings WHERE org = :org")
            return (await session.execute(query, {"org": org})).scalar_one()

    async with stack.sessionmaker() as first, stack.sessionmaker() as second:
        await first.execute(text("SELECT 1"))  # the first change's transaction begins
        await asyncio.sleep(0.01)
        await organisations.put_settings(
            second, org=org, time_zone="Asia/Makassar", expiry_reminder_days=None, updated_by="second"
        )
        await second.commit()
        committed_first = await version()
        await organisations.put_settings(
            first, org=org, time_zone="Asia/Jakarta", expiry_reminder_days=None, updated_by="first"
        )
        await first.commit()

    assert await version() > committed_first


async def test_a_settings_change_written_after_the_clock_stepped_back_is_still_the_newer_version(stack: Stack):
    """The database's clock can step back (an NTP correction, a failover to a server whose
    clock lags): a change written then is still newer than the version it replaces — else
    every push of it would be refused as superseded by the agreements that took the older
    one, and the night would find it stale, and be refused, until some later change."""
    org = f"sulbar-{uuid.uuid4().hex[:6]}"

    async def version() -> datetime:
        async with stack.sessionmaker() as session:
            query = text("SELECT updated_at FROM organisation_settings WHERE org = :org")
            return (await session.execute(query, {"org": org})).scalar_one()

    async with stack.sessionmaker() as session:
        await organisations.put_settings(
            session, org=org, time_zone="Asia/Makassar", expiry_reminder_days=None, updated_by="before"
        )
        await session.execute(
            text(AN_HOUR_AHEAD),
            {"org": org},
        )
        await session.commit()
    taken = await version()

    async with stack.sessionmaker() as session:
        await organisations.put_settings(
            session, org=org, time_zone="Asia/Jakarta", expiry_reminder_days=None, updated_by="after"
        )
        await session.commit()

    assert await version() > taken


async def test_settings_changed_after_the_clock_stepped_back_still_reach_an_agreement_that_took_the_older_ones(
    stack: Stack, temporal_env
):
    """The night brings the region's settings written while the database's clock ran an hour
    ahead; the clock then steps back and the region changes them again through the API. The
    change's own push carries a version newer than the one the agreement took, so it is
    recorded, not refused as superseded: the agreement and the register agree."""
    region, partner = f"sulbar-{uuid.uuid4().hex[:6]}", f"sultra-{uuid.uuid4().hex[:6]}"
    staff = stack.user(region, "staff")
    agreement = await stack.create(staff, proposal(region, partner))
    async with stack.sessionmaker() as session:
        await organisations.put_settings(
            session, org=region, time_zone="Asia/Makassar", expiry_reminder_days=None, updated_by="ahead"
        )
        await session.execute(
            text(AN_HOUR_AHEAD),
            {"org": region},
        )
        await session.commit()
        read_by_the_night = await organisations.stale_parties_of(session, ids=[agreement["id"]])
    night = PortfolioActivities(stack.settings, stack.sessionmaker, client=temporal_env.client)
    assert [await night._send_settings(item) for item in read_by_the_night] == ["sent"]

    await put_settings(stack, region, {"time_zone": "Asia/Jakarta"})

    assert (await settings_brought(stack, temporal_env, region)).sent == 1
    zones = [change["time_zone"] for change in await settings_changes(stack, agreement["id"])]
    assert zones == ["Asia/Makassar", "Asia/Jakarta"]


async def test_settings_changed_and_changed_back_before_the_change_arrived_are_not_undone_by_a_night_that_read_it(
    stack: Stack, temporal_env
):
    """A → B → A: the agreement took Jayapura (A). The register is changed to Makassar (B)
    behind the API's back, and the night's page reads B; then the region changes it back to
    Jayapura through the API before B reached the agreement. The change's prompt finds the
    values the party has, but its version newer, and records the version alone; the night's
    B, read before it, then arrives by the reconciliation's own sending code and is refused
    as superseded. The agreement keeps Jayapura, as the register says, and the next night
    finds nothing. Before: the prompt sent nothing, B was newer than the version the party
    kept, and was recorded until the next night."""
    region, partner = f"papua-{uuid.uuid4().hex[:6]}", f"maluku-{uuid.uuid4().hex[:6]}"
    staff = stack.user(region, "staff")
    agreement = await stack.create(staff, proposal(region, partner))
    await put_settings(stack, region, {"time_zone": "Asia/Jayapura"})
    assert (await settings_brought(stack, temporal_env, region)).sent == 1
    async with stack.sessionmaker() as session:
        await organisations.put_settings(
            session, org=region, time_zone="Asia/Makassar", expiry_reminder_days=None, updated_by="behind"
        )
        await session.commit()
        read_by_the_night = await organisations.stale_parties_of(session, ids=[agreement["id"]])
    assert [item.command.time_zone for item in read_by_the_night] == ["Asia/Makassar"]

    await put_settings(stack, region, {"time_zone": "Asia/Jayapura"})
    brought = await settings_brought(stack, temporal_env, region)
    night = PortfolioActivities(stack.settings, stack.sessionmaker, client=temporal_env.client)
    late = [await night._send_settings(item) for item in read_by_the_night]

    assert late == ["unchanged"]
    assert brought == c.RefreshCounts(sent=1)
    zones = [change["time_zone"] for change in await settings_changes(stack, agreement["id"])]
    assert zones == ["Asia/Jayapura", "Asia/Jayapura"]
    snap = await stack.snapshot(staff, agreement["id"])
    assert next(p for p in snap["parties"] if p["org"] == region)["time_zone"] == "Asia/Jayapura"
    result = await temporal_env.client.execute_workflow(
        PortfolioSweepWorkflow.run,
        c.SweepInput(reconcile=True, digests=False, orgs=[region]),
        id=f"sweep-{uuid.uuid4()}",
        task_queue=stack.settings.temporal_task_queue,
        result_type=c.SweepResult,
    )
    assert "party_settings_stale" not in result.totals.by_kind
    # The same version sent again (a second prompt of the same change) records nothing.
    await put_settings(stack, region, {"time_zone": "Asia/Jayapura"})
    assert (await settings_brought(stack, temporal_env, region)) == c.RefreshCounts()
    assert len(await settings_changes(stack, agreement["id"])) == 2


async def test_settings_saved_without_changing_the_zone_or_the_days_off_keep_their_version(stack: Stack):
    """Only what the agreements take moves the version: the settings form saved again as it
    was, or with other reminder days only, must not make the change's prompt send every
    open agreement its version alone (an event each)."""
    org = f"sulteng-{uuid.uuid4().hex[:6]}"
    day = date(2027, 3, 1)

    async def put(time_zone: str, reminders: list[int] | None, days: list[date]) -> datetime:
        async with stack.sessionmaker() as session:
            await organisations.put_settings(
                session, org=org, time_zone=time_zone, expiry_reminder_days=reminders, updated_by="t", days_off=days
            )
            await session.commit()
            query = text("SELECT updated_at FROM organisation_settings WHERE org = :org")
            return (await session.execute(query, {"org": org})).scalar_one()

    first = await put("Asia/Makassar", None, [day])
    assert await put("Asia/Makassar", None, [day]) == first
    assert await put("Asia/Makassar", [30, 7], [day]) == first
    assert await put("Asia/Makassar", [30, 7], []) > first
