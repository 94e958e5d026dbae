"""What a request costs the API process beyond its own work (docs/performance-log.md): no hop to
a thread for a dependency, no transaction around the reads of a request that writes
nothing through its session (creating, reading, listing, acting), no check of the
connection before a read that can run again on a checked one if its connection was lost."""

from __future__ import annotations

import asyncio
import inspect
import re
import string
import uuid
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from opentelemetry import _logs, metrics, trace
from sqlalchemy import event, text
from temporalio.client import Client, Interceptor, OutboundInterceptor, StartWorkflowUpdateInput, WorkflowUpdateHandle

from services.api.app import ROUTERS, create_app
from services.api.database import read_again_if_lost, read_from_the_pool
from services.api.observability import native_telemetry
from services.errors import NotFound
from services.store import queries
from services.store.db import driver_connection
from tests.api.stack import Stack
from tests.fixtures.api import app_client

pytestmark = pytest.mark.asyncio(loop_scope="session")


def _calls(dependant: Dependant) -> Iterator[Any]:
    for dependency in dependant.dependencies:
        if dependency.call is not None:
            yield dependency.call
        yield from _calls(dependency)


def _runs_on_the_event_loop(call: Any) -> bool:
    target = call if inspect.isfunction(call) or inspect.ismethod(call) else type(call).__call__
    return inspect.iscoroutinefunction(target) or inspect.isasyncgenfunction(target)


async def test_every_dependency_of_the_api_runs_on_the_event_loop_not_in_the_thread_pool():
    routes = [r for module in ROUTERS for r in module.router.routes if isinstance(r, APIRoute)]
    assert any(r.path == "/agreements/{agreement_id}" for r in routes)
    threaded = {
        (route.path, getattr(call, "__name__", type(call).__name__))
        for route in routes
        for call in _calls(route.dependant)
        if not _runs_on_the_event_loop(call)
    }
    assert threaded == set()


async def test_creating_reading_listing_and_acting_on_agreements_run_their_statements_without_a_transaction(
    stack: Stack,
):
    staff = stack.user("kota-cirebon", "staff")
    proposal = _proposal("Air baku: tanpa transaksi")
    app = create_app(stack.settings)
    async with app_client(app) as client:
        autocommit: list[bool] = []

        def note(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            autocommit.append(bool(conn.connection.dbapi_connection.autocommit))

        event.listen(app.state.engine.sync_engine, "before_cursor_execute", note)
        # The reads of the read model go to the driver's connection as fixed SQL
        # (services.store.queries): each statement asyncpg runs is noted as well.
        _note_driver_statements(app, lambda driver, query: autocommit.append(not driver.is_in_transaction()))
        created = await client.post("/agreements", json=proposal, headers=stack.auth(staff))
        assert created.status_code == 201 and created.headers["ETag"] == '"1"', created.text
        agreement_id = created.json()["id"]
        read = await client.get(f"/agreements/{agreement_id}", headers=stack.auth(staff))
        assert read.status_code == 200 and read.headers["ETag"] == '"1"'
        listed = await client.get("/agreements?q=tanpa", headers=stack.auth(staff))
        assert [a["id"] for a in listed.json()["items"]] == [agreement_id]
        plan = await client.get(f"/agreements/{agreement_id}/action-plan", headers=stack.auth(staff))
        assert plan.status_code == 200
        acted = await client.post(
            f"/agreements/{agreement_id}/actions", json={"type": "submit"}, headers=stack.auth(staff)
        )
        assert acted.status_code == 200 and acted.headers["ETag"] == '"2"', acted.text
        assert acted.json()["version"] == 2
    # Creation alone reads the parties' settings (one statement); the answer needs no read back.
    assert len(autocommit) >= 5 and all(autocommit), autocommit


async def test_a_connection_postgresql_dropped_is_replaced_before_a_request_gets_it(stack: Stack):
    staff = stack.user("kota-cirebon", "staff")
    app = create_app(stack.settings)
    async with app_client(app) as client:
        assert (await client.get("/agreements?limit=1", headers=stack.auth(staff))).status_code == 200
        async with app.state.engine.connect() as conn:  # the connection the request used, back in the pool
            pid = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        await _drop_backend(stack, pid)
        again = await client.get("/agreements?limit=1", headers=stack.auth(staff))
        assert again.status_code == 200, again.text
        async with app.state.engine.connect() as conn:
            assert (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one() != pid


async def test_an_action_with_an_idempotency_key_keeps_its_records_on_the_connection_the_request_holds(stack: Stack):
    staff = stack.user("kota-cirebon", "staff")
    proposal = _proposal("Air baku: kunci di koneksi yang sama")
    app = create_app(stack.settings)
    async with app_client(app) as client:
        created = await client.post("/agreements", json=proposal, headers=stack.auth(staff))
        assert created.status_code == 201, created.text
        path = f"/agreements/{created.json()['id']}/actions"
        checkouts: list[object] = []
        autocommit: list[bool] = []
        through_sqlalchemy: list[str] = []

        def checked_out(dbapi_connection: Any, record: Any, proxy: Any) -> None:
            checkouts.append(record)

        def note(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            through_sqlalchemy.append(statement)

        event.listen(app.state.engine.sync_engine.pool, "checkout", checked_out)
        event.listen(app.state.engine.sync_engine, "before_cursor_execute", note)
        _note_driver_statements(app, lambda driver, query: autocommit.append(not driver.is_in_transaction()))
        keyed = {**stack.auth(staff), "Idempotency-Key": "kunci-satu-koneksi"}
        first = await client.post(path, json={"type": "submit"}, headers=keyed)
        assert first.status_code == 200 and "Idempotent-Replayed" not in first.headers, first.text
        assert len(checkouts) == 1  # the row, the key's lookup and its record: one connection
        again = await client.post(path, json={"type": "submit"}, headers=keyed)
        assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
        assert again.json() == first.json() and again.headers["ETag"] == first.headers["ETag"] == '"2"'
        refused = await client.post(path, json={"type": "submit"}, headers={**keyed, "Idempotency-Key": "kunci-dua"})
        assert refused.status_code == 409, refused.text
        # The refusal was stored although the request ended in an error: it is replayed.
        replayed = await client.post(path, json={"type": "submit"}, headers={**keyed, "Idempotency-Key": "kunci-dua"})
        assert replayed.status_code == 409 and replayed.headers["Idempotent-Replayed"] == "true"
        assert replayed.json() == refused.json()
    assert len(autocommit) >= 8 and all(autocommit)
    # The key's lookup and record are fixed SQL on the driver: nothing built by SQLAlchemy.
    assert through_sqlalchemy == []


async def test_a_read_whose_connection_postgresql_dropped_runs_again_on_a_checked_one(stack: Stack):
    app = create_app(stack.settings)
    async with app_client(app), app.state.read_sessionmaker() as session:
        taken: list[Any] = []

        async def read() -> Any:
            driver = await driver_connection(session)
            taken.append(driver)
            if len(taken) == 1:  # PostgreSQL drops the connection the read took unchecked
                await _drop_backend(stack, driver.get_server_pid())
            return await queries.get_agreement(session, agreement_id="no-such-agreement")

        assert await read_again_if_lost(session, read) is None
        assert len(taken) == 2 and taken[0].is_closed() and not taken[1].is_closed()


async def test_a_read_that_fails_on_a_live_connection_is_not_run_again(stack: Stack):
    staff = stack.user("kota-cirebon", "staff")
    app = create_app(stack.settings)
    async with app_client(app) as client:
        answer = await client.get("/agreements/no-such-agreement", headers=stack.auth(staff))
        assert answer.status_code == 404 and answer.json()["error"]["code"] == "not_found", answer.text
        async with app.state.read_sessionmaker() as session:
            runs: list[int] = []

            async def read() -> None:
                runs.append(await (await driver_connection(session)).fetchval("SELECT 1"))
                raise NotFound("Agreement not found.")

            with pytest.raises(NotFound):
                await read_again_if_lost(session, read)
    assert runs == [1]


async def test_a_read_from_the_pool_whose_connection_postgresql_dropped_runs_again_on_a_checked_one(stack: Stack):
    app = create_app(stack.settings)
    async with app_client(app):
        request = SimpleNamespace(app=app)
        taken: list[Any] = []

        async def read(driver: Any) -> Any:
            taken.append(driver)
            if len(taken) == 1:  # PostgreSQL drops the connection the read took unchecked
                await _drop_backend(stack, driver.get_server_pid())
            return await queries.get_agreement(driver, agreement_id="no-such-agreement")

        assert await read_from_the_pool(request, read) is None  # type: ignore[arg-type]
        assert len(taken) == 2 and taken[0].is_closed() and not taken[1].is_closed()


async def test_a_read_from_the_pool_that_fails_on_a_live_connection_is_not_run_again(stack: Stack):
    app = create_app(stack.settings)
    async with app_client(app):
        runs: list[int] = []

        async def read(driver: Any) -> None:
            runs.append(await driver.fetchval("SELECT 1"))
            raise NotFound("Agreement not found.")

        with pytest.raises(NotFound):
            await read_from_the_pool(SimpleNamespace(app=app), read)  # type: ignore[arg-type]
    assert runs == [1]


async def test_reading_listing_and_the_action_plan_send_only_their_own_statements_to_postgresql(stack: Stack):
    """No `SELECT 1` before them, no BEGIN or COMMIT around them: one statement a GET."""
    staff = stack.user("kota-cirebon", "staff")
    app = create_app(stack.settings)
    async with app_client(app) as client:
        created = await client.post(
            "/agreements", json=_proposal("Air baku: satu pernyataan"), headers=stack.auth(staff)
        )
        assert created.status_code == 201, created.text
        agreement_id = created.json()["id"]
        sent: list[str] = []
        _note_driver_statements(app, lambda driver, query: sent.append(" ".join(query.query.split())))
        for path in (
            f"/agreements/{agreement_id}",
            "/agreements?q=pernyataan",
            f"/agreements/{agreement_id}/action-plan",
        ):
            sent.clear()
            answer = await client.get(path, headers=stack.auth(staff))
            assert answer.status_code == 200, answer.text
            await asyncio.sleep(0)  # asyncpg calls its query loggers soon after, not at once
            assert sent and all(q.startswith("SELECT ") and q != "SELECT 1" for q in sent), (path, sent)
            assert len(sent) == 1 or path.startswith("/agreements?"), (path, sent)  # a list may read parties


async def test_a_get_builds_the_callers_actor_once_for_seeing_the_agreement_and_its_allowed_actions(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
):
    from services.api import commands

    staff = stack.user("kota-cirebon", "staff")
    app = create_app(stack.settings)
    async with app_client(app) as client:
        created = await client.post("/agreements", json=_proposal("Air baku: satu aktor"), headers=stack.auth(staff))
        assert created.status_code == 201, created.text
        built: list[Any] = []
        actor_of = commands.actor_of
        monkeypatch.setattr(commands, "actor_of", lambda principal: built.append(principal) or actor_of(principal))
        answer = await client.get(f"/agreements/{created.json()['id']}", headers=stack.auth(staff))
    assert answer.status_code == 200 and answer.json()["allowed_actions"] == created.json()["allowed_actions"]
    assert len(built) == 1


async def test_a_search_repeating_a_word_asks_postgresql_for_it_once(stack: Stack):
    # Every word must be found, so a word typed twice adds nothing but cost: a punctuation
    # mark can use no index, and one typed 100 times was 100 scans of each row's text
    # (11 s of PostgreSQL over 100,000 rows when nothing matched).
    staff = stack.user("kota-cirebon", "staff")
    app = create_app(stack.settings)
    async with app_client(app) as client:
        created = await client.post("/agreements", json=_proposal("Air baku: cari-cari"), headers=stack.auth(staff))
        assert created.status_code == 201, created.text
        sent: list[str] = []
        _note_driver_statements(app, lambda driver, query: sent.append(query.query))
        found = {}
        for q in ("cari-cari -", " ".join(["cari-cari"] * 10 + ["-"] * 45)):
            sent.clear()
            answer = await client.get("/agreements", params={"q": q}, headers=stack.auth(staff))
            assert answer.status_code == 200, answer.text
            await asyncio.sleep(0)  # asyncpg calls its query loggers soon after, not at once
            [listing] = [statement for statement in sent if "agreement_summaries" in statement]
            assert listing.count("ILIKE") == 1 and listing.count("to_tsquery") == 1, listing
            found[q] = [item["id"] for item in answer.json()["items"]]
        assert created.json()["id"] in found["cari-cari -"] and len(set(map(tuple, found.values()))) == 1


async def test_a_search_of_punctuation_alone_reads_no_rows_text(stack: Stack):
    # A mark can use no index: "-" alone was an ILIKE over every row's text (279 ms over
    # 100,000 rows when nothing matched). Marks alone are no search: the list as without q.
    staff = stack.user("kota-cirebon", "staff")
    app = create_app(stack.settings)
    async with app_client(app) as client:
        created = await client.post("/agreements", json=_proposal("Air baku: tanda baca"), headers=stack.auth(staff))
        assert created.status_code == 201, created.text
        sent: list[str] = []
        _note_driver_statements(app, lambda driver, query: sent.append(query.query))
        listed = {}
        for q in ("", "-", "~ ! ... ?"):
            sent.clear()
            answer = await client.get("/agreements", params={"q": q}, headers=stack.auth(staff))
            assert answer.status_code == 200, answer.text
            await asyncio.sleep(0)  # asyncpg calls its query loggers soon after, not at once
            [listing] = [statement for statement in sent if "agreement_summaries" in statement]
            assert "ILIKE" not in listing and "to_tsquery" not in listing, listing
            listed[q] = [item["id"] for item in answer.json()["items"]]
        assert created.json()["id"] in listed[""] and listed["-"] == listed["~ ! ... ?"] == listed[""]


def _note_driver_statements(app: Any, note: Callable[[Any, Any], None], *, before_the_check: bool = False) -> None:
    """Call `note(driver, query)` for every statement asyncpg sends on any of the app's pooled
    connections (the reads and recordings on the driver's connection bypass SQLAlchemy's events).
    `before_the_check`: listen before the pool's own check, so its `SELECT 1` is noted too."""
    logged: set[int] = set()

    def log_the_driver(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        driver = record.driver_connection
        if id(driver) not in logged:
            logged.add(id(driver))
            driver.add_query_logger(lambda query: note(driver, query))

    event.listen(app.state.engine.sync_engine.pool, "checkout", log_the_driver, insert=before_the_check)


async def _drop_backend(stack: Stack, pid: int) -> None:
    """PostgreSQL drops the connection served by backend `pid`, as a restart would."""
    async with stack.sessionmaker() as other:
        assert (await other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})).scalar_one()


def _proposal(title: str) -> dict[str, Any]:
    return {
        "title": title,
        "kind": "ksdd",
        "objectives": "Pengelolaan air baku bersama.",
        "sector": "water",
        "parties": [
            {"org": "kota-cirebon", "role": "initiator", "sector": "government", "signatory": "Wali Kota"},
            {"org": "kab-kuningan", "role": "counterparty", "sector": "government", "signatory": "Bupati"},
        ],
        "start_date": "2027-03-01",
        "duration_months": 24,
    }


async def test_an_action_checks_no_connection_before_its_read_and_a_creation_reads_the_settings_once(
    stack: Stack,
):
    staff = stack.user("kota-cirebon", "staff")
    app = create_app(stack.settings)
    async with app_client(app) as client:
        sent: list[str] = []
        # Before the pool's own check, so that the check's `SELECT 1` is logged too.
        _note_driver_statements(app, lambda driver, query: sent.append(query.query), before_the_check=True)
        created = await client.post("/agreements", json=_proposal("Air baku: tanpa cek"), headers=stack.auth(staff))
        assert created.status_code == 201, created.text
        assert "SELECT 1" in sent  # a creation's connection is checked as it leaves the pool
        assert sum("organisation_settings" in query for query in sent) == 1  # both parties' at once
        sent.clear()
        acted = await client.post(
            f"/agreements/{created.json()['id']}/actions", json={"type": "submit"}, headers=stack.auth(staff)
        )
        assert acted.status_code == 200 and acted.json()["version"] == 2, acted.text
    assert sent and "SELECT 1" not in sent, sent


async def test_an_action_whose_pooled_connection_postgresql_dropped_is_still_carried_out(stack: Stack):
    staff = stack.user("kota-cirebon", "staff")
    app = create_app(stack.settings)
    async with app_client(app) as client:
        created = await client.post("/agreements", json=_proposal("Air baku: koneksi putus"), headers=stack.auth(staff))
        assert created.status_code == 201, created.text
        async with app.state.engine.connect() as conn:  # the connection the creation used, back in the pool
            pid = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        await _drop_backend(stack, pid)
        acted = await client.post(
            f"/agreements/{created.json()['id']}/actions", json={"type": "submit"}, headers=stack.auth(staff)
        )
        assert acted.status_code == 200 and acted.json()["version"] == 2, acted.text
        read = await client.get(f"/agreements/{created.json()['id']}", headers=stack.auth(staff))
        assert read.json() == acted.json()


class _PoolAtTheUpdate(Interceptor):
    """Notes how many of the app's pooled connections are out as each Update is sent, and
    the Update's id."""

    def __init__(self) -> None:
        self.app: Any = None
        self.checked_out: list[int] = []
        self.update_ids: list[str] = []

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        watch = self

        class Noting(OutboundInterceptor):
            async def start_workflow_update(self, input: StartWorkflowUpdateInput) -> WorkflowUpdateHandle[Any]:
                watch.checked_out.append(watch.app.state.engine.sync_engine.pool.checkedout())
                watch.update_ids.append(input.update_id or "")
                return await super().start_workflow_update(input)

        return Noting(next)


async def test_an_action_without_an_idempotency_key_holds_no_connection_while_the_workflow_decides(
    stack: Stack, temporal_env: Any
):
    staff = stack.user("kota-cirebon", "staff")
    watch = _PoolAtTheUpdate()
    client = Client(**{**temporal_env.client.config(), "interceptors": [watch]})
    app = watch.app = create_app(stack.settings, temporal_client=client)
    async with app_client(app) as http:
        created = await http.post("/agreements", json=_proposal("Air baku: koneksi kembali"), headers=stack.auth(staff))
        assert created.status_code == 201, created.text
        path = f"/agreements/{created.json()['id']}/actions"
        acted = await http.post(path, json={"type": "submit"}, headers=stack.auth(staff))
        assert acted.status_code == 200 and acted.json()["version"] == 2, acted.text
        # With a key, its records go through the connection the request holds throughout.
        keyed = {**stack.auth(staff), "Idempotency-Key": "kunci-koneksi-kembali"}
        commented = await http.post(path, json={"type": "comment", "text": "Siap ditinjau."}, headers=keyed)
        assert commented.status_code == 200 and commented.json()["version"] == 3, commented.text
        read = await http.get(f"/agreements/{created.json()['id']}", headers=stack.auth(staff))
        assert read.json() == commented.json()
    assert watch.checked_out == [0, 1]


async def test_each_action_without_an_idempotency_key_is_an_update_of_an_id_of_its_own(stack: Stack, temporal_env: Any):
    staff = stack.user("kota-cirebon", "staff")
    watch = _PoolAtTheUpdate()
    client = Client(**{**temporal_env.client.config(), "interceptors": [watch]})
    app = watch.app = create_app(stack.settings, temporal_client=client)
    async with app_client(app) as http:
        created = await http.post("/agreements", json=_proposal("Air baku: id pembaruan"), headers=stack.auth(staff))
        path = f"/agreements/{created.json()['id']}/actions"
        for text in ("Satu.", "Dua."):
            acted = await http.post(path, json={"type": "comment", "text": text}, headers=stack.auth(staff))
            assert acted.status_code == 200, acted.text
        keyed = {**stack.auth(staff), "Idempotency-Key": "kunci-id-pembaruan"}
        acted = await http.post(path, json={"type": "comment", "text": "Tiga."}, headers=keyed)
        assert acted.status_code == 200 and acted.json()["version"] == 4, acted.text
    first, second, third = watch.update_ids
    assert first != second
    # 96 random bits in 16 base64url characters: short, as history holds it 5–7 times per command
    base64url = set(string.ascii_letters + string.digits + "-_")
    assert all(len(i) == 16 and set(i) <= base64url for i in (first, second))
    assert third == f"{staff.org}/{staff.sub}/kunci-id-pembaruan"  # a retry's Update is the same one


async def test_without_an_opentelemetry_provider_fastapi_asks_for_none_while_serving_requests(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
):
    asked: list[str] = []
    unset = trace.get_tracer_provider()

    def counted() -> trace.TracerProvider:
        asked.append("tracer")
        return unset

    app = create_app(stack.settings)  # built while no provider is set (as in `pakta api`)
    async with app_client(app) as client:
        monkeypatch.setattr(trace, "get_tracer_provider", counted)
        for _ in range(3):
            assert (await client.get("/healthz")).status_code == 200
    assert asked == []


async def test_fastapi_keeps_its_opentelemetry_for_each_signal_whose_provider_is_set_when_the_app_is_built():
    assert native_telemetry() == {"tracing": False, "metrics": False, "logs": False}
    assert native_telemetry(tracer_provider=trace.NoOpTracerProvider()) == {
        "tracing": True,
        "metrics": False,
        "logs": False,
    }
    assert native_telemetry(meter_provider=metrics.NoOpMeterProvider(), logger_provider=_logs.NoOpLoggerProvider()) == {
        "tracing": False,
        "metrics": True,
        "logs": True,
    }


async def test_each_request_gets_an_id_of_its_own_as_32_hex_digits(stack: Stack):
    async with app_client(create_app(stack.settings)) as client:
        ids = {(await client.get("/healthz")).headers["x-request-id"] for _ in range(20)}
    assert len(ids) == 20
    assert all(len(i) == 32 and set(i) <= set("0123456789abcdef") for i in ids)


async def test_the_web_list_and_agreement_page_read_without_a_transaction_or_a_check(stack: Stack):
    """As the API's GETs: the web session's zone and the page's reads, each statement its
    own — no `SELECT 1` before them, no BEGIN or COMMIT around them."""
    staff = stack.user("kota-cirebon", "staff")
    app = create_app(stack.settings)
    async with app_client(app) as client:
        created = await client.post("/agreements", json=_proposal("Air baku: halaman web"), headers=stack.auth(staff))
        assert created.status_code == 201, created.text
        signin = await client.get("/ui/signin")
        csrf = re.search(r'name="csrf" value="([^"]+)"', signin.text)
        assert csrf is not None
        token = stack.auth(staff)["Authorization"].removeprefix("Bearer ")
        signed_in = await client.post("/ui/signin", data={"csrf": csrf[1], "token": token, "next": "/ui/"})
        assert signed_in.status_code == 303, signed_in.text
        sent: list[str] = []
        _note_driver_statements(
            app, lambda driver, query: sent.append(" ".join(query.query.split())), before_the_check=True
        )
        for path in ("/ui/agreements?q=halaman", f"/ui/agreements/{created.json()['id']}"):
            sent.clear()
            page = await client.get(path)
            assert page.status_code == 200 and "Air baku: halaman web" in page.text, (path, page.text[:300])
            await asyncio.sleep(0)  # asyncpg calls its query loggers soon after, not at once
            assert any("organisation_settings" in q for q in sent), (path, sent)  # the reader's zone
            assert sent and all(q.startswith("SELECT ") and q != "SELECT 1" for q in sent), (path, sent)


async def test_the_agreement_page_reads_the_register_once_and_only_for_a_party_recorded_without_a_name_and_a_list_once(
    stack: Stack,
):
    """An agreement recorded before the register's names were filled in is shown with them
    (services.api.party_names): one statement for all its parties; an agreement whose parties
    are named (every one recorded since) sends none."""
    tag = uuid.uuid4().hex[:6]
    org, partner = f"kota-{tag}", f"kab-{tag}"
    staff = stack.user(org, "staff")
    app = create_app(stack.settings)
    async with app_client(app) as client:
        ids = []
        for names in ((None, None), ("Pemerintah Kota", "Pemerintah Kabupaten")):
            body = _proposal("Air baku: nama para pihak")
            body["parties"][0]["org"], body["parties"][1]["org"] = org, partner
            for p, name in zip(body["parties"], names, strict=True):
                p["name"] = name
            created = await client.post("/agreements", json=body, headers=stack.auth(staff))
            assert created.status_code == 201, created.text
            ids.append(created.json()["id"])
        signin = await client.get("/ui/signin")
        csrf = re.search(r'name="csrf" value="([^"]+)"', signin.text)
        assert csrf is not None
        token = stack.auth(staff)["Authorization"].removeprefix("Bearer ")
        signed_in = await client.post("/ui/signin", data={"csrf": csrf[1], "token": token, "next": "/ui/"})
        assert signed_in.status_code == 303, signed_in.text
        sent: list[str] = []
        _note_driver_statements(app, lambda driver, query: sent.append(" ".join(query.query.split())))
        register_reads = []
        for agreement_id in ids:
            sent.clear()
            page = await client.get(f"/ui/agreements/{agreement_id}")
            assert page.status_code == 200, page.text[:300]
            await asyncio.sleep(0)  # asyncpg calls its query loggers soon after, not at once
            register_reads.append([q for q in sent if "FROM organisations " in q])
        unnamed, named = register_reads
        assert len(unnamed) == 1 and "ANY" in unnamed[0], unnamed
        assert named == []
        # The list names its rows' parties by the register: one read for the page, not per row.
        sent.clear()
        listed = await client.get("/ui/agreements?q=nama+para+pihak")
        assert listed.status_code == 200 and all(i in listed.text for i in ids)
        await asyncio.sleep(0)
        assert len([q for q in sent if "FROM organisations " in q]) == 1, sent


async def test_an_upload_is_one_statement_committed_on_its_own_without_a_check_or_a_transaction(stack: Stack):
    staff = stack.user("kota-cirebon", "staff")
    app = create_app(stack.settings)
    content = f"# Draf {uuid.uuid4()}\n\nPasal 1.\n".encode()
    async with app_client(app) as client:
        sent: list[tuple[str, bool]] = []
        _note_driver_statements(
            app, lambda driver, query: sent.append((query.query, driver.is_in_transaction())), before_the_check=True
        )
        headers = {**stack.auth(staff), "Content-Type": "text/markdown"}
        first = await client.post("/documents", content=content, headers=headers)
        assert first.status_code == 201, first.text
        await asyncio.sleep(0)  # asyncpg calls its query loggers soon after the statement
        assert [(query.split()[0], in_transaction) for query, in_transaction in sent] == [("INSERT", False)]
        sent.clear()
        again = await client.post("/documents", content=content, headers=headers)
        assert again.status_code == 201 and again.json() == first.json()
        await asyncio.sleep(0)
        # The same bytes again: nothing inserted, the first upload's record read.
        assert [query.split()[0] for query, _ in sent] == ["INSERT", "SELECT"]
    async with stack.sessionmaker() as session:
        stored = await queries.get_document(session, org="kota-cirebon", sha256=first.json()["sha256"])
    assert stored is not None and stored.content == content


async def test_an_upload_whose_pooled_connection_postgresql_dropped_is_stored_once(stack: Stack):
    staff = stack.user("kota-cirebon", "staff")
    app = create_app(stack.settings)
    content = f"# Draf {uuid.uuid4()}\n\nPasal 2.\n".encode()
    async with app_client(app) as client:
        headers = {**stack.auth(staff), "Content-Type": "text/markdown"}
        warm = await client.post("/documents", content=b"# warm\n", headers=headers)
        assert warm.status_code == 201, warm.text
        # The connection the first upload used, back in the pool, dropped while it sits there.
        async with app.state.engine.connect() as connection:
            pid = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        await _drop_backend(stack, pid)
        uploaded = await client.post("/documents", content=content, headers=headers)
        assert uploaded.status_code == 201, uploaded.text
    async with stack.sessionmaker() as session:
        stored = await queries.get_document(session, org="kota-cirebon", sha256=uploaded.json()["sha256"])
    assert stored is not None and stored.content == content
