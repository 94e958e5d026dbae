"""An outsider's action (a caller the decider does not let see the agreement) is answered
with the read model's 404, the same as an unknown id's, and never reaches the agreement's
workflow: its validator is not woken, and the answer does not wait for it
(docs/performance-log.md, `trust16`). Only a caller the API knows to see the agreement
sends its Update before the row is read (`known_parties.KnownParties`)."""

from __future__ import annotations

import ast
import asyncio
import uuid
from pathlib import Path
from typing import Any

import hypothesis.strategies as st
import pytest
from hypothesis import given, settings
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker

from services.api import actions, commands, known_parties
from services.api.app import create_app
from services.api.known_parties import KNOWN_PARTIES, KnownParties
from services.store import queries
from services.worker.registry import WORKFLOWS, activities, workflow_runner
from tests import builders as b
from tests.api.stack import Stack
from tests.api.test_foreseen_snapshot import waste_body
from tests.fixtures.api import app_client
from workflows import lifecycle
from workflows import messages as m
from workflows.agreement import workflow_id

# The party an edit puts in place of the counterparty of `waste_body`.
GARUT_TAKEN_IN = {"org": "kab-garut", "role": "counterparty", "sector": "government", "signatory": "Bupati Garut"}


def first_read_held() -> tuple[asyncio.Event, asyncio.Event, Any]:
    """A stand-in for `queries.get_agreement` whose first read is held between its fetch and
    its return (where the caller notes the parties): `fetched` is set once it has fetched,
    and it returns once `edited` is set. Later reads pass through."""
    read = queries.get_agreement
    fetched, edited = asyncio.Event(), asyncio.Event()
    held: list[bool] = []

    async def held_read(session: Any, *, agreement_id: str) -> queries.AgreementRecord | None:
        record = await read(session, agreement_id=agreement_id)
        if not held:
            held.append(True)
            fetched.set()
            await edited.wait()
        return record

    return fetched, edited, held_read


def watched(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What an action asks for, in the order it asks: the Update (`send`) and the row."""
    asked: list[str] = []
    send, read = commands.send_command, queries.get_agreement

    async def sending(*args: Any, **kwargs: Any) -> Any:
        asked.append("update")
        return await send(*args, **kwargs)

    async def reading(session: Any, *, agreement_id: str) -> queries.AgreementRecord | None:
        asked.append("row")
        return await read(session, agreement_id=agreement_id)

    monkeypatch.setattr(commands, "send_command", sending)
    monkeypatch.setattr(queries, "get_agreement", reading)
    return asked


def without_id(body: dict[str, Any]) -> dict[str, Any]:
    return {"error": {k: v for k, v in body["error"].items() if k != "agreement_id"}}


@pytest.mark.asyncio(loop_scope="session")
async def test_an_outsiders_action_is_answered_from_the_read_model_while_no_worker_could_validate_it(
    stack: Stack, temporal_env
):
    """The agreement's workflow on a task queue no worker polls any more: an Update sent to
    it would wait for a worker. The outsider's 404 comes at once, with or without an
    Idempotency-Key, worded as an unknown id's, and the workflow's history does not move."""
    queue = f"pakta-outsider-{uuid.uuid4()}"
    configured = stack.settings.model_copy(update={"temporal_task_queue": queue})
    staff, outsider = stack.user("kota-bandung", "staff"), stack.user("kab-garut", "staff")
    worker = Worker(
        temporal_env.client,
        task_queue=queue,
        workflows=WORKFLOWS,
        workflow_runner=workflow_runner(),
        activities=activities(configured, stack.sessionmaker),
    )
    async with app_client(create_app(configured)) as client:
        async with worker:
            created = await client.post("/agreements", json=waste_body("Sampah: orang luar"), headers=stack.auth(staff))
            assert created.status_code == 201, created.text
        agreement_id = created.json()["id"]
        handle = temporal_env.client.get_workflow_handle(workflow_id(agreement_id))
        before = len((await handle.fetch_history()).events)

        async def act(on: str, headers: dict[str, str]) -> Any:
            path = f"/agreements/{on}/actions"
            sent = client.post(path, json={"type": "comment", "text": "Dari luar"}, headers=headers)
            return await asyncio.wait_for(sent, timeout=10)

        unseen = await act(agreement_id, stack.auth(outsider))
        keyed = await act(agreement_id, {**stack.auth(outsider), "Idempotency-Key": str(uuid.uuid4())})
        unknown = await act(str(uuid.uuid4()), stack.auth(outsider))

        assert unseen.status_code == 404 and unseen.json()["error"]["agreement_id"] == agreement_id, unseen.text
        assert keyed.status_code == 404, keyed.text
        assert unknown.status_code == 404, unknown.text
        assert without_id(unseen.json()) == without_id(keyed.json()) == without_id(unknown.json())
        assert len((await handle.fetch_history()).events) == before
        await handle.terminate("the test is done with it")


@pytest.mark.asyncio(loop_scope="session")
async def test_an_outsiders_action_never_sends_the_update_and_a_party_not_seen_before_still_acts(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
):
    """The counterparty's staff in an API process that has not read the agreement yet (its
    creation went through another process): the row first, then the Update, carried out.
    Read once, the agreement's parties send their Update before the row again."""
    staff, partner = stack.user("kota-bandung", "staff"), stack.user("kab-sumedang", "staff")
    outsider = stack.user("kab-garut", "staff")
    async with app_client(create_app(stack.settings)) as client:
        created = await client.post("/agreements", json=waste_body("Sampah: urutan"), headers=stack.auth(staff))
        agreement_id = created.json()["id"]
        path = f"/agreements/{agreement_id}/actions"
        KNOWN_PARTIES.forget(agreement_id)  # as in another API process
        asked = watched(monkeypatch)

        unseen = await client.post(path, json={"type": "comment", "text": "Luar"}, headers=stack.auth(outsider))
        assert unseen.status_code == 404, unseen.text
        assert asked == ["row"]
        KNOWN_PARTIES.forget(agreement_id)  # the outsider's read noted the parties: forgotten again
        first = await client.post(path, json={"type": "comment", "text": "Pertama"}, headers=stack.auth(partner))
        assert first.status_code == 200 and first.headers["ETag"] == '"2"', first.text
        assert asked == ["row", "row", "update"]
        again = await client.post(path, json={"type": "comment", "text": "Lagi"}, headers=stack.auth(staff))
        assert again.status_code == 200 and again.headers["ETag"] == '"3"', again.text
        assert asked == ["row", "row", "update", "update", "row"]
        still = await client.post(path, json={"type": "comment", "text": "Lagi"}, headers=stack.auth(outsider))
        assert still.status_code == 404 and asked[5:] == ["row"], still.text


ORGS = [b.INITIATOR, b.REGION, b.THIRD_PARTY, b.MINISTRY, b.OUTSIDER, ""]
ROLES = ["staff", "partner", "admin", "signatory", "approver", "scheduler", "operator", "auditor", "system"]
GATES = ["ministry", "review", "dprd", "governor"]
STATUSES = ["waiting", "pending", "approved", "changes_requested", "rejected"]


def _states() -> list[m.AgreementState]:
    """A draft, and submitted agreements of each kind (KSDPL and KSDLL wait for the
    Minister's approval), each with its parties and ministry as built."""
    drafts = [b.created(b.ksdd_proposal())]
    return drafts + [b.submitted(b.proposal_for(kind)) for kind in ("ksdd", "ksdpk", "ksdpl", "ksdll")]


STATES = _states()


@st.composite
def states(draw: st.DrawFn) -> m.AgreementState:
    state = draw(st.sampled_from(STATES)).model_copy(deep=True)
    for slot in state.gates:  # any gate at any status: the ministry's decides its approvers' sight
        slot.status = draw(st.sampled_from(STATUSES))
    state.ministry_orgs = draw(st.lists(st.sampled_from(ORGS[:5]), max_size=2, unique=True))
    return state


actors = st.builds(
    lambda org, roles, gates: m.Actor(sub=f"someone@{org}", org=org, roles=roles, gates=gates),
    st.sampled_from(ORGS),
    st.lists(st.sampled_from(ROLES), max_size=3, unique=True),
    st.lists(st.sampled_from(GATES), max_size=2, unique=True),
)


@settings(max_examples=400, deadline=None)
@given(state=states(), actor=actors, noted=st.booleans())
def test_the_update_goes_before_the_row_only_for_a_caller_the_decider_lets_see_the_agreement(
    state: m.AgreementState, actor: m.Actor, noted: bool
):
    """Compared with the workflow's own answer (its validator refuses exactly those
    `can_see` refuses): a caller whose Update goes unread is one the decider lets see the
    agreement; every party's caller and everyone who sees every agreement go unread once
    the parties are noted (the overlap kept); anyone else is read first, and then refused
    by the same `can_see` the workflow would have asked."""
    known = KnownParties()
    if noted:
        known.note("agr", lifecycle.party_orgs(state), version=state.version, read_at=None)
    unread = known.sees("agr", actor)
    if unread:
        assert lifecycle.can_see(state, actor)
    party = bool(actor.org) and actor.org in lifecycle.party_orgs(state)
    assert unread == (lifecycle.sees_every_agreement(actor) or (noted and party))


@pytest.mark.asyncio(loop_scope="session")
async def test_an_organisation_edited_out_of_a_draft_is_answered_from_the_read_model_at_once(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
):
    """The initiator replaces its counterparty in the draft. In the API process that carried
    out the edit, the organisation edited out is read first at once: the read model's 404,
    worded as an unknown id's, and no Update sent. In another process, which kept the parties
    of before, its first action still travels with the row read beside it: the row shows it
    is no party, the answer is the read model's 404, and the process keeps the parties the
    row shows, so the next action is read first."""
    staff, removed = stack.user("kota-bandung", "staff"), stack.user("kab-sumedang", "staff")
    taken_in = stack.user("kab-garut", "staff")
    async with app_client(create_app(stack.settings)) as client:
        created = await client.post("/agreements", json=waste_body("Sampah: mitra diganti"), headers=stack.auth(staff))
        agreement_id = created.json()["id"]
        path = f"/agreements/{agreement_id}/actions"
        before = ["kota-bandung", "kab-sumedang"]
        parties = [*waste_body("x")["parties"][:1], GARUT_TAKEN_IN]
        edited = await client.post(path, json={"type": "edit", "parties": parties}, headers=stack.auth(staff))
        assert edited.status_code == 200, edited.text
        unknown = await client.post(
            f"/agreements/{uuid.uuid4()}/actions", json={"type": "comment", "text": "?"}, headers=stack.auth(removed)
        )
        asked = watched(monkeypatch)

        gone = await client.post(path, json={"type": "comment", "text": "Masih?"}, headers=stack.auth(removed))
        assert gone.status_code == 404, gone.text
        assert without_id(gone.json()) == without_id(unknown.json())
        assert asked == ["row"]
        welcome = await client.post(path, json={"type": "comment", "text": "Halo"}, headers=stack.auth(taken_in))
        assert welcome.status_code == 200, welcome.text
        assert asked[1:] == ["update", "row"]

        elsewhere = KnownParties()  # another API process, which read the draft before the edit
        elsewhere.note(agreement_id, before, version=1, read_at=elsewhere.moment())
        for module in (known_parties, actions):
            monkeypatch.setattr(module, "KNOWN_PARTIES", elsewhere)
        del asked[:]
        stale = await client.post(path, json={"type": "comment", "text": "Lagi?"}, headers=stack.auth(removed))
        assert stale.status_code == 404 and without_id(stale.json()) == without_id(unknown.json()), stale.text
        assert sorted(asked) == ["row", "update"]
        again = await client.post(path, json={"type": "comment", "text": "Lagi?"}, headers=stack.auth(removed))
        assert again.status_code == 404 and asked[2:] == ["row"], again.text


@pytest.mark.asyncio(loop_scope="session")
async def test_a_read_of_the_draft_from_before_an_edit_ending_after_it_does_not_bring_the_parties_edited_out_back(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
):
    """A read of the agreement in the same process fetches the row before the edit that
    replaces a party is recorded, and keeps its parties only after the edit has kept the
    new ones: the parties of the older version are not kept again, so the organisation
    edited out is still read first (the read model's 404, no Update sent)."""
    staff, removed = stack.user("kota-bandung", "staff"), stack.user("kab-sumedang", "staff")
    fetched, edited, held_read = first_read_held()

    async with app_client(create_app(stack.settings)) as client:
        created = await client.post("/agreements", json=waste_body("Sampah: dibaca lama"), headers=stack.auth(staff))
        agreement_id = created.json()["id"]
        path = f"/agreements/{agreement_id}/actions"
        parties = [*waste_body("x")["parties"][:1], GARUT_TAKEN_IN]
        monkeypatch.setattr(queries, "get_agreement", held_read)
        reading = asyncio.ensure_future(client.get(f"/agreements/{agreement_id}", headers=stack.auth(staff)))
        async with asyncio.timeout(30):
            await fetched.wait()
        edit = await client.post(path, json={"type": "edit", "parties": parties}, headers=stack.auth(staff))
        assert edit.status_code == 200, edit.text
        edited.set()
        old = await reading
        assert old.status_code == 200 and "kab-sumedang" in {p["org"] for p in old.json()["parties"]}, old.text
        asked = watched(monkeypatch)

        gone = await client.post(path, json={"type": "comment", "text": "Masih?"}, headers=stack.auth(removed))
        assert gone.status_code == 404, gone.text
        assert asked == ["row"]


@pytest.mark.asyncio(loop_scope="session")
async def test_a_read_from_before_an_edit_that_timed_out_but_was_carried_out_does_not_bring_the_parties_back(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
):
    """The edit replacing a party is carried out by the workflow, but its answer does not come
    back in time (a deadline exceeded on Temporal's RPC after the Update completed): the API
    answers 503 and, not knowing the edit's outcome, forgets the parties. A read of the
    agreement fetched before the edit and noting after it does not bring the parties of
    before back: the organisation edited out is read first (the read model's 404, no Update
    sent). A read begun after the failure notes the parties again, at any version."""
    staff, removed = stack.user("kota-bandung", "staff"), stack.user("kab-sumedang", "staff")
    taken_in = stack.user("kab-garut", "staff")
    act = commands.execute_act
    fetched, edited, held_read = first_read_held()

    async def carried_out_but_timed_out(*args: Any, **kwargs: Any) -> Any:
        await act(*args, **kwargs)
        raise RPCError("Deadline Exceeded", RPCStatusCode.DEADLINE_EXCEEDED, b"")

    async with app_client(create_app(stack.settings)) as client:
        created = await client.post("/agreements", json=waste_body("Sampah: jawaban hilang"), headers=stack.auth(staff))
        agreement_id = created.json()["id"]
        path = f"/agreements/{agreement_id}/actions"
        parties = [*waste_body("x")["parties"][:1], GARUT_TAKEN_IN]
        monkeypatch.setattr(queries, "get_agreement", held_read)
        reading = asyncio.ensure_future(client.get(f"/agreements/{agreement_id}", headers=stack.auth(staff)))
        async with asyncio.timeout(30):
            await fetched.wait()
        monkeypatch.setattr(commands, "execute_act", carried_out_but_timed_out)
        edit = await client.post(path, json={"type": "edit", "parties": parties}, headers=stack.auth(staff))
        assert edit.status_code == 503 and edit.json()["error"]["code"] == "temporal_unavailable", edit.text
        monkeypatch.setattr(commands, "execute_act", act)
        edited.set()
        old = await reading
        assert old.status_code == 200 and "kab-sumedang" in {p["org"] for p in old.json()["parties"]}, old.text
        asked = watched(monkeypatch)

        gone = await client.post(path, json={"type": "comment", "text": "Masih?"}, headers=stack.auth(removed))
        assert gone.status_code == 404, gone.text
        assert asked == ["row"]
        # That read, begun after the edit failed, noted the parties the edit led to.
        welcome = await client.post(path, json={"type": "comment", "text": "Halo"}, headers=stack.auth(taken_in))
        assert welcome.status_code == 200 and welcome.headers["ETag"] == '"3"', welcome.text
        assert asked[1:] == ["update", "row"]


def test_parties_forgotten_are_noted_again_only_by_a_read_begun_after_the_forgetting():
    """An edit whose outcome is unknown forgets the parties. A read begun before that is not
    noted, at the version kept or a later one (the row may have moved since); a read begun
    after it is, even at the version of before (the edit refused or never carried out); the
    workflow's own answer is, unless older than the version kept."""
    staff = m.Actor(sub="s@kota-bandung", org="kota-bandung", roles=["staff"])
    removed = m.Actor(sub="s@kab-sumedang", org="kab-sumedang", roles=["staff"])
    known = KnownParties()
    known.note("agr", ["kota-bandung", "kab-sumedang"], version=1, read_at=None)
    before = known.moment()
    known.forget("agr")
    for version in (1, 2):
        known.note("agr", ["kota-bandung", "kab-sumedang"], version=version, read_at=before)
        assert not known.sees("agr", removed) and not known.sees("agr", staff)
    known.note("agr", ["kota-bandung", "kab-sumedang"], version=0, read_at=None)
    assert not known.sees("agr", staff)
    after = known.moment()
    known.note("agr", ["kota-bandung", "kab-sumedang"], version=1, read_at=after)
    assert known.sees("agr", removed)
    known.forget("agr")
    known.note("agr", ["kota-bandung", "kab-garut"], version=2, read_at=None)  # the edit's answer
    assert known.sees("agr", staff) and not known.sees("agr", removed)


def test_the_api_reads_an_agreements_row_only_through_read_row():
    """Every read of a row by the API notes its parties (`known_parties.read_row`), so what is
    kept is never older than the last row read: no other module of the API asks the store
    for the row itself (proposals.py's retry check did, without noting)."""
    api = Path(known_parties.__file__).parent
    readers = []
    for path in sorted(api.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        named = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
        named |= {alias.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for alias in n.names}
        if "get_agreement" in named:
            readers.append(path.relative_to(api).as_posix())
    assert readers == ["known_parties.py"]
