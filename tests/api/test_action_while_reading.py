"""An action's Update goes out before the API reads the agreement (`actions._send_while_reading`):
the row's round trip and the early decision happen while the Update travels, and the
answer is still what the workflow did — its state when it carried the command out, the
read model's refusal when both refused (docs/performance-log.md, `perf-onepath11`). A
command attaching a document, or sent with an Idempotency-Key, is read and checked first,
as before."""

from __future__ import annotations

import asyncio
import gc
import uuid
from typing import Any

import pytest

from services.api import actions, commands
from services.api.app import create_app
from services.api.known_parties import KNOWN_PARTIES
from services.auth import Principal
from services.store import queries
from services.store.db import create_engine
from tests.api.stack import Stack, recorded
from tests.api.test_foreseen_snapshot import waste_body
from tests.fixtures.api import app_client
from workflows import messages as m

pytestmark = pytest.mark.asyncio(loop_scope="session")


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


async def test_an_actions_update_is_on_its_way_before_the_agreement_is_read_and_the_answer_is_its_state(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
):
    staff = stack.user("kota-bandung", "staff")
    app = create_app(stack.settings)
    async with app_client(app) as client:
        created = await client.post("/agreements", json=waste_body("Sampah: dikirim dulu"), headers=stack.auth(staff))
        agreement_id = created.json()["id"]
        asked = watched(monkeypatch)

        acted = await client.post(
            f"/agreements/{agreement_id}/actions", json={"type": "submit"}, headers=stack.auth(staff)
        )

        assert acted.status_code == 200 and acted.headers["ETag"] == '"2"', acted.text
        assert asked == ["update", "row"]  # and no read after the Update: the foreseen state
        shown = await client.get(f"/agreements/{agreement_id}", headers=stack.auth(staff))
        assert recorded(acted.json()) == recorded(shown.json())


async def test_an_action_both_the_read_model_and_the_workflow_refuse_is_answered_with_the_read_models_refusal(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
):
    """The same decider on the same state: the refusal is the one the API gave before it
    sent such Updates, its details included, and nothing is recorded."""
    staff = stack.user("kota-bandung", "staff")
    app = create_app(stack.settings)
    early: list[str] = []
    refusal = commands.domain_error

    def noted(error: Any) -> Any:
        early.append(error.code)
        return refusal(error)

    async with app_client(app) as client:
        created = await client.post("/agreements", json=waste_body("Sampah: ditolak"), headers=stack.auth(staff))
        agreement_id = created.json()["id"]
        path = f"/agreements/{agreement_id}/actions"
        assert (await client.post(path, json={"type": "submit"}, headers=stack.auth(staff))).status_code == 200
        asked = watched(monkeypatch)
        monkeypatch.setattr(actions.commands, "domain_error", noted)

        again = await client.post(path, json={"type": "submit"}, headers=stack.auth(staff))
        stale = await client.post(
            path, json={"type": "comment", "text": "Versi lama"}, headers={**stack.auth(staff), "If-Match": '"1"'}
        )

        assert again.status_code == 409 and again.json()["error"]["code"] == "invalid_transition", again.text
        assert again.json()["error"]["version"] == 2
        assert stale.status_code == 412 and stale.json()["error"]["version"] == 2, stale.text
        assert asked == ["update", "row"] * 2 and early == ["invalid_transition", "stale_version"]
        shown = await client.get(f"/agreements/{agreement_id}", headers=stack.auth(staff))
        assert shown.json()["version"] == 2


async def test_an_action_attaching_a_document_is_checked_before_its_update_goes(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
):
    staff = stack.user("kota-bandung", "staff")
    app = create_app(stack.settings)
    async with app_client(app) as client:
        created = await client.post("/agreements", json=waste_body("Sampah: dokumen"), headers=stack.auth(staff))
        agreement_id = created.json()["id"]
        asked = watched(monkeypatch)

        unknown = await client.post(
            f"/agreements/{agreement_id}/actions",
            json={"type": "submit_draft", "document": "0" * 64},
            headers=stack.auth(staff),
        )

        assert unknown.status_code == 422 and unknown.json()["error"]["code"] == "unknown_document", unknown.text
        assert asked == ["row"]  # refused before anything went to the workflow


async def test_an_action_whose_row_cannot_be_read_is_answered_with_what_the_workflow_did(stack: Stack):
    """The database away for the API (here: an API whose database does not answer) while the
    Update is on its way: the command is carried out all the same, so the answer is the
    workflow's state — a failure would have the client send it again, carried out twice —
    and the workflow's refusal when it refused."""
    staff, other = stack.user("kota-bandung", "staff"), stack.user("kab-garut", "staff")
    created = await stack.post(staff, "/agreements", waste_body("Sampah: basis data pergi"))
    agreement_id = created.json()["id"]
    away = stack.settings.model_copy(update={"database_url": "postgresql+asyncpg://pakta@127.0.0.1:9/pakta"})
    async with app_client(create_app(away)) as client:
        path = f"/agreements/{agreement_id}/actions"
        commented = await client.post(path, json={"type": "comment", "text": "Sekali saja"}, headers=stack.auth(staff))
        unseen = await client.post(
            path, json={"type": "comment", "text": "Bukan milik saya"}, headers=stack.auth(other)
        )
        stale = {**stack.auth(staff), "If-Match": '"1"'}
        refused = await client.post(path, json={"type": "comment", "text": "Versi lama"}, headers=stale)

    assert commented.status_code == 200 and commented.headers["ETag"] == '"2"', commented.text
    assert unseen.status_code == 404 and unseen.json()["error"]["code"] == "not_found", unseen.text
    assert unseen.json()["error"]["agreement_id"] == agreement_id, "worded as the read model's 404"
    assert refused.status_code == 412 and refused.json()["error"]["version"] == 2, refused.text
    shown = await stack.get(staff, f"/agreements/{agreement_id}")
    assert shown.json()["version"] == 2
    assert recorded(commented.json()) == recorded(shown.json())


async def test_an_action_cancelled_while_its_update_travels_leaves_no_failure_unseen(stack: Stack, temporal_env):
    """The caller gone (its task cancelled) before the row is read: the Update it sent goes on
    without anyone awaiting it, and its failure — here, no such agreement — is seen and
    dropped, not left for the loop to report as an exception never retrieved."""
    loop = asyncio.get_running_loop()
    reported: list[dict[str, Any]] = []
    handler = loop.get_exception_handler()
    loop.set_exception_handler(lambda _, context: reported.append(context))
    engine = create_engine(stack.settings)
    edge = actions.Edge(
        session=None,
        sessionmaker=stack.sessionmaker,
        temporal=temporal_env.client,
        settings=stack.settings,
        engine=engine,
    )
    principal = Principal(sub="staff@kota-bandung", org="kota-bandung", roles=("staff",))
    # No such agreement, but one this process takes to be kota-bandung's: its Update goes first.
    agreement_id = str(uuid.uuid4())
    KNOWN_PARTIES.note(agreement_id, ["kota-bandung", "kab-garut"], version=1, read_at=None)
    before = asyncio.all_tasks()
    try:
        action = asyncio.ensure_future(
            actions.perform(
                edge,
                principal=principal,
                agreement_id=agreement_id,
                command=m.Comment(text="Tidak ada"),
                path="/agreements/x/actions",
            )
        )
        await asyncio.sleep(0)  # the action runs until its Update is on its way
        action.cancel()
        with pytest.raises(asyncio.CancelledError):
            await action
        updates = {task for task in asyncio.all_tasks() - before if task.get_coro().__qualname__ == "send_command"}
        assert len(updates) == 1
        await asyncio.wait(updates)
        del updates
        gc.collect()
        await asyncio.sleep(0)
    finally:
        loop.set_exception_handler(handler)
        await engine.dispose()

    assert not [context for context in reported if "never retrieved" in str(context.get("message"))], reported


async def test_with_the_database_away_an_outsider_is_answered_alike_for_an_unknown_id_an_open_and_a_closed_agreement(
    stack: Stack,
):
    """The database away for the API: an action of a caller it does not know is sent to the
    workflow, whose answer it is. An id with no agreement and an agreement the caller cannot
    see — open, or closed (its workflow completed) — are answered with the one 404; only a
    party of the closed one is told it is closed."""
    staff, other = stack.user("kota-bandung", "staff"), stack.user("kab-garut", "staff")
    running = (await stack.post(staff, "/agreements", waste_body("Sampah: terbuka"))).json()["id"]
    closed = (await stack.post(staff, "/agreements", waste_body("Sampah: ditarik"))).json()["id"]
    await stack.act(staff, closed, {"type": "withdraw", "reason": "Digabung dengan usulan lain."})
    unknown = str(uuid.uuid4())
    away = stack.settings.model_copy(update={"database_url": "postgresql+asyncpg://pakta@127.0.0.1:9/pakta"})
    async with app_client(create_app(away)) as client:

        async def comment(who: Principal, agreement_id: str) -> Any:
            path = f"/agreements/{agreement_id}/actions"
            return await client.post(path, json={"type": "comment", "text": "Ada?"}, headers=stack.auth(who))

        answers = {aid: await comment(other, aid) for aid in (unknown, running, closed)}
        partys = await comment(staff, closed)

    for agreement_id, answer in answers.items():
        assert answer.status_code == 404, answer.text
        assert answer.json()["error"] == {
            "code": "not_found",
            "message": "Agreement not found.",
            "agreement_id": agreement_id,
        }, answer.text
    assert partys.status_code == 409 and partys.json()["error"]["code"] == "invalid_transition", partys.text
