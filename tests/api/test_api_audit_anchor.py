"""The audit trail anchored outside the database: `/events/verify` compares the chain and
the read model with the agreement's workflow (Temporal's history). An insider who edits an
event and recomputes every hash, or adds an organisation to a row, is found out — and the
edited row grants nobody anything."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from sqlalchemy import text

from services.store.audit import chain_hash, iso_utc
from services.store.db import session_scope
from tests.api.stack import Stack

pytestmark = pytest.mark.asyncio(loop_scope="session")


def ksdd(lead: str, other: str) -> dict[str, Any]:
    return {
        "title": "Pengelolaan sampah regional",
        "kind": "ksdd",
        "objectives": "TPPAS regional bersama.",
        "sector": "environment",
        "parties": [
            {"org": lead, "role": "initiator", "sector": "government", "signatory": "Wali Kota"},
            {"org": other, "role": "counterparty", "sector": "government", "signatory": "Bupati"},
        ],
        "start_date": "2027-02-01",
        "duration_months": 60,
    }


async def agreement_with_history(stack: Stack, lead: str, other: str) -> str:
    staff = stack.user(lead, "staff")
    aid = (await stack.create(staff, ksdd(lead, other)))["id"]
    await stack.act(staff, aid, {"type": "comment", "text": "Usulan awal."})
    await stack.act(staff, aid, {"type": "submit"})
    await stack.act(staff, aid, {"type": "comment", "text": "Mohon ditinjau."})
    return aid


async def verify(stack: Stack, aid: str) -> dict[str, Any]:
    resp = await stack.get(stack.user("bpk", "auditor"), f"/agreements/{aid}/events/verify")
    assert resp.status_code == 200, resp.text
    return resp.json()


async def test_an_untouched_trail_agrees_with_its_workflow(stack: Stack, orgs):
    aid = await agreement_with_history(stack, *orgs)
    check = await verify(stack, aid)
    assert check["valid"] and check["anchored"] and check["disagreements"] == [] and check["broken_at"] is None


async def test_an_edited_event_with_every_hash_recomputed_is_found_by_the_workflow(stack: Stack, orgs):
    aid = await agreement_with_history(stack, *orgs)
    async with session_scope(stack.sessionmaker) as session:
        # An insider with the database: past the append-only trigger, rewrite seq 2's text
        # and every later hash, and the row's head, so the chain recomputes cleanly.
        await session.execute(text("SET LOCAL session_replication_role = replica"))
        rows = (
            (
                await session.execute(
                    text("SELECT * FROM agreement_events WHERE agreement_id = :id ORDER BY seq"), {"id": aid}
                )
            )
            .mappings()
            .all()
        )
        prev = None
        for row in rows:
            data = dict(row["data"])
            if row["seq"] == 2:
                data["text"] = "Disetujui tanpa syarat."
            prev = prev or row["prev_hash"]
            body = {
                "id": row["id"],
                "agreement_id": aid,
                "seq": row["seq"],
                "version": row["version"],
                "type": row["type"],
                "at": iso_utc(row["at"]),
                "actor": row["actor"],
                "data": data,
            }
            digest = chain_hash(prev, body)
            await session.execute(
                text(
                    "UPDATE agreement_events SET data = CAST(:data AS jsonb), prev_hash = :prev, hash = :hash "
                    "WHERE id = :id"
                ),
                {"data": json.dumps(data), "prev": prev, "hash": digest, "id": row["id"]},
            )
            prev = digest
        await session.execute(text("UPDATE agreements SET head_hash = :h WHERE id = :id"), {"h": prev, "id": aid})
    check = await verify(stack, aid)
    assert not check["valid"] and check["anchored"]
    assert check["broken_at"] == 2  # the comment's own batch
    assert check["disagreements"][0]["field"] == "hash@2"


async def test_an_organisation_added_to_the_row_is_reported_and_sees_nothing(stack: Stack, orgs):
    lead, other = orgs
    aid = await agreement_with_history(stack, lead, other)
    intruder = f"kota-{uuid.uuid4().hex[:8]}"
    async with session_scope(stack.sessionmaker) as session:
        await session.execute(
            text("UPDATE agreements SET orgs = array_append(orgs, :org) WHERE id = :id"), {"org": intruder, "id": aid}
        )
    check = await verify(stack, aid)
    assert not check["valid"]
    [found] = [d for d in check["disagreements"] if d["field"] == "orgs"]
    assert intruder in found["read_model"] and intruder not in found["workflow"]
    snooper = stack.user(intruder, "staff")
    assert (await stack.get(snooper, f"/agreements/{aid}")).status_code == 404
    assert (await stack.get(snooper, f"/agreements/{aid}/events")).status_code == 404
    listed = (await stack.get(snooper, "/agreements")).json()["items"]
    assert aid not in [a["id"] for a in listed]


async def test_paging_the_trail_past_the_column_is_a_422(stack: Stack, orgs):
    aid = await agreement_with_history(stack, *orgs)
    resp = await stack.get(stack.user(orgs[0], "staff"), f"/agreements/{aid}/events?after_seq={2**40}")
    assert resp.status_code == 422 and resp.json()["error"]["code"] == "validation_error"
