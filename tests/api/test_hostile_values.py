"""Values Pakta cannot store or round-trip are refused at the edge with a 422 that names the
field, before anything is recorded; the agreement they were aimed at keeps taking commands.

Before this, a NUL in a comment froze the agreement for good: PostgreSQL refused the value,
the recording was retried forever and the workflow's lock was never released."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import TypeAdapter

from services.api import commands, idempotency, imports, proposals
from services.auth import Principal
from services.store import idempotency as kept
from services.store import organisations
from services.store.db import session_scope
from services.temporal_client import connect_temporal
from tests.api.stack import Stack
from tests.api.test_api_import import record
from workflows import messages as m

pytestmark = pytest.mark.asyncio(loop_scope="session")


def proposal(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "Kerja sama air bersih Cirebon – Kuningan",
        "kind": "ksdd",
        "objectives": "Air baku bersama.",
        "sector": "water",
        "parties": [
            {"org": "kota-cirebon", "role": "initiator", "sector": "government", "signatory": "Wali Kota Cirebon"},
            {"org": "kab-kuningan", "role": "counterparty", "sector": "government", "signatory": "Bupati Kuningan"},
        ],
        "start_date": "2027-03-01",
        "duration_months": 24,
        "indicators": [{"name": "Debit air", "target": 100, "unit": "l/s"}],
    }
    body.update(overrides)
    return body


async def post_raw(stack: Stack, user: Any, path: str, raw: str) -> Any:
    """Send JSON text as written (NaN, lone surrogates), not as httpx would encode it."""
    return await stack.http.post(
        path,
        content=raw.encode("utf-8", "surrogatepass"),
        headers={**stack.auth(user), "Content-Type": "application/json"},
    )


def assert_refused_naming(resp: Any, field: str) -> dict[str, Any]:
    assert resp.status_code == 422, resp.text
    assert len(resp.content) < 10_000
    error = resp.json()["error"]
    assert error["code"] == "validation_error"
    assert any(field in [str(p) for p in e["loc"]] for e in error["errors"]), error
    return error


@pytest.mark.parametrize(
    "field, value",
    [
        ("title", "Kerja sama\u0000 air"),
        ("objectives", "Air\u0007 baku"),
        ("value", 10**30),
        ("value", 2**63),
        ("start_date", "9990-01-01"),
        ("start_date", "0001-01-01"),
    ],
)
async def test_a_proposal_with_an_unstorable_value_is_refused_naming_the_field(stack: Stack, field: str, value: Any):
    staff = stack.user("kota-cirebon", "staff")
    resp = await stack.post(staff, "/agreements", proposal(**{field: value}))
    assert_refused_naming(resp, field)


@pytest.mark.parametrize("zone", ["Mars/Olympus", "Asia/" + "x" * 300, "../../etc/passwd"])
async def test_a_party_zone_the_zone_data_does_not_know_is_a_422_naming_it(stack: Stack, zone: str):
    # A party's zone is checked against the zone data where a party writes it, no longer by
    # FastAPI's validation (a recorded one a later tzdata dropped must still be read): the
    # same 422 in the one error shape, naming the party's field.
    staff = stack.user("kota-cirebon", "staff")
    body = proposal()
    body["parties"][1]["time_zone"] = zone
    error = assert_refused_naming(await stack.post(staff, "/agreements", body), "time_zone")
    assert [e["loc"] for e in error["errors"]] == [["body", "parties", 1, "time_zone"]]
    assert "unknown time zone" in error["errors"][0]["msg"]


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity"])
async def test_a_non_finite_indicator_target_is_refused(stack: Stack, number: str):
    staff = stack.user("kota-cirebon", "staff")
    raw = json.dumps(proposal()).replace('"target": 100', f'"target": {number}')
    assert number in raw
    assert_refused_naming(await post_raw(stack, staff, "/agreements", raw), "target")


async def test_a_lone_surrogate_is_refused_and_the_error_can_be_written(stack: Stack):
    staff = stack.user("kota-cirebon", "staff")
    raw = json.dumps(proposal()).replace("Air baku bersama.", "Air \\ud800 baku")
    assert_refused_naming(await post_raw(stack, staff, "/agreements", raw), "objectives")


async def test_a_huge_bad_field_is_not_echoed_back_whole(stack: Stack):
    staff = stack.user("kota-cirebon", "staff")
    resp = await stack.post(staff, "/agreements", proposal(title="x" * 1_000_000))
    error = assert_refused_naming(resp, "title")
    assert all(len(str(e.get("input", ""))) <= 100 for e in error["errors"])


@pytest.mark.parametrize(
    "command",
    [
        {"type": "comment", "text": "halo\u0000dunia"},
        {"type": "comment", "text": "bel\u001b[31m merah"},
        {"type": "withdraw", "reason": "\u0000"},
    ],
)
async def test_a_command_with_an_unstorable_text_is_refused_and_the_agreement_still_takes_commands(
    stack: Stack, command: dict[str, Any]
):
    staff = stack.user("kota-cirebon", "staff")
    created = await stack.create(staff, proposal(title=f"Air bersih {command['type']} {len(str(command))}"))
    body = await stack.expect_refused(staff, created["id"], command, 422)
    assert body["error"]["code"] == "validation_error"
    # The lock is free and the agreement answers the next command at once.
    after = await stack.act(staff, created["id"], {"type": "comment", "text": "baris baru\n\tdan tab diterima"})
    assert after["comments"][-1]["text"] == "baris baru\n\tdan tab diterima"


async def test_a_non_finite_achievement_is_refused(stack: Stack):
    staff = stack.user("kota-cirebon", "staff")
    created = await stack.create(staff, proposal(title="Air bersih laporan NaN"))
    raw = json.dumps(
        {
            "type": "submit_evaluation_report",
            "evaluation": 1,
            "narrative": "x",
            "results": [{"indicator": "Debit air", "achieved": 1}],
        }
    ).replace('"achieved": 1', '"achieved": NaN')
    resp = await post_raw(stack, staff, f"/agreements/{created['id']}/actions", raw)
    assert_refused_naming(resp, "achieved")


async def test_a_body_over_the_limit_is_refused_with_413_before_it_is_parsed(stack: Stack):
    staff = stack.user("kota-cirebon", "staff")
    huge = json.dumps(proposal(objectives="x" * (stack.settings.request_max_bytes + 10)))
    resp = await post_raw(stack, staff, "/agreements", huge)
    assert resp.status_code == 413, resp.text
    assert resp.json()["error"]["code"] == "payload_too_large" and len(resp.content) < 1000


async def test_a_streamed_body_over_the_limit_is_refused_with_413(stack: Stack):
    staff = stack.user("kota-cirebon", "staff")
    limit = stack.settings.request_max_bytes

    async def chunks():
        for _ in range(limit // 65536 + 2):
            yield b" " * 65536

    resp = await stack.http.post(
        "/agreements", content=chunks(), headers={**stack.auth(staff), "Content-Type": "application/json"}
    )
    assert resp.status_code == 413, resp.text
    assert resp.json()["error"]["code"] == "payload_too_large"


@pytest.mark.parametrize(
    "path",
    [
        "/agreements/%00",
        "/documents/%00",
        "/agreements?q=%00",
        "/agreements?org=a%00b",
        "/agreements?cursor=%01",
        "/agreements?q=%ff%fe",
    ],
)
async def test_a_control_character_or_broken_utf8_in_the_url_gets_400_in_the_error_shape(stack: Stack, path: str):
    resp = await stack.get(stack.user("kota-cirebon", "staff"), path)
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["code"] == "invalid_request"


@pytest.mark.parametrize(
    ("path", "raw", "field"),
    [
        ("/contacts", '{"name": "Siti\\u0000", "email": "siti@kota-bogor.go.id", "roles": ["staff"]}', "name"),
        ("/contacts", '{"name": "Siti \\ud800", "email": "siti@kota-bogor.go.id", "roles": ["staff"]}', "name"),
        ("/contacts", '{"name": "S\\r\\nBcc: x@e.id", "email": "siti@kota-bogor.go.id", "roles": ["staff"]}', "name"),
        ("/contacts", '{"name": "Siti\\nAminah", "email": "siti@kota-bogor.go.id", "roles": ["staff"]}', "name"),
        ("/contacts", '{"name": "Siti\\u2028Aminah", "email": "siti@kota-bogor.go.id", "roles": ["staff"]}', "name"),
        ("/contacts", '{"name": "Siti", "email": "\\u00f1o\\u00f1o@kota-bogor.go.id", "roles": ["staff"]}', "email"),
        ("/contacts", '{"name": "Siti", "email": "\\"siti\\u0001\\"@kota-bogor.go.id", "roles": ["staff"]}', "email"),
        ("/contacts", '{"name": "Siti", "email": "siti\\u007f@kota-bogor.go.id", "roles": ["staff"]}', "email"),
        ("/contacts", '{"name": "Siti", "email": "(c)siti@kota-bogor.go.id", "roles": ["staff"]}', "email"),
        ("/contacts", '{"name": "Siti", "email": "\\"siti\\"@kota-bogor.go.id", "roles": ["staff"]}', "email"),
        ("/contacts", '{"name": "Siti", "email": "siti>x@kota-bogor.go.id", "roles": ["staff"]}', "email"),
        ("/contacts", '{"name": "Siti", "email": "siti,x@kota-bogor.go.id", "roles": ["staff"]}', "email"),
        ("/contacts", '{"name": "Siti", "email": "siti@kota-bogor..go.id", "roles": ["staff"]}', "email"),
        ("/webhooks", '{"url": "https://hooks.example.test/\\u0000"}', "url"),
        ("/webhooks", '{"url": "https://hooks.example.test/\\ud800"}', "url"),
        ("/webhooks", '{"url": "https://hooks.example.test/a\\r\\nX-Injected: 1"}', "url"),
    ],
)
async def test_a_nul_lone_surrogate_line_break_or_unmailable_address_in_a_contact_or_webhook_is_a_422_naming_the_field(
    stack: Stack, path: str, raw: str, field: str
):
    resp = await post_raw(stack, stack.user("kota-bogor", "staff"), path, raw)
    assert resp.status_code == 422, resp.text
    error = resp.json()["error"]
    assert error.get("field") == field or error["errors"][0]["loc"][-1] == field


@pytest.mark.parametrize(
    "path",
    [
        "/agreements/x/events?after_seq=1099511627776",
        "/agreements/x/drafts/diff?from=1&to=1180591620717411303424",
        "/webhooks/x/deliveries?before=1180591620717411303424",
        "/notifications?limit=1180591620717411303424",
    ],
)
async def test_integers_beyond_their_column_are_a_422(stack: Stack, path: str):
    resp = await stack.get(stack.user("kota-bogor", "staff"), path)
    assert resp.status_code == 422, resp.text
    assert resp.json()["error"]["code"] == "validation_error"


@pytest.mark.parametrize("hidden", ["org:a\x00b", "org:\ud800", "org:" + "z" * 300])
async def test_a_register_cursor_that_decodes_to_an_unstorable_text_is_a_422(stack: Stack, hidden: str):
    # The cursor is base64: a NUL inside it passes the URL's check and reached PostgreSQL (a 500).
    cursor = base64.urlsafe_b64encode(hidden.encode("utf-8", "surrogatepass")).decode().rstrip("=")
    resp = await stack.get(stack.user("kota-bogor", "staff"), f"/organisations?cursor={cursor}")
    assert resp.status_code == 422, resp.text
    assert resp.json()["error"]["code"] == "invalid_cursor"


@pytest.mark.parametrize("last_id", ["a\\u0000b", "\\ud800", "z" * 300])
async def test_an_agreements_cursor_that_decodes_to_an_unstorable_id_is_a_422(stack: Stack, last_id: str):
    # The list reads on the driver's connection with the cursor's values as its parameters:
    # a NUL or a lone surrogate there was refused by the driver (a 500).
    hidden = f'["2026-01-01T00:00:00+00:00", "{last_id}"]'
    cursor = base64.urlsafe_b64encode(hidden.encode()).decode().rstrip("=")
    resp = await stack.get(stack.user("kota-bogor", "staff"), f"/agreements?cursor={cursor}")
    assert resp.status_code == 422, resp.text
    assert resp.json()["error"]["code"] == "invalid_cursor"


async def test_an_agreements_cursor_at_the_end_of_time_lists_from_there(stack: Stack):
    hidden = '["9999-12-31T23:59:59+00:00", "x"]'
    cursor = base64.urlsafe_b64encode(hidden.encode()).decode().rstrip("=")
    resp = await stack.get(stack.user("kota-bogor", "staff"), f"/agreements?cursor={cursor}")
    assert resp.status_code == 200, resp.text


# ---------------------------------------------------------------- the implementation commands (#13)

_PLAN_ACTIVITY = {
    "id": "A1",
    "name": "Survei jalur",
    "responsible": "Kepala Dinas",
    "starts_on": "2026-01-01",
    "ends_on": "2027-12-31",
    "milestones": ["Survei"],
}


async def in_force_with_a_plan(stack: Stack) -> tuple[str, Any, Any]:
    """An agreement signed on paper and imported, carrying one activity of each party; its
    id, its initiator's staff and the other party's staff."""
    org = f"hv-{uuid.uuid4().hex[:8]}"
    admin = stack.user(org, "admin")
    scan = await stack.upload(admin, f"PKS {org}\n", media_type="text/plain")
    activities = [{**_PLAN_ACTIVITY, "party": org}, {**_PLAN_ACTIVITY, "id": "M1-1", "party": f"{org}-mitra"}]
    body = record("PKS/HV", initiator=org, start="2026-01-01", months=36, signed_on="2025-12-20", document=scan)
    body["proposal"]["activities"] = activities
    body["proposal"]["indicators"] = [{"name": "Trayek", "target": 4, "unit": "trayek"}]
    imported = await stack.post(admin, "/agreements/import", [body])
    assert imported.status_code == 200, imported.text
    return imported.json()["imported"][0]["id"], stack.user(org, "staff"), stack.user(f"{org}-mitra", "staff")


@pytest.mark.parametrize(
    ("command", "field"),
    [
        ({"type": "schedule_meeting", "title": "Rapat", "at": "1945-08-16T23:00:00+07:00"}, "at"),
        ({"type": "schedule_meeting", "title": "Rapat", "at": "2101-01-01T09:00:00+07:00"}, "at"),
        ({"type": "schedule_meeting", "title": "Rapat", "at": "2028-01-01T09:00:00"}, "at"),
        ({"type": "schedule_meeting", "title": "Rapat\u0000", "at": "2028-01-01T09:00:00+07:00"}, "title"),
        ({"type": "record_measurement", "indicator": "Trayek", "value": 2**1100, "source": "BPS"}, "value"),
        ({"type": "record_measurement", "indicator": "Trayek", "value": 1, "source": "BPS\u001b[2J"}, "source"),
        ({"type": "report_progress", "activity": "A1", "percent": 101}, "percent"),
        ({"type": "report_progress", "activity": "A1:x@y", "percent": 10}, "activity"),
        ({"type": "report_progress", "activity": "A1", "percent": 10, "evidence": ["a" * 64] * 21}, "evidence"),
        ({"type": "complete_action_item", "item": "M1-1\u0000"}, "item"),
        ({"type": "accept_plan_revision", "revision": 2**63}, "revision"),
    ],
)
async def test_a_hostile_value_in_an_implementation_command_is_a_422_and_the_agreement_still_takes_commands(
    stack: Stack, command: dict[str, Any], field: str
):
    agreement_id, staff, _ = await in_force_with_a_plan(stack)
    if command["type"] == "schedule_meeting":
        command = {**command, "participants": [staff.org], "agenda": ["Jadwal"]}
    if command["type"] == "record_measurement":
        command = {**command, "measured_on": "2026-06-01"}
    resp = await post_raw(stack, staff, f"/agreements/{agreement_id}/actions", json.dumps(command))
    assert_refused_naming(resp, field)
    after = await stack.act(staff, agreement_id, {"type": "report_progress", "activity": "A1", "percent": 5})
    assert after["activities"][0]["progress"][-1]["percent"] == 5


async def test_a_party_cannot_report_on_the_other_partys_activity_nor_attach_its_documents(stack: Stack):
    agreement_id, staff, other = await in_force_with_a_plan(stack)
    # M1-1 is an activity of the other party, whatever its id looks like (an action item's).
    await stack.expect_refused(staff, agreement_id, {"type": "report_progress", "activity": "M1-1", "percent": 9}, 403)
    await stack.expect_refused(staff, agreement_id, {"type": "complete_action_item", "item": "M1-1"}, 422)
    theirs = await stack.upload(other, "Bukti milik mitra\n", media_type="text/plain")
    refused = await stack.expect_refused(
        staff, agreement_id, {"type": "report_progress", "activity": "A1", "percent": 9, "evidence": [theirs]}, 422
    )
    assert refused["error"]["code"] == "unknown_document" and refused["error"]["field"] == "evidence.0"
    snap = await stack.act(other, agreement_id, {"type": "report_progress", "activity": "M1-1", "percent": 9})
    assert [len(a["progress"]) for a in snap["activities"]] == [0, 1]


async def test_plan_edits_that_would_make_the_agreement_too_large_to_record_are_a_422_and_it_keeps_taking_commands(
    stack: Stack,
):
    # Each edit is under the request limit (1 MiB); together they would make the agreement's
    # state too large for Temporal to carry across continue-as-new (docs/implementation.md).
    staff = stack.user("kota-cirebon", "staff")
    created = await stack.create(staff, proposal(title="Air bersih: rencana aksi yang panjang"))
    description = "Penyediaan data debit dan tenaga ahli. " * 55
    obligations = [
        {"id": f"O{i}", "party": "kota-cirebon", "kind": "data", "description": description, "due_on": "2027-06-30"}
        for i in range(200)
    ]
    deliverables = [f"Laporan {n} " + "x" * 280 for n in range(20)]
    activities = [
        {
            **_PLAN_ACTIVITY,
            "id": f"A{i}",
            "party": "kab-kuningan",
            "starts_on": "2027-03-01",
            "deliverables": deliverables,
        }
        for i in range(60)
    ]
    assert len(json.dumps({"command": {"type": "edit", "activities": activities}})) < 1_048_576
    first = await stack.act(staff, created["id"], {"type": "edit", "obligations": obligations})
    assert len(first["obligations"]) == 200
    body = await stack.expect_refused(staff, created["id"], {"type": "edit", "activities": activities}, 422)
    error = body["error"]
    assert error["code"] == "agreement_too_large" and error["limit"] == 512 * 1024 < error["size"]
    assert [part["field"] for part in error["largest"]][:2] == ["obligations", "activities"]
    assert "uploaded document" in error["message"]
    after = await stack.act(staff, created["id"], {"type": "edit", "activities": activities[:5]})
    assert len(after["activities"]) == 5


# ---------------------------------------------------------------- If-Match


@pytest.mark.parametrize("idempotency_key", [None, "kunci-if-match"])
@pytest.mark.parametrize("if_match", ["\u00b2".encode("latin-1"), b'"' + b"9" * 5000 + b'"', b"\xb2\xb3"])
async def test_an_if_match_that_only_looks_like_digits_is_a_422_and_the_agreement_still_takes_commands(
    stack: Stack, if_match: bytes, idempotency_key: str | None
):
    # `str.isdigit` is true of "²" and of 5,000 digits, which `int` refuses: both were a 500.
    staff = stack.user("kota-cirebon", "staff")
    created = await stack.create(staff, proposal(title=f"Air bersih If-Match {uuid.uuid4().hex[:6]}"))
    headers: list[tuple[str, str | bytes]] = [*stack.auth(staff).items(), ("If-Match", if_match)]
    if idempotency_key is not None:
        headers.append(("Idempotency-Key", f"{idempotency_key}-{created['id']}"))
    resp = await stack.http.post(
        f"/agreements/{created['id']}/actions", json={"type": "comment", "text": "versi?"}, headers=headers
    )
    assert resp.status_code == 422, resp.text
    assert resp.json()["error"]["code"] == "invalid_if_match" and len(resp.content) < 1000
    after = await stack.act(staff, created["id"], {"type": "comment", "text": "versi 1"})
    assert after["version"] == 2


@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", "/agreements/{id}"),
        ("GET", "/agreements/{id}/events"),
        ("POST", "/agreements/{id}/actions"),
        ("GET", "/organisations/{id}"),
        ("GET", "/webhooks/{id}"),
        ("DELETE", "/contacts/{id}"),
        ("POST", "/notifications/{id}/read"),
    ],
)
async def test_a_404_names_what_was_asked_for_cut_to_a_readable_length(stack: Stack, method: str, path: str):
    # An id of 10,000 characters came back whole in the 404's details.
    staff = stack.user("kota-cirebon", "staff")
    asked = "a" * 10_000
    body = {"type": "comment", "text": "ada?"} if path.endswith("/actions") else None
    resp = await stack.http.request(method, path.format(id=asked), json=body, headers=stack.auth(staff))
    assert resp.status_code == 404, resp.text[:300]
    error = resp.json()["error"]
    assert error["code"] == "not_found" and len(resp.content) < 1000
    named = [v for v in error.values() if isinstance(v, str) and v.startswith("aaaa")]
    assert named == ["a" * 200 + "…"], error


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"])
async def test_an_agreements_cursor_whose_moment_in_utc_is_before_year_one_or_after_9999_is_a_422(
    stack: Stack, moment: str
):
    # Python reads the moment, but not in UTC, where the driver takes it: that was a 500.
    hidden = f'["{moment}", "x"]'
    cursor = base64.urlsafe_b64encode(hidden.encode()).decode().rstrip("=")
    resp = await stack.get(stack.user("kota-bogor", "staff"), f"/agreements?cursor={cursor}")
    assert resp.status_code == 422, resp.text
    assert resp.json()["error"]["code"] == "invalid_cursor"


# ---------------------------------------------------------------- depth, and values that cannot be written back


def nested(kind: str, depth: int) -> str:
    """JSON text of arrays or of objects nested `depth` deep."""
    return "[" * depth + "]" * depth if kind == "arrays" else '{"a":' * depth + "1" + "}" * depth


@pytest.mark.parametrize("depth", [5_000, 100_000])
@pytest.mark.parametrize("kind", ["arrays", "objects"])
async def test_an_import_nested_too_deep_to_read_is_a_422_saying_so(stack: Stack, kind: str, depth: int):
    # The import reads its body itself: the reader's RecursionError was a 500.
    admin = stack.user("kota-bogor", "admin")
    resp = await post_raw(stack, admin, "/agreements/import", nested(kind, depth))
    assert resp.status_code == 422, resp.text[:300]
    error = resp.json()["error"]
    assert error["code"] == "invalid_import" and "too deeply" in error["message"]


@pytest.mark.parametrize(
    "ref", ["1e999", "-1e999", "NaN", "1" * 400 + ".5", '"\\ud800"', json.dumps("x" * 100_000), nested("arrays", 900)]
)
async def test_an_import_row_whose_ref_cannot_be_written_back_is_a_422_naming_the_row_by_an_excerpt(
    stack: Stack, ref: str
):
    # The bad row's problem named it by its ref as sent: NaN, infinity, a lone surrogate or
    # a list hundreds deep could not be written in the 422 (a 500), a long text came back whole.
    admin = stack.user("kota-bogor", "admin")
    row = record("PKS/REF", initiator="kota-bogor", start="2026-01-01", months=12, signed_on="2025-12-01", document="0")
    raw = json.dumps([row]).replace('"PKS/REF"', ref)
    resp = await post_raw(stack, admin, "/agreements/import", raw)
    assert resp.status_code == 422, resp.text[:300]
    assert len(resp.content) < 10_000
    error = resp.json()["error"]
    assert error["code"] == "invalid_import"
    if "rows" in error:
        [problem] = error["rows"]
        assert problem["row"] == 1 and any(e["loc"] == ["ref"] for e in problem["errors"])
        assert len(str(problem["ref"])) <= 100


async def test_an_idempotency_key_holding_a_control_character_is_a_422_and_the_agreement_still_takes_commands(
    stack: Stack,
):
    # The server's parser refuses such a header; another server, or a proxy speaking HTTP/2,
    # may not, and the key went to PostgreSQL as it came: a NUL was a 500.
    staff = stack.user("kota-cirebon", "staff")
    created = await stack.create(staff, proposal(title=f"Air bersih kunci {uuid.uuid4().hex[:6]}"))
    headers: list[tuple[str, str | bytes]] = [*stack.auth(staff).items(), ("Idempotency-Key", b"kunci\x00nul")]
    resp = await stack.http.post(
        f"/agreements/{created['id']}/actions", json={"type": "comment", "text": "kunci?"}, headers=headers
    )
    assert resp.status_code == 422, resp.text
    assert resp.json()["error"]["code"] == "invalid_idempotency_key"
    after = await stack.act(staff, created["id"], {"type": "comment", "text": "kunci biasa"})
    assert after["version"] == 2


async def test_a_csv_sheet_with_huge_unknown_columns_is_refused_without_echoing_them_whole(stack: Stack):
    # Each column name is under the CSV reader's field limit, and all of them came back in
    # the refusal: megabytes of a 422.
    admin = stack.user("kota-bogor", "admin")
    header = ",".join(imports.CSV_COLUMNS) + "," + ",".join(f"{n}{'x' * 100_000}" for n in range(40))
    resp = await stack.http.post(
        "/agreements/import", content=f"{header}\n".encode(), headers={**stack.auth(admin), "Content-Type": "text/csv"}
    )
    assert resp.status_code == 422, resp.text[:300]
    assert resp.json()["error"]["code"] == "invalid_import" and len(resp.content) < 10_000


@pytest.mark.parametrize("path", ["/agreements", "/agreements/x/actions", "/contacts", "/webhooks"])
@pytest.mark.parametrize(
    ("raw", "says"),
    [(nested("arrays", 5_000), "too deeply"), (nested("objects", 100_000), "too deeply"), ("9" * 5000, "digits")],
)
async def test_a_json_body_too_deep_or_with_too_long_an_integer_is_a_400_saying_why(
    stack: Stack, path: str, raw: str, says: str
):
    # FastAPI said only "There was an error parsing the body", for any reason.
    resp = await post_raw(stack, stack.user("kota-bogor", "admin"), path, raw)
    assert resp.status_code == 400, resp.text[:300]
    error = resp.json()["error"]
    assert error["code"] == "bad_request" and says in error["message"], error


def refused_as_beyond_the_bound(resp: Any, loc: list[Any]) -> None:
    error = assert_refused_naming(resp, str(loc[-1]))
    assert [e["loc"] for e in error["errors"]] == [loc], error
    assert error["errors"][0]["type"] == "figure_out_of_range" and "10^15" in error["errors"][0]["msg"]


@pytest.mark.parametrize("number", ["1e16", "-1e30", "1e308", "-1.7976931348623157e308"])
async def test_a_figure_beyond_ten_to_the_fifteen_is_a_422_naming_the_field_and_the_agreement_still_takes_commands(
    stack: Stack, number: str
):
    # A target, an achievement or a measurement of 10^308 was taken, then shown with every
    # one of its 309 digits; no region's or ministry's figure comes near 10^15.
    staff = stack.user("kota-cirebon", "staff")
    beyond = json.dumps(proposal()).replace('"target": 100', f'"target": {number}')
    refused = await post_raw(stack, staff, "/agreements", beyond)
    refused_as_beyond_the_bound(refused, ["body", "indicators", 0, "target"])
    at_the_bound = json.dumps(proposal()).replace('"target": 100', '"target": 1e15')
    created = await post_raw(stack, staff, "/agreements", at_the_bound)
    assert created.status_code == 201, created.text
    draft = created.json()["id"]
    edit = json.dumps({"type": "edit", "indicators": [{"name": "Debit air", "target": 1, "unit": "l/s"}]})
    edited = await post_raw(
        stack, staff, f"/agreements/{draft}/actions", edit.replace('"target": 1', f'"target": {number}')
    )
    refused_as_beyond_the_bound(edited, ["body", "edit", "indicators", 0, "target"])
    # In force: a measurement (with and without an Idempotency-Key) and an evaluation's achievement.
    agreement_id, partner, _ = await in_force_with_a_plan(stack)
    measurement = {"type": "record_measurement", "indicator": "Trayek", "value": 1, "measured_on": "2026-06-01"}
    raw = json.dumps(measurement | {"source": "BPS"}).replace('"value": 1', f'"value": {number}')
    for headers in ({}, {"Idempotency-Key": f"ukur-{uuid.uuid4()}"}):
        resp = await stack.http.post(
            f"/agreements/{agreement_id}/actions",
            content=raw.encode(),
            headers={**stack.auth(partner), "Content-Type": "application/json", **headers},
        )
        refused_as_beyond_the_bound(resp, ["body", "record_measurement", "value"])
    report = {"type": "submit_evaluation_report", "evaluation": 1, "narrative": "Laporan."}
    raw = json.dumps(report | {"results": [{"indicator": "Trayek", "achieved": 1}]})
    resp = await post_raw(stack, partner, f"/agreements/{agreement_id}/actions", raw.replace(": 1}", f": {number}}}"))
    refused_as_beyond_the_bound(resp, ["body", "submit_evaluation_report", "results", 0, "achieved"])
    taken = await stack.act(partner, agreement_id, measurement | {"value": -1e15, "source": "BPS"})
    assert taken["measurements"][-1]["value"] == -1e15
    # The import: the row is refused, naming the field.
    admin = stack.user(f"hv-{uuid.uuid4().hex[:8]}", "admin")
    scan = await stack.upload(admin, "PKS besar\n", media_type="text/plain")
    row = record("PKS/BESAR", initiator=admin.org, start="2026-01-01", months=36, signed_on="2025-12-20", document=scan)
    row["proposal"]["indicators"] = [{"name": "Trayek", "target": 4, "unit": "trayek"}]
    imported = await post_raw(
        stack, admin, "/agreements/import", json.dumps([row]).replace('"target": 4', f'"target": {number}')
    )
    assert imported.status_code == 422, imported.text
    problem = imported.json()["error"]["rows"][0]
    assert problem["errors"][0]["loc"] == ["proposal", "indicators", 0, "target"], problem


async def test_a_retry_of_a_figure_taken_beyond_the_bound_before_it_gets_its_first_response_again(stack: Stack):
    # A measurement of 10^16 taken before the bound, its response kept under its
    # Idempotency-Key: its retry within the key's retention was a 422, the bound checked
    # before the key's first response was looked up, as if the command had never been taken.
    agreement_id, partner, _ = await in_force_with_a_plan(stack)
    path = f"/agreements/{agreement_id}/actions"
    body = {"type": "record_measurement", "indicator": "Trayek", "value": 1e16, "measured_on": "2026-06-01"}
    body |= {"source": "BPS"}
    command = TypeAdapter(m.Command).validate_python(body)  # as the API parsed it before the bound
    key, first = f"ukur-{uuid.uuid4()}", {"id": agreement_id, "measurements": [{"value": 1e16}]}
    async with session_scope(stack.sessionmaker) as session:
        await kept.remember_response(
            session,
            scope=f"{partner.org}/{partner.sub}",
            key=key,
            fingerprint=idempotency.fingerprint(
                "POST", path, {"command": command.model_dump(mode="json"), "if_match": None}
            ),
            status=200,
            body=first,
            etag=None,
            expired_before=datetime.now(UTC) - timedelta(days=1),
        )
    headers = {**stack.auth(partner), "Idempotency-Key": key}
    retried = await stack.http.post(path, json=body, headers=headers)
    assert retried.status_code == 200, retried.text
    assert retried.json() == first and retried.headers["Idempotent-Replayed"] == "true"
    # A first try under a new key is refused at the edge as before.
    fresh = await stack.http.post(path, json=body, headers={**headers, "Idempotency-Key": f"ukur-{uuid.uuid4()}"})
    refused_as_beyond_the_bound(fresh, ["body", "record_measurement", "value"])


async def test_a_retried_proposal_taken_beyond_the_bound_before_gets_its_agreement_again(stack: Stack):
    # A proposal with a target of 10^16 created under its Idempotency-Key before the bound:
    # its retry was a 422, as if no agreement had been started for it.
    staff = stack.user("kota-cirebon", "staff")
    principal = Principal(sub=staff.sub, org=staff.org, roles=list(staff.roles))
    body = proposal(indicators=[{"name": "Debit air", "target": 1e16, "unit": "l/s"}])
    key = f"usul-{uuid.uuid4()}"
    temporal = await connect_temporal(stack.settings)
    async with session_scope(stack.sessionmaker) as session:  # as POST /agreements took it before
        taken = await organisations.apply_defaults(session, m.Proposal.model_validate(body))
        first, created = await commands.start_agreement(
            temporal,
            session,
            task_queue=stack.settings.temporal_task_queue,
            proposal=proposals.with_platform_terms(taken, stack.settings),
            principal=principal,
            idempotency_key=key,
        )
    assert created
    retried = await stack.post(staff, "/agreements", body, headers={"Idempotency-Key": key})
    assert retried.status_code == 200, retried.text
    assert retried.json()["id"] == first.id and retried.json()["indicators"][0]["target"] == 1e16
    fresh = await stack.post(staff, "/agreements", body, headers={"Idempotency-Key": f"usul-{uuid.uuid4()}"})
    refused_as_beyond_the_bound(fresh, ["body", "indicators", 0, "target"])
