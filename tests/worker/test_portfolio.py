"""The portfolio sweep against real parts: agreements run by the real AgreementWorkflow on the
Temporal dev server (which has visibility and schedules) with the real activities writing
to the embedded PostgreSQL, digests caught by a real SMTP server.

Each test works on a database of its own (tests/worker/conftest.py) with organisations of
its own, and the sweep is told to look at them only: the dev server is the session's, and
other tests' agreement workflows have no row here (those a finished test left running are
terminated after it: `task_queue`).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import uuid
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import structlog.testing
from babel.dates import format_date
from google.protobuf.duration_pb2 import Duration
from sqlalchemy import text
from temporalio.api.workflowservice.v1 import RegisterNamespaceRequest
from temporalio.client import (
    Client,
    Interceptor,
    OutboundInterceptor,
    QueryWorkflowInput,
    ScheduleActionStartWorkflow,
)
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import ActivityEnvironment
from temporalio.worker import Worker

from services.store import notifications as notes
from services.store import queries
from services.store.db import session_scope
from services.worker.activities.portfolio import PortfolioActivities, visibility_query
from services.worker.portfolio import EVERY, ensure_portfolio_schedule
from services.worker.registry import WORKFLOWS, activities, workflow_runner
from tests.readmodel import row
from tests.receivers import MailSink
from tests.zones import zone_of
from workflows import lifecycle as L
from workflows import messages as m
from workflows.agreement import ActInput, AgreementInput, AgreementWorkflow, workflow_id
from workflows.contracts import portfolio as c
from workflows.contracts import search
from workflows.portfolio import digest as d
from workflows.portfolio.sweep import PortfolioSweepWorkflow

pytestmark = pytest.mark.asyncio(loop_scope="session")
HISTORIES = Path(__file__).parents[1] / "histories"


# ---------------------------------------------------------------- fixtures and helpers


@pytest.fixture
async def client(temporal_env, settings, sessionmaker, task_queue, sink):
    configured = settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": sink.port,
            "delivery_retry_initial_seconds": 0.1,
            "delivery_retry_max_seconds": 0.5,
            "temporal_task_queue": task_queue,
        }
    )
    async with Worker(
        temporal_env.client,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        workflow_runner=workflow_runner(),
        activities=activities(configured, sessionmaker),
    ):
        yield temporal_env.client


class Orgs:
    def __init__(self) -> None:
        tag = uuid.uuid4().hex[:8]
        self.jabar, self.unud, self.uncen = f"jabar-{tag}", f"unud-{tag}", f"uncen-{tag}"
        self.staff = m.Actor(sub=f"staff@{self.jabar}", org=self.jabar, roles=["staff"])
        self.review = m.Actor(
            sub=f"tkksd@{self.jabar}", org=self.jabar, roles=["approver"], gates=["review", "legal", "dprd", "head"]
        )

    def partner(self, org: str) -> m.Actor:
        return m.Actor(sub=f"partner@{org}", org=org, roles=["partner"])

    def signatory(self, org: str) -> m.Actor:
        return m.Actor(sub=f"sign@{org}", org=org, roles=["signatory"])

    def proposal(self, title: str, partner: str, zone: str, **kw) -> m.Proposal:
        return m.Proposal(
            title=title,
            kind="ksdpk",
            objectives="Kerja sama riset.",
            sector="education",
            parties=[
                m.Party(
                    org=self.jabar,
                    role="initiator",
                    sector="government",
                    signatory="Gubernur",
                    time_zone=zone_of("Jawa Barat"),
                ),
                m.Party(org=partner, role="counterparty", sector="academia", signatory="Rektor", time_zone=zone),
            ],
            start_date=kw.pop("start_date", date.today()),
            duration_months=kw.pop("duration_months", 24),
            indicators=[m.Indicator(name="Mahasiswa KKN", target=100, unit="orang")],
            **kw,
        )


async def start(client, task_queue, orgs: Orgs, proposal: m.Proposal, *, indexed: bool = False):
    """An agreement workflow started as a test starts one, or `indexed`: with the search
    attributes the API starts it with (`workflows.contracts.search`)."""
    agreement_id = str(uuid.uuid4())
    attributes = None
    if indexed:
        created = None
        for event in L.create(proposal, orgs.staff, datetime.now(UTC), agreement_id):
            created = L.evolve(created, event)
        assert created is not None
        attributes = search.attributes_of(created)
    await client.start_workflow(
        AgreementWorkflow.run,
        AgreementInput(agreement_id=agreement_id, proposal=proposal, actor=orgs.staff),
        id=workflow_id(agreement_id),
        task_queue=task_queue,
        search_attributes=attributes,
    )
    handle = client.get_workflow_handle(workflow_id(agreement_id))
    await handle.execute_update(AgreementWorkflow.ready, orgs.staff)
    return handle, agreement_id


async def act(handle, actor: m.Actor, command) -> m.Snapshot:
    await handle.execute_update(AgreementWorkflow.act, ActInput(command=command, actor=actor))
    return await handle.query(AgreementWorkflow.snapshot, actor)


async def to_signing(handle, orgs: Orgs, partner: str) -> None:
    """KSDPK (procedure 2026.1): submit, TKKSD review, KSB agreed, the TKKSD approves the
    drafted KSB: the KSB awaits signatures (due in 20 days of service)."""
    await act(handle, orgs.staff, m.Submit())
    await act(handle, orgs.review, m.Decide(gate="review", outcome="approve"))
    await act(handle, orgs.staff, m.SubmitDraft(document="1" * 64))
    snap = await act(handle, orgs.partner(partner), m.AcceptDraft(version=1))
    assert snap.procedure.version == "2026.1" and snap.step is not None and snap.step.key == "persetujuan_ksb"
    await act(handle, orgs.review, m.Decide(gate="review", outcome="approve"))


async def to_implementation(handle, orgs: Orgs, partner: str) -> m.Snapshot:
    await to_signing(handle, orgs, partner)
    await act(handle, orgs.signatory(orgs.jabar), m.Sign(version=1, method="electronic"))
    await act(handle, orgs.signatory(partner), m.Sign(version=1, method="electronic"))
    await act(handle, orgs.partner(partner), m.SubmitDraft(document="2" * 64))
    await act(handle, orgs.staff, m.AcceptDraft(version=2))
    await act(handle, orgs.review, m.Decide(gate="legal", outcome="approve"))
    await act(handle, orgs.signatory(orgs.jabar), m.Sign(version=2, method="electronic"))
    return await act(handle, orgs.signatory(partner), m.Sign(version=2, method="electronic"))


async def sweep(client, task_queue, capture: str | None = None, **kw) -> c.SweepResult:
    handle = await client.start_workflow(
        PortfolioSweepWorkflow.run,
        c.SweepInput(**kw),
        id=f"portfolio-sweep-test-{uuid.uuid4()}",
        task_queue=task_queue,
        result_type=c.SweepResult,
    )
    result = await handle.result()
    if capture:
        await save_history(client, handle.id, capture)
    return result


async def save_history(client, workflow_id_: str, name: str) -> None:
    """Refresh a saved history (replayed by test_agreement_workflow's replay test) on
    purpose only: PAKTA_CAPTURE_HISTORY=1."""
    if os.environ.get("PAKTA_CAPTURE_HISTORY"):
        history = await client.get_workflow_handle(workflow_id_).fetch_history()
        (HISTORIES / f"{name}.json").write_text(history.to_json())


async def execute(sessionmaker, sql: str, **params) -> None:
    async with session_scope(sessionmaker) as session:
        await session.execute(text(sql), params)


def found(result: c.SweepResult, agreement_id: str) -> dict[str, bool]:
    return {x.kind: x.repaired for x in result.discrepancies if x.agreement_id == agreement_id}


# ---------------------------------------------------------------- reconcile


async def test_sweep_repairs_stale_and_missing_rows_and_reports_the_rest(client, task_queue, sessionmaker):
    orgs = Orgs()
    bali = zone_of("Bali")
    handles = {}
    for name in ("stale", "deleted", "audit", "terminated", "fine"):
        handles[name] = await start(client, task_queue, orgs, orgs.proposal(f"Riset {name}", orgs.unud, bali))
        await act(handles[name][0], orgs.staff, m.Submit())
    ids = {name: agreement_id for name, (_, agreement_id) in handles.items()}
    truth = {name: await handle.query(AgreementWorkflow.state) for name, (handle, _) in handles.items()}

    # 1. A row rolled back to the creation (version 1, seq 1, stage draft).
    await execute(
        sessionmaker,
        "UPDATE agreements SET version = 1, last_seq = 1, stage = 'draft', "
        "state = jsonb_set(jsonb_set(state, '{version}', '1'), '{stage}', '\"draft\"') WHERE id = :id",
        id=ids["stale"],
    )
    # 2. A row gone altogether.
    await execute(sessionmaker, "DELETE FROM agreements WHERE id = :id", id=ids["deleted"])
    # 3. The audit trail lost its last event (a superuser got past the append-only trigger)
    #    and the row is behind: the row is re-projected, the lost event is reported, not invented.
    async with session_scope(sessionmaker) as session:
        await session.execute(text("SET LOCAL session_replication_role = replica"))
        await session.execute(
            text(
                "DELETE FROM agreement_events WHERE agreement_id = :id AND seq = "
                "(SELECT max(seq) FROM agreement_events WHERE agreement_id = :id)"
            ),
            {"id": ids["audit"]},
        )
        await session.execute(
            text("UPDATE agreements SET version = 1, last_seq = 1 WHERE id = :id"), {"id": ids["audit"]}
        )
    # 4. A workflow terminated by hand while its row says the agreement runs.
    await handles["terminated"][0].terminate("operator mistake")

    result = await sweep(
        client,
        task_queue,
        "portfolio_sweep_reconcile",
        reconcile=True,
        digests=False,
        orgs=[orgs.jabar],
        page_size=2,
        pages_per_run=2,
    )  # pages and continue-as-new on five rows
    assert result.reconciled and result.totals.pages >= 3

    assert found(result, ids["stale"]) == {"projection_stale": True}
    stale = await row(sessionmaker, ids["stale"])
    assert (stale.version, stale.last_seq, stale.stage) == (truth["stale"].version, truth["stale"].seq, "review")
    assert stale.state == truth["stale"]

    assert found(result, ids["deleted"]) == {"projection_missing": True}
    restored = await row(sessionmaker, ids["deleted"])
    assert restored is not None and restored.state == truth["deleted"]
    async with sessionmaker() as session:  # its audit trail was intact: it verifies again
        assert (await queries.verify_chain(session, agreement_id=ids["deleted"]))["valid"]

    assert found(result, ids["audit"]) == {"projection_stale": True, "audit_incomplete": False}
    async with sessionmaker() as session:
        chain = await queries.verify_chain(session, agreement_id=ids["audit"])
        events = await queries.list_events(session, agreement_id=ids["audit"])
    assert len(events) == truth["audit"].seq - 1  # nothing invented
    assert not chain["valid"] and chain["broken_at"] == truth["audit"].seq

    assert found(result, ids["terminated"]) == {"workflow_closed": False}
    assert found(result, ids["fine"]) == {}
    assert result.totals.by_kind["projection_stale"] >= 2 and result.totals.repaired >= 3

    # A second sweep finds only what cannot be repaired.
    again = await sweep(client, task_queue, reconcile=True, digests=False, orgs=[orgs.jabar])
    assert found(again, ids["stale"]) == found(again, ids["deleted"]) == {}
    assert found(again, ids["terminated"]) == {"workflow_closed": False}


async def test_open_row_without_a_workflow_is_reported(client, task_queue, sessionmaker):
    orgs = Orgs()
    _handle, agreement_id = await start(
        client, task_queue, orgs, orgs.proposal("Riset hantu", orgs.unud, "Asia/Makassar")
    )
    ghost = str(uuid.uuid4())
    await execute(
        sessionmaker,
        "INSERT INTO agreements SELECT :ghost, title, kind, stage, step_key, version, "
        "procedure_key, procedure_version, initiator_org, orgs, sector, start_date, end_date, value, "
        "next_deadline_at, ministry_visible, last_seq, head_hash, created_by, created_at, updated_at, "
        "jsonb_set(state, '{id}', to_jsonb(CAST(:ghost AS text))), search FROM agreements WHERE id = :id",
        ghost=ghost,
        id=agreement_id,
    )
    result = await sweep(client, task_queue, reconcile=True, digests=False, orgs=[orgs.jabar])
    assert found(result, ghost) == {"workflow_missing": False}
    assert found(result, agreement_id) == {}
    assert (await row(sessionmaker, ghost)) is not None  # reported, left alone


class QueriesCounted(Interceptor):
    """The workflow queries a client sends, counted by workflow id."""

    def __init__(self) -> None:
        self.by_workflow: collections.Counter[str] = collections.Counter()

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        return _CountingQueries(next, self.by_workflow)


class _CountingQueries(OutboundInterceptor):
    def __init__(self, next: OutboundInterceptor, counted: collections.Counter[str]) -> None:
        super().__init__(next)
        self.counted = counted

    async def query_workflow(self, input: QueryWorkflowInput):
        self.counted[input.id] += 1
        return await super().query_workflow(input)


async def test_a_repair_scoped_to_an_organisation_queries_its_row_less_workflows_and_those_without_attributes_only(
    client, settings, sessionmaker, task_queue
):
    """A repair for one organisation (`orgs`): visibility lists its workflows by their parties'
    search attribute, so another organisation's row-less workflow is not queried at all; one
    started without the attributes (before them, or with them off) is still found."""
    mine, theirs = Orgs(), Orgs()
    bali = zone_of("Bali")
    _, indexed = await start(client, task_queue, mine, mine.proposal("Riset", mine.unud, bali), indexed=True)
    _, unindexed = await start(client, task_queue, mine, mine.proposal("Riset lama", mine.unud, bali))
    _, other = await start(client, task_queue, theirs, theirs.proposal("Riset", theirs.unud, bali), indexed=True)
    for agreement_id in (indexed, unindexed, other):
        await execute(sessionmaker, "DELETE FROM agreements WHERE id = :id", id=agreement_id)

    counted = QueriesCounted()
    counting = Client(**{**client.config(), "interceptors": [counted]})
    reconciling = PortfolioActivities(settings, sessionmaker, client=counting)
    discrepancies: list[c.Discrepancy] = []
    page = c.ReconcileWorkflowsInput(orgs=[mine.jabar])
    while True:
        result = await ActivityEnvironment().run(reconciling.reconcile_workflows, page)
        discrepancies += result.discrepancies
        if result.page_token is None:
            break
        page = page.model_copy(update={"page_token": result.page_token})

    queried = counted.by_workflow
    assert (queried[workflow_id(indexed)], queried[workflow_id(unindexed)], queried[workflow_id(other)]) == (1, 1, 0)
    repaired = {x.agreement_id: x.kind for x in discrepancies if x.repaired}
    assert repaired.get(indexed) == repaired.get(unindexed) == "projection_missing"
    assert other not in repaired and await row(sessionmaker, other) is None
    assert (await row(sessionmaker, indexed)).state.parties[0].org == mine.jabar


async def test_a_scoped_repair_in_a_namespace_without_the_parties_attribute_lists_every_running_agreement(
    temporal_env, settings, sessionmaker, task_queue
):
    """A namespace where `PaktaOrgs` was never registered refuses a query naming it: the
    repair lists as it did before the attributes, and still finds the row-less workflow."""
    namespace = f"pakta-bare-{uuid.uuid4().hex[:8]}"
    await temporal_env.client.workflow_service.register_namespace(
        RegisterNamespaceRequest(namespace=namespace, workflow_execution_retention_period=Duration(seconds=86400))
    )
    bare = Client(**{**temporal_env.client.config(), "namespace": namespace})
    orgs = Orgs()
    async with Worker(
        bare,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        workflow_runner=workflow_runner(),
        activities=activities(settings, sessionmaker),
    ):
        async with asyncio.timeout(30):  # the new namespace reaches the server's cache
            while True:
                try:
                    proposal = orgs.proposal("Riset", orgs.unud, "Asia/Jakarta")
                    _, agreement_id = await start(bare, task_queue, orgs, proposal)
                    break
                except RPCError as error:
                    if error.status != RPCStatusCode.NOT_FOUND:
                        raise
                    await asyncio.sleep(0.2)
        await execute(sessionmaker, "DELETE FROM agreements WHERE id = :id", id=agreement_id)
        reconciling = PortfolioActivities(settings, sessionmaker, client=bare)
        with structlog.testing.capture_logs() as logged:
            result = await ActivityEnvironment().run(
                reconciling.reconcile_workflows, c.ReconcileWorkflowsInput(orgs=[orgs.jabar])
            )
    assert [line["attribute"] for line in logged if line["event"] == "portfolio_orgs_not_searchable"] == ["PaktaOrgs"]
    assert {x.agreement_id: (x.kind, x.repaired) for x in result.discrepancies} == {
        agreement_id: ("projection_missing", True)
    }


async def test_the_scoped_visibility_query_names_only_organisations_a_party_can_have():
    """An organisation no `OrgId` can be (a quote in it) cannot be a party: it is left out
    rather than quoted into the query."""
    query = visibility_query(["jabar", 'x") OR ("y', "jabar", "unud"])
    assert query.endswith('AND (PaktaOrgs IN ("jabar", "unud") OR PaktaOrgs IS NULL)')
    assert visibility_query(['"']).endswith("AND (PaktaOrgs IS NULL)")
    assert "PaktaOrgs" not in visibility_query(None)


# ---------------------------------------------------------------- digests


async def test_digest_per_organisation_delivered_once_a_day(client, task_queue, sessionmaker, sink):
    orgs = Orgs()
    bali = zone_of("Bali")
    overdue, _ = await start(client, task_queue, orgs, orgs.proposal("Riset terlambat", orgs.unud, bali))
    await act(overdue, orgs.staff, m.Submit())  # review gate: due in 10 days of service
    soon, _ = await start(client, task_queue, orgs, orgs.proposal("Riset segera", orgs.unud, bali))
    await act(soon, orgs.staff, m.Submit())  # extended below, to fall due within 7 days of the digest
    signing, _ = await start(client, task_queue, orgs, orgs.proposal("Riset tanda tangan", orgs.unud, bali))
    await to_signing(signing, orgs, orgs.unud)  # signing: due in 20 days of service
    running, _ = await start(
        client,
        task_queue,
        orgs,
        orgs.proposal("Riset berjalan", orgs.unud, bali, duration_months=2, evaluation_interval_months=1),
    )
    await to_implementation(running, orgs, orgs.unud)  # ends in two months
    await act(running, orgs.staff, m.StartEvaluation())  # reports due in 20 days of service
    await act(
        running,
        orgs.partner(orgs.unud),
        m.SubmitEvaluationReport(
            evaluation=1,
            narrative="Berjalan baik.",
            results=[m.IndicatorResult(indicator="Mahasiswa KKN", achieved=40)],
        ),
    )
    await start(client, task_queue, orgs, orgs.proposal("Riset draf", orgs.unud, bali))  # no deadline: absent
    ids = {
        name: h.id.removeprefix("agreement-")
        for name, h in (("overdue", overdue), ("soon", soon), ("signing", signing), ("running", running))
    }

    async with session_scope(sessionmaker) as session:
        await notes.create_contact(
            session,
            org=orgs.jabar,
            name="Siti",
            email=f"siti@{orgs.jabar}.go.id",
            roles=["staff"],
            language="id",
            created_by="test",
        )
        await notes.create_contact(
            session,
            org=orgs.unud,
            name="Made",
            email=f"made@{orgs.unud}.ac.id",
            roles=["staff"],
            language="en",
            time_zone=bali,
            created_by="test",
        )
        await notes.create_contact(
            session,
            org=orgs.unud,
            name="Rektor",
            email=f"rektor@{orgs.unud}.ac.id",
            roles=["signatory"],
            created_by="test",
        )  # not staff: no digest
    # Due dates are 16:00 local time on office days (days of service: weekends, national
    # holidays and cuti bersama do not count), so where they fall depends on today's calendar.
    # The digest is read 7 to 14 days before the signing and the evaluation report fall due
    # (both 20 days of service from now); 10 days of service are at least 14 days, so the
    # review gate (due in 10) is overdue by then.
    wib = ZoneInfo("Asia/Jakarta")
    states = {name: await h.query(AgreementWorkflow.state) for name, h in (("signing", signing), ("running", running))}
    later = (states["signing"].deadlines["step"], states["running"].deadlines["evaluation_report"])
    # 03:00 UTC is mid-morning in WIB and WITA: an hour later is still the same local day
    # there (at the wall clock's own time, a second sweep could fall on the next day in Bali).
    at = datetime.combine(min(later).date() - timedelta(days=7), time(3), tzinfo=UTC)
    assert all(at + timedelta(days=7) <= due < at + timedelta(days=14) for due in later), (at, later)
    # "soon" is extended a day of service at a time until it falls due after the digest's time.
    extended = await act(soon, orgs.staff, m.ExtendDeadline(days=1, reason="Menunggu data."))
    while extended.deadlines["step"] < at:
        extended = await act(soon, orgs.staff, m.ExtendDeadline(days=1, reason="Menunggu data."))
    assert at <= extended.deadlines["step"] < at + timedelta(days=7)
    states.update({name: await h.query(AgreementWorkflow.state) for name, h in (("overdue", overdue), ("soon", soon))})
    due = {name: state.deadlines for name, state in states.items()}
    assert due["overdue"]["step"] < at
    # Each due date is the end of an office day (16:00) where the parties it waits for are:
    # the initiator alone at its review gate and for reports, either party at the signing.
    for deadline, zones in (
        (due["overdue"]["step"], [wib]),
        (due["soon"]["step"], [wib]),
        (due["running"]["evaluation_report"], [wib]),
        (due["signing"]["step"], [wib, ZoneInfo(bali)]),
    ):
        ends = [deadline.astimezone(z) for z in zones]
        assert any((x.hour, x.minute) == (16, 0) and x.weekday() < 5 for x in ends), (deadline, due)
    window = {"digest_hour": 0, "digest_until_hour": 24}  # every hour is office hour in this test

    # What each organisation is told (computed the way the sweep computes it).
    activity = PortfolioActivities(None, sessionmaker)  # type: ignore[arg-type]
    plan = await _plan(activity, at, [orgs.jabar, orgs.unud], **window)
    by_org = {
        n.audience.org: d.Digest.model_validate({k: v for k, v in n.data.items() if k != "title"}) for n in plan.digests
    }
    assert set(by_org) == {orgs.jabar, orgs.unud}
    jabar, unud = by_org[orgs.jabar], by_org[orgs.unud]
    assert jabar.time_zone == "Asia/Jakarta" and unud.time_zone == bali

    def listed(section: d.DigestSection) -> list[tuple[str, str | None]]:
        names = {v: k for k, v in ids.items()}
        return sorted((names[i.agreement_id], i.deadline) for i in section.items)

    day_j = at.astimezone(wib).date()
    late = (day_j - due["overdue"]["step"].astimezone(wib).date()).days
    assert listed(jabar.overdue) == [("overdue", "step")] and jabar.overdue.items[0].days == late >= 1
    assert listed(jabar.due_7_days) == [("soon", "step")]
    assert listed(jabar.due_14_days) == [("running", "evaluation_report"), ("signing", "step")]
    end = states["running"].end_date
    assert end is not None and listed(jabar.expiring) == [("running", None)]
    assert jabar.expiring.items[0].days == (end - day_j).days and 30 < (end - day_j).days < 60
    assert listed(jabar.awaiting_reports) == [("running", "evaluation_report")]
    # Unud has reported on the evaluation: it is neither due nor awaited from it.
    assert listed(unud.overdue) == [("overdue", "step")]
    assert listed(unud.due_14_days) == [("signing", "step")]
    assert listed(unud.awaiting_reports) == [] and listed(unud.expiring) == [("running", None)]

    # The sweep delivers it: inbox for the staff, email to staff contacts in their language.
    first = await sweep(client, task_queue, "portfolio_sweep_digests", at=at, orgs=[orgs.jabar, orgs.unud], **window)
    assert not first.reconciled and first.totals.digests_sent == 2
    day_u = at.astimezone(ZoneInfo(bali)).date()
    mails = await _wait_for_mail(sink, [f"siti@{orgs.jabar}.go.id", f"made@{orgs.unud}.ac.id"])
    await client.get_workflow_handle(d.digest_event_id(orgs.jabar, day_j)).result()
    await save_history(client, d.digest_event_id(orgs.jabar, day_j), "digest_workflow")
    subject = lambda mail: " ".join(str(mail["Subject"]).split())  # noqa: E731  (long subjects fold)
    # The day in words (the register holds neither organisation: they keep their ids).
    in_words = {lang: format_date(day, "d MMMM yyyy", locale=lang) for lang, day in (("id", day_j), ("en_GB", day_u))}
    assert subject(mails[f"siti@{orgs.jabar}.go.id"]).startswith(
        f"Ringkasan kerja sama {orgs.jabar}, {in_words['id']}: 1 terlambat"
    )
    made = mails[f"made@{orgs.unud}.ac.id"]
    assert subject(made).startswith(f"Cooperation digest {orgs.unud}, {in_words['en_GB']}: 1 overdue")
    assert "Riset tanda tangan" in made.get_body(("plain",)).get_content()
    assert sink.to(f"rektor@{orgs.unud}.ac.id") == []
    async with sessionmaker() as session:
        inbox = await notes.list_inbox(session, sub="someone", org=orgs.jabar, roles=["staff"], gates=[])
    digests = [(n.event_id, n.agreement_id) for n in inbox if n.template == "portfolio_digest"]
    assert digests == [(d.digest_event_id(orgs.jabar, day_j), "")]

    # Twice the same day: nothing more goes out.
    second = await sweep(client, task_queue, at=at + timedelta(hours=1), orgs=[orgs.jabar, orgs.unud], **window)
    assert second.totals.digests_sent == 0 and second.totals.digests_already_sent == 2
    await asyncio.sleep(0.5)
    assert len(sink.to(f"siti@{orgs.jabar}.go.id")) == 1 and len(sink.to(f"made@{orgs.unud}.ac.id")) == 1
    # Even a sweep that does not see the inbox entry yet (a race) starts no second delivery.
    third = await client.execute_workflow(
        "DigestWorkflow",
        c.DigestInput(notification=plan.digests[0]),
        id=f"digest-rerun-{uuid.uuid4()}",
        task_queue=task_queue,
        result_type=c.NotifyResult,
    )
    assert third.inbox == 1 and third.emails == 1  # both answered "duplicate" by the deliveries log
    await asyncio.sleep(0.5)
    assert len(sink.to(f"siti@{orgs.jabar}.go.id")) + len(sink.to(f"made@{orgs.unud}.ac.id")) == 2


async def test_digest_goes_out_at_office_hours_in_the_organisations_zone(client, task_queue, sessionmaker):
    orgs = Orgs()
    for partner, province in ((orgs.unud, "Bali"), (orgs.uncen, "Papua")):
        handle, _ = await start(
            client, task_queue, orgs, orgs.proposal(f"Riset {province}", partner, zone_of(province))
        )
        await act(handle, orgs.staff, m.Submit())
    activity = PortfolioActivities(None, sessionmaker)  # type: ignore[arg-type]
    everyone = [orgs.jabar, orgs.unud, orgs.uncen]
    day = date.today() + timedelta(days=3)
    at_wib = datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=1)  # 08:00 WIB
    told = lambda plan: sorted(n.audience.org for n in plan.digests)  # noqa: E731
    assert told(await _plan(activity, at_wib, everyone, digest_until_hour=9)) == [orgs.jabar]
    assert told(await _plan(activity, at_wib - timedelta(hours=1), everyone, digest_until_hour=9)) == [orgs.unud]
    assert told(await _plan(activity, at_wib - timedelta(hours=2), everyone, digest_until_hour=9)) == [orgs.uncen]
    assert told(await _plan(activity, at_wib - timedelta(hours=3), everyone, digest_until_hour=9)) == []
    # The zone of an organisation comes from its party entries (WIT for Uncen) ...
    plan = await _plan(activity, at_wib - timedelta(hours=2), everyone, digest_until_hour=9)
    assert plan.digests[0].data["time_zone"] == "Asia/Jayapura" and plan.digests[0].data["day"] == day.isoformat()
    # ... unless the organisation's own settings name a zone: that one wins.
    from services.store.organisations import put_settings

    async with session_scope(sessionmaker) as session:
        await put_settings(
            session, org=orgs.jabar, time_zone=zone_of("Papua"), expiry_reminder_days=None, updated_by="test"
        )
    assert told(await _plan(activity, at_wib - timedelta(hours=2), everyone, digest_until_hour=9)) == sorted(
        [orgs.jabar, orgs.uncen]
    )
    assert told(await _plan(activity, at_wib, everyone, digest_until_hour=9)) == []


async def test_digest_endpoint_shows_what_the_sweep_would_send_now(client, task_queue, settings):
    from services.api.app import create_app
    from services.auth import mint_token
    from tests.fixtures.api import app_client

    orgs = Orgs()
    running, agreement_id = await start(
        client, task_queue, orgs, orgs.proposal("Riset berjalan", orgs.uncen, zone_of("Papua"), duration_months=2)
    )
    await to_implementation(running, orgs, orgs.uncen)

    def auth(org: str, *roles: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {mint_token(settings, sub=f'{roles[0]}@{org}', org=org, roles=roles)}"}

    async with app_client(create_app(settings)) as http:
        mine = await http.get("/portfolio/digest", headers=auth(orgs.uncen, "staff"))
        assert mine.status_code == 200, mine.text
        body = mine.json()
        assert body["org"] == orgs.uncen and body["time_zone"] == "Asia/Jayapura" and not body["delivered_today"]
        assert [i["agreement_id"] for i in body["expiring"]["items"]] == [agreement_id]
        assert datetime.fromisoformat(body["next_digest_at"]).astimezone(ZoneInfo("Asia/Jayapura")).hour == 8
        audited = await http.get(f"/portfolio/digest?org={orgs.uncen}", headers=auth("bpk", "auditor"))
        assert audited.status_code == 200 and audited.json()["expiring"] == body["expiring"]
        assert (
            await http.get(f"/portfolio/digest?org={orgs.uncen}", headers=auth(orgs.jabar, "staff"))
        ).status_code == 403
        assert (await http.get("/portfolio/digest", headers=auth(orgs.uncen, "partner"))).status_code == 403


async def _plan(activity: PortfolioActivities, at: datetime, orgs: list[str], **window) -> c.PlanDigestsResult:
    return await ActivityEnvironment().run(activity.plan_digests, c.PlanDigestsInput(at=at, orgs=orgs, **window))


async def _wait_for_mail(sink: MailSink, addresses: list[str]) -> dict:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60  # a bound, not a clock: a busy machine sends late
    while loop.time() < deadline:
        if all(sink.to(a) for a in addresses):
            break
        await asyncio.sleep(0.05)
    return {a: sink.to(a)[0] for a in addresses}


# ---------------------------------------------------------------- schedule


async def test_ensure_portfolio_schedule_is_idempotent(temporal_env, settings, task_queue):
    client = temporal_env.client
    configured = settings.model_copy(update={"temporal_task_queue": task_queue})
    handle = client.get_schedule_handle(c.PORTFOLIO_SCHEDULE_ID)
    with contextlib.suppress(Exception):
        await handle.delete()  # left by an earlier test (pakta dev, the worker) on this server
    assert await ensure_portfolio_schedule(client, configured) == "created"
    assert await ensure_portfolio_schedule(client, configured) == "unchanged"
    described = await handle.describe()
    action = described.schedule.action
    assert isinstance(action, ScheduleActionStartWorkflow)
    assert action.workflow == c.PORTFOLIO_SWEEP_WORKFLOW and action.task_queue == task_queue
    assert [i.every for i in described.schedule.spec.intervals] == [EVERY]
    # Another worker with other settings brings it in line, and only one schedule exists.
    moved = configured.model_copy(update={"digest_hour": 7})
    assert await ensure_portfolio_schedule(client, moved) == "updated"
    assert await ensure_portfolio_schedule(client, moved) == "unchanged"
    listed = [s async for s in await client.list_schedules() if s.id == c.PORTFOLIO_SCHEDULE_ID]
    assert len(listed) == 1
    await handle.delete()
