"""An action's answer without reading the agreement back (docs/performance-log.md): the API
decides the command on the row it read, as the workflow will, and when the workflow's
receipt says it decided on that same state — the same audit-trail hash — the answer is the
state the API foresaw. Anything else is answered from the read model, as before."""

from __future__ import annotations

from typing import Any

import pytest

from services.api import commands
from services.api.app import create_app
from services.auth import Principal
from services.store import queries
from services.temporal_client import connect_temporal
from tests.api.stack import Stack, recorded
from tests.fixtures.api import app_client
from workflows import messages as m

pytestmark = pytest.mark.asyncio(loop_scope="session")


def waste_body(title: str) -> dict[str, Any]:
    return {
        "title": title,
        "kind": "ksdd",
        "objectives": "TPPAS regional bersama.",
        "sector": "environment",
        "parties": [
            {"org": "kota-bandung", "role": "initiator", "sector": "government", "signatory": "Wali Kota Bandung"},
            {"org": "kab-sumedang", "role": "counterparty", "sector": "government", "signatory": "Bupati Sumedang"},
        ],
        "start_date": "2027-02-01",
        "duration_months": 60,
    }


async def test_a_creation_and_an_accepted_action_answer_with_the_state_recorded_reading_the_agreement_at_most_once(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
):
    staff = stack.user("kota-bandung", "staff")
    app = create_app(stack.settings)
    reads: list[str] = []
    read_the_row = queries.get_agreement

    async def counted(session: Any, *, agreement_id: str) -> queries.AgreementRecord | None:
        # The row is read on the driver's own connection (no SQLAlchemy event sees it): count
        # the reads where every part of the API asks for it.
        reads.append(agreement_id)
        return await read_the_row(session, agreement_id=agreement_id)

    async with app_client(app) as client:
        monkeypatch.setattr(queries, "get_agreement", counted)
        created = await client.post("/agreements", json=waste_body("Sampah: dibaca sekali"), headers=stack.auth(staff))
        assert created.status_code == 201, created.text
        agreement_id = created.json()["id"]
        assert reads == []  # the state this call started the workflow with is the one recorded
        shown = await client.get(f"/agreements/{agreement_id}", headers=stack.auth(staff))
        assert recorded(created.json()) == recorded(shown.json())
        reads.clear()
        acted = await client.post(
            f"/agreements/{agreement_id}/actions", json={"type": "submit"}, headers=stack.auth(staff)
        )
        assert acted.status_code == 200 and acted.headers["ETag"] == '"2"', acted.text
        assert reads == [agreement_id]  # the row the command was decided on; none after the Update
        shown = await client.get(f"/agreements/{agreement_id}", headers=stack.auth(staff))
        assert recorded(acted.json()) == recorded(shown.json())


async def test_a_receipt_that_follows_another_state_than_the_one_foreseen_is_answered_from_the_read_model(
    stack: Stack,
):
    staff = stack.user("kota-bandung", "staff")
    principal = Principal(sub=staff.sub, org=staff.org, roles=list(staff.roles))
    created = await stack.create(staff, waste_body("Sampah: jejak lain"))
    temporal = await connect_temporal(stack.settings)
    async with stack.sessionmaker() as session:
        row = await queries.get_agreement(session, agreement_id=created["id"])
        assert row is not None
        actor, now = commands.actor_of(principal), commands.decision_time(row.state)
        foreseen = commands.foresee(row, m.Submit(), actor, now, None)
        receipt = await commands.send_command(
            temporal,
            agreement_id=row.id,
            command=m.Submit(),
            principal=principal,
            expected_version=None,
            idempotency_key=None,
            at=now,
        )
        assert receipt.follows == row.head_hash[: len(receipt.follows or "")] and receipt.follows
        assert (receipt.version, receipt.seq) == (foreseen.state.version, foreseen.state.seq)
        # The same version and seq, but the state foreseen on a trail that is not the
        # workflow's (as when the read model held rows a lost workflow task wrote).
        elsewhere = commands.Foreseen(
            follows="f" * 64, state=foreseen.state.model_copy(update={"title": "Tidak pernah tercatat"})
        )
        answered = await commands.snapshot_after(temporal, session, receipt, principal, elsewhere)
        assert answered.title == "Sampah: jejak lain" and answered.version == 2
        foreseen_answer = await commands.snapshot_after(temporal, session, receipt, principal, foreseen)
    shown = await stack.snapshot(staff, row.id)
    assert recorded(answered.model_dump(mode="json")) == recorded(shown)
    assert recorded(foreseen_answer.model_dump(mode="json")) == recorded(shown)
