"""Activities of the portfolio sweep: reconcile the read model with the agreement workflows,
and plan the daily digest of each organisation.

Reconciling compares each open row of `agreements` with its workflow (describe, then the
`state` query). A workflow holding a newer state than the row is re-projected from that
state; nothing is ever written to the audit trail here, so events the trail lacks are
reported, never invented. A second pass over the running agreement workflows (visibility)
finds those without a row at all. Everything found is logged (one structured line per
discrepancy, one per page) and counted in Prometheus.

A region's settings reach its agreements here too: the reconciliation sends each open
agreement on its pages whose party's days off or time zone differ from the organisation's
settings the system's `refresh_party_settings` (the agreement records the change as an
event; the decider refuses it when nothing differs), and `refresh_party_settings` does the
same for one organisation's agreements right after its settings change
(PartySettingsWorkflow, started by the API).
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

import structlog
from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.client import (
    Client,
    WorkflowExecutionAsyncIterator,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from services.settings import Settings
from services.store import organisations
from services.store import portfolio as store
from services.store.db import session_scope
from services.temporal_client import execute_act
from workflows import lifecycle
from workflows.agreement import ActInput, AgreementWorkflow, workflow_id
from workflows.contracts import portfolio as c
from workflows.contracts import search
from workflows.messages import SYSTEM, AgreementState, RefreshPartySettings, is_org_id
from workflows.portfolio import digest as d

log = structlog.get_logger("pakta.portfolio")

CHECKED = Counter("pakta_portfolio_checked", "Agreements the portfolio sweep compared with their workflow")
REPAIRED = Counter("pakta_portfolio_repaired", "Read-model rows the portfolio sweep re-projected")
DISCREPANCIES = Counter(
    "pakta_portfolio_discrepancies", "Differences between the read model and the workflows, by kind", ["kind"]
)
SETTINGS_SENT = Counter(
    "pakta_party_settings_sent",
    "Organisation settings sent to agreements (sent, versioned: sent and recorded with the values the party "
    "had, only its version newer; unchanged, refused, failed)",
    ["outcome"],
)
EDITION_PROMPTS = Counter(
    "pakta_edition_recount_prompts",
    "Agreements prompted to count their due dates with a newer national edition (sent, unchanged, refused, "
    "failed; nothing_to_move: not sent, the newer edition moves none of its dates)",
    ["outcome"],
)
DIGESTS = Counter(
    "pakta_portfolio_digests", "Organisation digests planned by the sweep (planned, empty, already_sent)", ["outcome"]
)

CONCURRENCY = 16  # describes and queries in flight per page
RPC_TIMEOUT = timedelta(seconds=15)
AGREEMENT_PREFIX = "agreement-"

_Item = TypeVar("_Item")
RUNNING_AGREEMENTS = 'WorkflowType = "AgreementWorkflow" AND ExecutionStatus = "Running"'


def visibility_query(orgs: list[str] | None) -> str:
    """The running agreement workflows, with `orgs` those a party of which is one of them or
    that carry no parties' attribute (`PaktaOrgs`; a run started without the attributes
    never gets them, and must still be found)."""
    if orgs is None:
        return RUNNING_AGREEMENTS
    # An organisation not spelled as an `OrgId` is no party of any agreement, and could not
    # be quoted in the query: left out.
    quoted = ", ".join(f'"{org}"' for org in sorted(set(orgs)) if is_org_id(org))
    parties = f"{search.ORGS.name} IN ({quoted}) OR " if quoted else ""
    return f"{RUNNING_AGREEMENTS} AND ({parties}{search.ORGS.name} IS NULL)"


class PortfolioActivities:
    def __init__(
        self, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], client: Client | None = None
    ) -> None:
        self.settings = settings
        self.sessionmaker = sessionmaker
        self._client = client

    def client(self) -> Client:
        return self._client or activity.client()

    # ------------------------------------------------------------ reconcile: rows

    @activity.defn(name=c.RECONCILE_ROWS)
    async def reconcile_rows(self, input: c.ReconcileRowsInput) -> c.ReconcileResult:
        async with session_scope(self.sessionmaker) as session:
            rows = await store.open_rows(session, after_id=input.after_id, limit=input.limit, orgs=input.orgs)
        result = c.ReconcileResult(after_id=rows[-1].id if len(rows) == input.limit else None)
        await self._each(rows, lambda row: self._check_row(row, result))
        # The page's parties whose settings changed in the register and never reached them
        # (the prompt after the change was lost): sent now, read after the repairs above.
        async with session_scope(self.sessionmaker) as session:
            stale = await organisations.stale_parties_of(session, ids=[row.id for row in rows])
        await self._each(stale, lambda item: self._bring_settings(item, result))
        return self._page_done("rows", result, first=rows[0].id if rows else None)

    async def _bring_settings(self, item: organisations.StaleParty, result: c.ReconcileResult) -> None:
        outcome = await self._send_settings(item)
        if outcome != "unchanged":  # the row trailed its workflow, which had them already
            repaired = outcome == "sent"
            self._found(
                result, item.agreement_id, "party_settings_stale", f"{item.command.org}: {outcome}", repaired=repaired
            )

    async def _check_row(self, row: store.RowVersion, result: c.ReconcileResult) -> None:
        result.checked += 1
        CHECKED.inc()
        handle = self.client().get_workflow_handle(workflow_id(row.id))
        try:
            described = await handle.describe(rpc_timeout=RPC_TIMEOUT)
        except RPCError as error:
            if error.status == RPCStatusCode.NOT_FOUND:
                self._found(result, row.id, "workflow_missing", f"row at version {row.version}, stage {row.stage}")
            else:
                self._found(result, row.id, "query_failed", f"describe: {error.message}")
            return
        status = described.status
        assert status is not None  # a described execution has one
        closed = status != WorkflowExecutionStatus.RUNNING
        state = await self._query(handle, result, row.id)
        if state is None:
            if closed:
                self._found(result, row.id, "workflow_closed", f"workflow {status.name.lower()}, row says {row.stage}")
            return
        if (state.seq, state.version) > (row.last_seq, row.version):
            await self._repair(
                result,
                state,
                "projection_stale",
                f"row at seq {row.last_seq} v{row.version}, workflow at seq {state.seq} v{state.version}",
            )
        elif (state.seq, state.version) < (row.last_seq, row.version):
            # The workflow records before it moves on: its state may trail the row for the
            # length of one record_events. Ask again before calling it a discrepancy.
            await asyncio.sleep(1.0)
            again = await self._query(handle, result, row.id)
            if again is not None and (again.seq, again.version) < (row.last_seq, row.version):
                self._found(
                    result,
                    row.id,
                    "projection_ahead",
                    f"row at seq {row.last_seq} v{row.version}, workflow at seq {again.seq} v{again.version}",
                )
        if closed and (state.seq, state.version) <= (row.last_seq, row.version):
            # Ended without reaching a terminal stage (terminated by hand, failed, timed out).
            self._found(result, row.id, "workflow_closed", f"workflow {status.name.lower()} in stage {state.stage}")
        elif not closed and lifecycle.counts_behind_edition(state, datetime.now(UTC)):
            await self._prompt_recount(row.id, state)

    async def _prompt_recount(self, agreement_id: str, state: AgreementState) -> None:
        """A running due date was counted with an older national edition than the one now in
        force, and the agreement has decided nothing since the newer one took effect (an
        asleep agreement's next timer may be weeks away). Its first decision counts the date
        again (`lifecycle.decided`); the prompt is a decision: the initiator's settings
        refreshed with nothing new, which records the recount alone — or is refused as
        unchanged when the newer edition moves no date."""
        command = RefreshPartySettings(org=lifecycle.initiator(state).org)
        if not _recount_moves_a_date(state, command):
            # The newer edition moves none of its dates: asking the workflow would only be
            # refused as unchanged — every night, until its step moves on.
            EDITION_PROMPTS.labels(outcome="nothing_to_move").inc()
            return
        outcome = await self._send_settings(organisations.StaleParty(agreement_id, command), EDITION_PROMPTS)
        log.info("edition_recount_prompted", agreement_id=agreement_id, outcome=outcome)

    # ------------------------------------------------------------ reconcile: workflows without rows

    @activity.defn(name=c.RECONCILE_WORKFLOWS)
    async def reconcile_workflows(self, input: c.ReconcileWorkflowsInput) -> c.ReconcileResult:
        """One page of the running agreement workflows (visibility, eventually consistent):
        those without a row are projected from their state. With `orgs`, visibility lists
        only the workflows whose parties' search attribute names one of them, and those
        without it (started before the attributes, or with them off): the others are neither
        listed nor queried. A namespace without the attribute registered refuses the filter:
        then every running agreement workflow is listed, as without `orgs`."""
        token = base64.b64decode(input.page_token) if input.page_token else None
        try:
            listing = await self._running_agreements(visibility_query(input.orgs), input.limit, token)
        except RPCError as error:
            if input.orgs is None or error.status != RPCStatusCode.INVALID_ARGUMENT:
                raise
            log.warning("portfolio_orgs_not_searchable", attribute=search.ORGS.name, error=error.message)
            listing = await self._running_agreements(visibility_query(None), input.limit, token)
        ids = [
            wf.id.removeprefix(AGREEMENT_PREFIX)
            for wf in (listing.current_page or [])
            if wf.id.startswith(AGREEMENT_PREFIX)
        ]
        async with session_scope(self.sessionmaker) as session:
            known = await store.existing_ids(session, ids=ids)
        following = listing.next_page_token
        result = c.ReconcileResult(page_token=base64.b64encode(following).decode() if following else None)
        result.checked = len(ids)
        CHECKED.inc(len(ids))

        async def check(agreement_id: str) -> None:
            handle = self.client().get_workflow_handle(workflow_id(agreement_id))
            state = await self._query(handle, result, agreement_id)
            if state is not None and (input.orgs is None or {p.org for p in state.parties} & set(input.orgs)):
                await self._repair(result, state, "projection_missing", f"no row; workflow at seq {state.seq}")

        await self._each([i for i in ids if i not in known], check)
        return self._page_done("workflows", result, first=ids[0] if ids else None)

    async def _running_agreements(self, query: str, limit: int, token: bytes | None) -> WorkflowExecutionAsyncIterator:
        listing = self.client().list_workflows(query, page_size=limit, next_page_token=token, rpc_timeout=RPC_TIMEOUT)
        await listing.fetch_next_page()
        return listing

    # ------------------------------------------------------------ a region's settings

    @activity.defn(name=c.REFRESH_PARTY_SETTINGS)
    async def refresh_party_settings(self, input: c.RefreshPartySettingsInput) -> c.RefreshPartySettingsResult:
        """One page of `input.org`'s open agreements whose party differs from its settings,
        each sent `refresh_party_settings`. A page none of whose agreements answered fails
        (Temporal unavailable: the retry reads the page again, and finds only those that
        still differ); one agreement that does not answer is left to the nightly
        reconciliation rather than hold the organisation's other agreements back."""
        async with session_scope(self.sessionmaker) as session:
            stale = await organisations.stale_parties_of_org(
                session, org=input.org, after_id=input.after_id, limit=input.limit
            )
        counts = c.RefreshCounts()

        async def one(item: organisations.StaleParty) -> None:
            outcome = await self._send_settings(item)
            setattr(counts, outcome, getattr(counts, outcome) + 1)

        await self._each(stale, one)
        log.info("party_settings_page", org=input.org, after_id=input.after_id, found=len(stale), **counts.model_dump())
        if stale and counts.failed == len(stale):
            raise ApplicationError(f"none of {len(stale)} agreements answered; the page again")
        following = stale[-1].agreement_id if len(stale) == input.limit else None
        return c.RefreshPartySettingsResult(counts=counts, after_id=following)

    async def _send_settings(self, item: organisations.StaleParty, counter: Counter = SETTINGS_SENT) -> str:
        """Send the agreement its party's settings: "sent" (recorded), "unchanged" (it had
        them, or newer ones), "refused" (closed meanwhile, or the organisation no longer a party) or
        "failed" (no answer: Temporal unavailable, the agreement still being created)."""
        request = ActInput(command=item.command, actor=SYSTEM, at=datetime.now(UTC))
        try:
            await execute_act(self.client(), item.agreement_id, request)
            outcome = "sent"
        except WorkflowUpdateFailedError as error:
            cause = error.cause
            # Superseded: newer settings reached it first (a page read before a change).
            if isinstance(cause, ApplicationError) and cause.type in ("settings_unchanged", "settings_superseded"):
                outcome = "unchanged"
            elif isinstance(cause, ApplicationError) and cause.non_retryable:
                outcome = "refused"
            else:
                outcome = "failed"
        except RPCError as error:
            outcome = "refused" if error.status == RPCStatusCode.NOT_FOUND else "failed"  # not found: it has ended
        if counter is SETTINGS_SENT:
            # How often a version alone is recorded (the register went A → B → A before B arrived).
            counter.labels(outcome="versioned" if outcome == "sent" and not item.differs else outcome).inc()
        else:
            counter.labels(outcome=outcome).inc()
        if outcome in ("refused", "failed"):
            log.warning(
                "party_settings_not_taken", agreement_id=item.agreement_id, org=item.command.org, outcome=outcome
            )
        return outcome

    # ------------------------------------------------------------ digests

    @activity.defn(name=c.PLAN_DIGESTS)
    async def plan_digests(self, input: c.PlanDigestsInput) -> c.PlanDigestsResult:
        """For a page of organisations: those whose local time is in the digest window and
        that have not had today's digest get it built; empty digests are not sent."""
        result = c.PlanDigestsResult()
        async with session_scope(self.sessionmaker) as session:
            orgs = await store.open_orgs(session, after_org=input.after_org, limit=input.limit, only=input.orgs)
            result.after_org = orgs[-1] if len(orgs) == input.limit else None
            zones = await store.zones_of(session, orgs=orgs)
            due: dict[str, tuple[str, date]] = {}
            for org in orgs:
                zone = d.org_zone(org, *zones[org])
                day = d.digest_day(input.at, zone, hour=input.digest_hour, until_hour=input.digest_until_hour)
                if day is not None:
                    due[org] = (zone, day)
            sent = await store.digests_delivered(
                session, event_ids=[d.digest_event_id(org, day) for org, (_, day) in due.items()]
            )
            for org, (zone, day) in due.items():
                activity.heartbeat(org)
                if d.digest_event_id(org, day) in sent:
                    result.already_sent += 1
                    continue
                states = await store.digest_states(session, org=org, now=input.at, today=day)
                digest = d.build_digest(org, states, input.at, zone)
                if digest.empty:
                    result.empty += 1
                    continue
                result.digests.append(d.digest_notification(digest))
        DIGESTS.labels(outcome="planned").inc(len(result.digests))
        DIGESTS.labels(outcome="empty").inc(result.empty)
        DIGESTS.labels(outcome="already_sent").inc(result.already_sent)
        log.info(
            "digests_planned",
            orgs=len(orgs),
            due=len(due),
            planned=len(result.digests),
            empty=result.empty,
            already_sent=result.already_sent,
            at=input.at.isoformat(),
        )
        return result

    # ------------------------------------------------------------ helpers

    async def _each(self, items: Iterable[_Item], check: Callable[[_Item], Awaitable[None]]) -> None:
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(item: _Item) -> None:
            async with gate:
                await check(item)
                activity.heartbeat()

        await asyncio.gather(*(one(item) for item in items))

    async def _query(
        self, handle: WorkflowHandle[Any, Any], result: c.ReconcileResult, agreement_id: str
    ) -> AgreementState | None:
        try:
            state = await handle.query(AgreementWorkflow.state, rpc_timeout=RPC_TIMEOUT)
        except Exception as error:  # RPCError, WorkflowQueryFailedError, a timeout: all reported
            self._found(result, agreement_id, "query_failed", f"{type(error).__name__}: {error}")
            return None
        if state is None:  # still being created
            return None
        return state

    async def _repair(
        self, result: c.ReconcileResult, state: AgreementState, kind: c.DiscrepancyKind, detail: str
    ) -> None:
        async with session_scope(self.sessionmaker) as session:
            done = await store.reproject(session, state=state)
        if done.written:
            result.repaired += 1
            REPAIRED.inc()
            self._found(result, state.id, kind, detail, repaired=True)
        if done.audit_seq < state.seq:
            self._found(
                result,
                state.id,
                "audit_incomplete",
                f"audit trail ends at seq {done.audit_seq}, the workflow's state is at seq {state.seq}",
            )

    @staticmethod
    def _found(
        result: c.ReconcileResult, agreement_id: str, kind: c.DiscrepancyKind, detail: str, *, repaired: bool = False
    ) -> None:
        result.discrepancies.append(
            c.Discrepancy(agreement_id=agreement_id, kind=kind, detail=detail, repaired=repaired)
        )
        DISCREPANCIES.labels(kind=kind).inc()
        log.warning("portfolio_discrepancy", agreement_id=agreement_id, kind=kind, detail=detail, repaired=repaired)

    @staticmethod
    def _page_done(what: str, result: c.ReconcileResult, *, first: str | None) -> c.ReconcileResult:
        log.info(
            "portfolio_page_reconciled",
            pass_=what,
            first=first,
            checked=result.checked,
            repaired=result.repaired,
            discrepancies=len(result.discrepancies),
        )
        return result


def _recount_moves_a_date(state: AgreementState, command: RefreshPartySettings) -> bool:
    """Whether the prompt would record anything: the decider's own answer to it on the state
    just queried (pure, no I/O), so a night sends only the prompts the workflow will take."""
    try:
        lifecycle.decided(state, command, SYSTEM, max(datetime.now(UTC), state.updated_at), recount_editions=True)
    except lifecycle.DomainError:
        return False
    return True
