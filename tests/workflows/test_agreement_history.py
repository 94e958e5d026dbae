"""What a transition costs in Temporal history: an agreement driven through a whole
procedure as the API drives it (started with its search attributes, commands as Updates),
notifications on (contacts and a webhook endpoint of both parties, the outbox dispatcher
sending), on the Temporal dev server with a real worker. A size check of history, not a
timed test: one Update, one record, one notification plan per transition."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.worker import Worker

from services.api import commands
from services.auth import Principal
from services.settings import Settings
from services.store.db import session_scope
from services.worker.dispatcher import OutboxDispatcher
from services.worker.registry import WORKFLOWS, activities, workflow_runner
from tests.receivers import MailSink
from tests.worker.test_delivery import add_contact, add_endpoint, fast
from workflows import messages as m
from workflows.agreement import workflow_id
from workflows.contracts import search

pytestmark = pytest.mark.asyncio(loop_scope="session")
HISTORIES = Path(__file__).parents[1] / "histories"
EVENTS_PER_COMMAND = 8
BYTES_PER_COMMAND = 2048


@pytest.fixture
def settings(own_database: Settings) -> Settings:
    """A database of this test's own: its outbox dispatcher claims every due delivery of its
    database (tests/conftest.py)."""
    return own_database


@pytest.fixture
def sink() -> Iterator[MailSink]:
    server = MailSink().start()
    yield server
    server.stop()


def ksdpk(region: str, campus: str) -> m.Proposal:
    return m.Proposal(
        title="Riset ketahanan pangan",
        kind="ksdpk",
        objectives="Riset bersama.",
        sector="agriculture",
        parties=[
            m.Party(org=region, role="initiator", sector="government", signatory="Gubernur"),
            m.Party(org=campus, role="counterparty", sector="academia", signatory="Rektor"),
        ],
        start_date=date(2027, 3, 1),
        duration_months=24,
        indicators=[m.Indicator(name="Petani didampingi", target=200, unit="orang")],
    )


async def test_a_whole_procedure_costs_at_most_8_history_events_and_2_kb_per_command(
    temporal_env, settings, sessionmaker, task_queue, orgs, receiver, sink
):
    region, campus = orgs
    staff = Principal(sub="siti", org=region, roles=["staff"])
    partner = Principal(sub="budi", org=campus, roles=["partner"])
    review = Principal(sub="tkksd", org=region, roles=["approver"], gates=["review", "legal"])
    head = Principal(sub="gub", org=region, roles=["signatory"])
    rector = Principal(sub="rek", org=campus, roles=["signatory"])
    for org in orgs:
        everyone = ["staff", "partner", "approver", "signatory"]
        await add_contact(sessionmaker, org, f"staf@{org}.go.id", everyone, gates=["review", "legal"])
        await add_endpoint(sessionmaker, receiver, org, f"/{org}")
    config = fast(settings, sink).model_copy(update={"temporal_task_queue": task_queue})
    dispatcher = OutboxDispatcher(config, sessionmaker)
    client = temporal_env.client
    async with (
        Worker(
            client,
            task_queue=task_queue,
            workflows=WORKFLOWS,
            workflow_runner=workflow_runner(),
            activities=activities(config, sessionmaker, dispatcher=dispatcher),
        ),
        dispatcher.running(),
    ):
        async with session_scope(sessionmaker) as session:
            created, _ = await commands.start_agreement(
                client, session, task_queue=task_queue, principal=staff, idempotency_key=None, proposal=ksdpk(*orgs)
            )
        steps: list[tuple[Principal, m.Command]] = [
            (staff, m.Submit()),
            (review, m.Decide(gate="review", outcome="approve")),
            (staff, m.SubmitDraft(document="1" * 64)),
            (partner, m.AcceptDraft(version=1)),
            (review, m.Decide(gate="review", outcome="approve")),
            (head, m.Sign(version=1, method="electronic")),
            (rector, m.Sign(version=1, method="electronic")),
            (partner, m.SubmitDraft(document="2" * 64)),
            (staff, m.AcceptDraft(version=2)),
            (review, m.Decide(gate="legal", outcome="approve")),
            (head, m.Sign(version=2, method="electronic")),
            (rector, m.Sign(version=2, method="electronic")),
        ]
        for principal, command in steps:
            await commands.send_command(
                client,
                agreement_id=created.id,
                command=command,
                principal=principal,
                expected_version=None,
                idempotency_key=None,
            )
        handle = client.get_workflow_handle(workflow_id(created.id))
        history = await handle.fetch_history()
        description = await handle.describe()

    # Nothing went to a child workflow; the operator finds it by its search attributes.
    types = [event.event_type for event in history.events]
    assert EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED not in types
    attributes = description.typed_search_attributes
    assert attributes.get(search.STAGE) == "implementation" and attributes.get(search.KIND) == "ksdpk"
    assert sorted(attributes.get(search.ORGS) or []) == sorted(orgs)

    transitions = len(steps) + 1  # the creation is one too
    size = sum(event.ByteSize() for event in history.events)  # as Temporal stores it
    print(
        f"history: {len(history.events)} events, {size} bytes "
        f"({len(json.dumps(history.to_json_dict()))} as JSON) for {transitions} transitions"
    )
    assert len(history.events) <= EVENTS_PER_COMMAND * transitions, types
    assert size <= BYTES_PER_COMMAND * transitions
    if os.environ.get("PAKTA_CAPTURE_HISTORY"):  # refresh the saved history on purpose only
        (HISTORIES / "ksdpk_outbox_to_implementation.json").write_text(history.to_json())
