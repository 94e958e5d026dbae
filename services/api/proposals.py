"""Starting an agreement from a proposal, for every edge of the API that starts one:
`POST /agreements` (services.api.routes.agreements) and the web pages' proposal form
(services.api.web). What the proposal leaves unsaid comes from the parties' organisation
settings; the same Idempotency-Key starts the same agreement once."""

from __future__ import annotations

from fastapi.exceptions import RequestValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client

from services.api import commands
from services.api.errors import refuse_beyond_the_edge
from services.api.known_parties import KNOWN_PARTIES, read_row
from services.auth import Principal
from services.settings import Settings
from services.store import organisations
from workflows import messages as m


async def propose(
    session: AsyncSession,
    temporal: Client,
    settings: Settings,
    *,
    proposal: m.Proposal,
    principal: Principal,
    idempotency_key: str | None,
) -> tuple[m.Snapshot, bool]:
    """Start the agreement in draft as `principal` (the decider checks they may). Returns
    its snapshot and whether it was created now (False: a retry of the same key)."""
    try:
        refuse_beyond_the_edge(proposal, "body")
    except RequestValidationError:
        # A retry under its key of a proposal taken before the figures' bound gets its
        # agreement again (`start_agreement` replays it, checking it is the same proposal);
        # only a first try is refused. Read only on this rare path: one row by its key, read
        # as the API reads every row (its parties kept).
        retried = idempotency_key is not None and await read_row(
            session, commands.new_agreement_id(principal, idempotency_key)
        )
        if not retried:
            raise
    # The request's fingerprint is of what the caller sent (`sent`): a retry under its key
    # after a party's register name or settings changed is the same request.
    sent = proposal
    proposal = await organisations.apply_defaults(session, proposal)
    proposal = with_platform_terms(proposal, settings)
    started = await commands.start_agreement(
        temporal,
        session,
        task_queue=settings.temporal_task_queue,
        sent=sent,
        proposal=proposal,
        principal=principal,
        idempotency_key=idempotency_key,
        search_attributes=settings.temporal_search_attributes,
    )
    # Its creator's next action needs no read before its Update (`KnownParties`).
    KNOWN_PARTIES.note(started[0].id, [p.org for p in started[0].parties], version=started[0].version, read_at=None)
    return started


def with_platform_terms(proposal: m.Proposal, settings: Settings) -> m.Proposal:
    """What the platform decides, not the proposing region: whose approvers give the
    Minister's approval (`PAKTA_MINISTRY_ORGS`). A value the proposal carries is replaced."""
    return proposal.model_copy(update={"ministry_orgs": list(settings.ministry_orgs)})
