"""Who may read and act on an agreement, as one table: every role × the caller's relation to
the agreement (its initiating organisation, the other party, an organisation with no part in
it) × each endpoint or command, with the exact status expected. A refused request changes
nothing (snapshot and audit trail); an allowed command is tried on an agreement of its own.

The rules behind the table are the decider's (`workflows/lifecycle/access.py`): parties see
their agreements; auditors and the platform's operators see every agreement; an `admin`
administers its own organisation only.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.api import plans
from tests.api.stack import Stack, User, recorded
from tests.meetings import held_soon

pytestmark = pytest.mark.asyncio(loop_scope="session")

ROLES = ("staff", "partner", "signatory", "approver", "scheduler", "auditor", "admin", "operator")
RELATIONS = ("own", "party", "unrelated")
CELLS = list(itertools.product(ROLES, RELATIONS))


def sees(role: str, relation: str) -> bool:
    return relation != "unrelated" or role in ("auditor", "operator")


def orgs() -> dict[str, str]:
    tag = uuid.uuid4().hex[:6]
    return {"own": f"kab-{tag}", "party": f"kota-{tag}", "unrelated": f"prov-{tag}"}


def who(stack: Stack, names: dict[str, str], role: str, relation: str) -> User:
    gates = ("review", "legal", "dprd", "head") if role == "approver" else ()
    return stack.user(names[relation], role, gates=gates)


def proposal(names: dict[str, str]) -> dict[str, Any]:
    return {
        "title": "Kerja sama angkutan perbatasan",
        "kind": "ksdd",
        "objectives": "Trayek angkutan bersama.",
        "sector": "transport",
        "parties": [
            {"org": names["own"], "role": "initiator", "sector": "government", "signatory": "Bupati"},
            {"org": names["party"], "role": "counterparty", "sector": "government", "signatory": "Wali Kota"},
        ],
        "start_date": "2027-01-01",
        "duration_months": 24,
    }


async def submitted(stack: Stack, names: dict[str, str]) -> str:
    """An agreement waiting for its review gate."""
    staff = stack.user(names["own"], "staff")
    created = await stack.create(staff, proposal(names))
    await stack.act(staff, created["id"], {"type": "submit"})
    return str(created["id"])


async def trail(stack: Stack, names: dict[str, str], aid: str) -> tuple[dict[str, Any], int]:
    auditor = stack.user(names["own"], "auditor")
    snapshot = await stack.snapshot(auditor, aid)
    events = (await stack.get(auditor, f"/agreements/{aid}/events")).json()["events"]
    return snapshot, len(events)


@pytest.fixture(scope="module")
def names() -> dict[str, str]:
    return orgs()


@pytest.mark.parametrize(("role", "relation"), CELLS)
async def test_who_reads_an_agreement(stack: Stack, names: dict[str, str], role: str, relation: str):
    aid = await _shared(stack, names)
    caller = who(stack, names, role, relation)
    expected = 200 if sees(role, relation) else 404
    for path in (f"/agreements/{aid}", f"/agreements/{aid}/events", f"/agreements/{aid}/events/verify"):
        resp = await stack.get(caller, path)
        assert resp.status_code == expected, (path, resp.text)
        if expected == 404:
            assert resp.json()["error"]["code"] == "not_found"
    listed = (await stack.get(caller, f"/agreements?q={names['own']}")).json()["items"]
    assert (aid in [a["id"] for a in listed]) is sees(role, relation)
    assert (await stack.get(caller, "/inbox")).status_code == 200


_SHARED: dict[str, str] = {}


async def _shared(stack: Stack, names: dict[str, str]) -> str:
    if names["own"] not in _SHARED:
        _SHARED[names["own"]] = await submitted(stack, names)
    return _SHARED[names["own"]]


def comment_status(role: str, relation: str) -> int:
    if not sees(role, relation):
        return 404
    return 200 if relation in ("own", "party") else 403


def withdraw_status(role: str, relation: str) -> int:
    if not sees(role, relation):
        return 404
    return 200 if relation == "own" and role in ("staff", "admin") else 403


def review_status(role: str, relation: str) -> int:
    """Between two regions, each region's approver decides its own slot of the review gate."""
    if not sees(role, relation):
        return 404
    return 200 if role == "approver" and relation in ("own", "party") else 403


COMMANDS = {
    "comment": ({"type": "comment", "text": "Catatan dari matriks."}, comment_status),
    "withdraw": ({"type": "withdraw", "reason": "Uji kewenangan."}, withdraw_status),
    "decide": ({"type": "decide", "gate": "review", "outcome": "approve"}, review_status),
}


@pytest.mark.parametrize(("command", "role", "relation"), [(c, r, rel) for c in COMMANDS for r, rel in CELLS])
async def test_who_acts_on_an_agreement(stack: Stack, command: str, role: str, relation: str):
    body, rule = COMMANDS[command]
    expected = rule(role, relation)
    names = orgs()
    aid = await submitted(stack, names)
    before = await trail(stack, names, aid)
    resp = await stack.post(who(stack, names, role, relation), f"/agreements/{aid}/actions", body)
    assert resp.status_code == expected, resp.text
    after = await trail(stack, names, aid)
    if expected == 200:
        assert after[1] > before[1] and after[0]["version"] == before[0]["version"] + 1
    else:
        assert set(resp.json()) == {"error"}
        assert after == before, "a refused request changed the agreement"


# ---------------------------------------------------------------- the register of organisations


def register_edit_status(role: str, relation: str) -> int:
    """Operators keep the register; an administrator its own organisation's names and contacts."""
    return 200 if role == "operator" or (role == "admin" and relation == "own") else 403


@pytest.mark.parametrize(("role", "relation"), CELLS)
async def test_who_reads_and_edits_the_register(stack: Stack, role: str, relation: str):
    names = orgs()
    operator = stack.user("pakta", "operator")
    entry = {"name_id": f"Pemerintah Kabupaten {names['own']}", "level": "regency", "province_code": "32"}
    path = f"/organisations/{names['own']}"
    assert (await stack.http.put(path, json=entry, headers=stack.auth(operator))).status_code == 200
    caller = who(stack, names, role, relation)
    before = (await stack.get(caller, path)).json()  # everyone signed in reads it
    listed = (await stack.get(caller, f"/organisations?q={names['own']}")).json()["items"]
    assert [e["org"] for e in listed] == [names["own"]]

    renamed = entry | {"name_en": "Regency Government"}
    resp = await stack.http.put(path, json=renamed, headers=stack.auth(caller))
    expected = register_edit_status(role, relation)
    assert resp.status_code == expected, resp.text
    after = (await stack.get(operator, path)).json()
    if expected == 200:
        assert after["name_en"] == "Regency Government"
    else:
        assert set(resp.json()) == {"error"} and after == before, "a refused edit changed the register"


# ---------------------------------------------------------------- the reports upward


def report_status(role: str, relation: str) -> int:
    """An organisation's report is read by its own staff and administrators, those of its
    overseer (here the register sets `unrelated` as the overseer of `own`) and operators;
    a party to its agreements, an auditor or anyone else is refused."""
    if role == "operator" or (role in ("staff", "admin") and relation in ("own", "unrelated")):
        return 200
    return 403


@pytest.mark.parametrize(("role", "relation"), CELLS)
async def test_who_reads_an_organisations_report_upward(stack: Stack, role: str, relation: str):
    names = orgs()
    operator = stack.user("pakta", "operator")
    entries = {
        names["unrelated"]: {"name_id": f"Badan {names['unrelated']}", "level": "agency"},
        names["own"]: {
            "name_id": f"Pemerintah Kabupaten {names['own']}",
            "level": "regency",
            "province_code": "32",
            "overseer": names["unrelated"],
        },
    }
    for org, entry in entries.items():
        put = await stack.http.put(f"/organisations/{org}", json=entry, headers=stack.auth(operator))
        assert put.status_code == 200, put.text
    caller = who(stack, names, role, relation)
    period = "from=2027-01-01&to=2027-12-31"
    for path in (f"/reports/upward?org={names['own']}&{period}", f"/reports/upward.csv?org={names['own']}&{period}"):
        resp = await stack.get(caller, path)
        assert resp.status_code == report_status(role, relation), (path, resp.text)
        if resp.status_code == 403:
            assert set(resp.json()) == {"error"}


# ---------------------------------------------------------------- the action plan (#13)
# Every command of implementation, on an agreement in force (imported with its plan: A1 and
# O2 are the initiating organisation's, A2, O1 and action item M1-1 the other party's). A
# refused cell changes nothing, so the refused cells of a command share one agreement.


def member(role: str, relation: str) -> bool:
    """Staff, partners and the administrator of a party act for it at the working level."""
    return role in ("staff", "partner", "admin") and relation in ("own", "party")


def plan_rule(allowed: Callable[[str, str], bool], conflict: Callable[[str, str], bool] = lambda r, rel: False):
    def rule(role: str, relation: str) -> int:
        if not sees(role, relation):
            return 404
        if allowed(role, relation):
            return 200
        return 409 if conflict(role, relation) else 403

    return rule


async def held_meeting(stack: Stack, names: dict[str, str], aid: str, participants: list[str]) -> None:
    """A coordination meeting the initiating organisation scheduled, now held."""
    meeting = {"type": "schedule_meeting", "title": "Rapat", "participants": participants, "agenda": ["Evaluasi"]}
    staff = stack.user(names["own"], "staff")
    await held_soon(lambda at: stack.post(staff, f"/agreements/{aid}/actions", {**meeting, "at": at.isoformat()}))


async def with_revision(stack: Stack, names: dict[str, str], aid: str) -> None:
    activities = plans.proposal(names["own"], names["party"])["activities"]
    activities[1]["ends_on"] = plans.day(390)
    revision = {"type": "propose_plan_revision", "summary": "Geser uji coba", "activities": activities}
    await stack.act(stack.user(names["own"], "staff"), aid, revision)


async def with_minutes(stack: Stack, names: dict[str, str], aid: str) -> None:
    own, party = names["own"], names["party"]
    await held_meeting(stack, names, aid, [own, party])
    staff = stack.user(own, "staff")
    minutes = await stack.upload(staff, f"# Notulen {aid}\n")
    decision = {"text": "Kirim data", "party": party, "due_on": plans.day(20)}
    await stack.act(staff, aid, {"type": "record_minutes", "meeting": 1, "document": minutes, "decisions": [decision]})


async def own_meeting(stack: Stack, names: dict[str, str], aid: str) -> None:
    await held_meeting(stack, names, aid, [names["own"]])


async def negotiating(stack: Stack, names: dict[str, str]) -> str:
    """An agreement with a plan whose text is negotiated (both regions' review approved)."""
    staff = stack.user(names["own"], "staff")
    created = await stack.create(staff, plans.proposal(names["own"], names["party"]))
    await stack.act(staff, created["id"], {"type": "submit"})
    for org in (names["own"], names["party"]):
        approve = {"type": "decide", "gate": "review", "outcome": "approve"}
        await stack.act(stack.user(org, "approver", gates=["review"]), created["id"], approve)
    return str(created["id"])


Setup = Callable[[Stack, dict[str, str], str], Awaitable[None]]


async def nothing(stack: Stack, names: dict[str, str], aid: str) -> None:
    return None


def _body(name: str, names: dict[str, str]) -> dict[str, Any]:
    activities = plans.proposal(names["own"], names["party"])["activities"]
    activities[1]["ends_on"] = plans.day(380)
    return {
        "edit_plan": {"activities": activities},
        "report_progress": {"activity": "A1", "percent": 10},
        "record_measurement": {
            "indicator": plans.INDICATOR,
            "value": 1,
            "measured_on": plans.day(-1),
            "source": "Dishub",
        },
        "settle_obligation": {"obligation": "O1", "outcome": "missed", "note": "Tidak diserahkan."},
        "propose_plan_revision": {"summary": "Geser", "activities": activities},
        "accept_plan_revision": {"revision": 1},
        "withdraw_plan_revision": {"revision": 1, "reason": "Tidak setuju."},
        "schedule_meeting": {
            "title": "Rapat koordinasi",
            "at": (datetime.now(UTC) + timedelta(days=7)).isoformat(),
            "participants": [names["own"], names["party"]],
            "agenda": ["Trayek"],
        },
        "record_minutes": {"meeting": 1, "document": "", "decisions": []},
        "complete_action_item": {"item": "M1-1", "note": "Selesai."},
    }[name] | {"type": name}


def _own_staff(role: str, relation: str) -> bool:
    return relation == "own" and role in ("staff", "admin")


PLAN_COMMANDS: dict[str, tuple[Setup, Callable[[str, str], int]]] = {
    "edit_plan": (nothing, plan_rule(_own_staff)),
    "report_progress": (nothing, plan_rule(lambda r, rel: member(r, rel) and rel == "own")),
    "record_measurement": (nothing, plan_rule(member)),
    # the owner party, or the coordinators (the initiating staff) recording it missed
    "settle_obligation": (nothing, plan_rule(lambda r, rel: (member(r, rel) and rel == "party") or _own_staff(r, rel))),
    "propose_plan_revision": (nothing, plan_rule(member)),
    # the proposing party has accepted its own revision already
    "accept_plan_revision": (
        with_revision,
        plan_rule(lambda r, rel: member(r, rel) and rel == "party", lambda r, rel: member(r, rel)),
    ),
    "withdraw_plan_revision": (with_revision, plan_rule(member)),
    "schedule_meeting": (nothing, plan_rule(member)),
    # a participating (here: the organising) party
    "record_minutes": (own_meeting, plan_rule(lambda r, rel: member(r, rel) and rel == "own")),
    "complete_action_item": (with_minutes, plan_rule(lambda r, rel: member(r, rel) and rel == "party")),
}
_REFUSED_ON: dict[str, tuple[dict[str, str], str]] = {}


async def _prepared(stack: Stack, command: str, expected: int) -> tuple[dict[str, str], str]:
    """A fresh agreement for an allowed cell; the command's shared one for a refused cell."""
    if expected != 200 and command in _REFUSED_ON:
        return _REFUSED_ON[command]
    names = orgs()
    if command == "edit_plan":
        aid = await negotiating(stack, names)
    else:
        aid = await plans.in_force(stack, names["own"], names["party"])
    await PLAN_COMMANDS[command][0](stack, names, aid)
    if expected != 200:
        _REFUSED_ON[command] = (names, aid)
    return names, aid


@pytest.mark.parametrize(("command", "role", "relation"), [(c, r, rel) for c in PLAN_COMMANDS for r, rel in CELLS])
async def test_who_acts_on_the_action_plan(stack: Stack, command: str, role: str, relation: str):
    expected = PLAN_COMMANDS[command][1](role, relation)
    names, aid = await _prepared(stack, command, expected)
    caller = who(stack, names, role, relation)
    body = _body(command, names)
    if command == "record_minutes":  # the minutes are the caller's own upload
        body["document"] = await stack.upload(caller, f"# Notulen {uuid.uuid4()}\n")
    before = await trail(stack, names, aid)
    resp = await stack.post(caller, f"/agreements/{aid}/actions", body)
    assert resp.status_code == expected, resp.text
    after = await trail(stack, names, aid)
    if expected == 200:
        assert after[1] > before[1] and after[0]["version"] == before[0]["version"] + 1
    else:
        assert set(resp.json()) == {"error"}
        assert recorded(after[0]) == recorded(before[0]) and after[1] == before[1], "a refused request changed it"
