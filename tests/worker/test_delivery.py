"""Notification delivery against real parts: NotifyWorkflow on the Temporal dev server with
the real activities, the embedded PostgreSQL, a real SMTP server (aiosmtpd) and a real HTTP
receiver that verifies signatures with the `standardwebhooks` library. Everything listens
on 127.0.0.1; every test uses organisations of its own so no other test sees its contacts
or endpoints."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import uuid
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, update
from temporalio.client import WorkflowHistory
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment
from temporalio.worker import Replayer, Worker

from services.notifying import webhook
from services.store import notifications as store
from services.store.db import session_scope
from services.temporal_client import DATA_CONVERTER
from services.worker.activities.notify import NotifyActivities
from services.worker.channels import email as mail
from services.worker.registry import activities, workflow_runner
from tests.fixtures.servers import start_time_skipping_server
from tests.receivers import WEBHOOK_TIMEOUT, MailSink, WebhookReceiver, block_first, flaky, ok, status
from workflows import lifecycle as L
from workflows import messages as m
from workflows.contracts import notify as c
from workflows.notify.workflow import NotifyWorkflow
from workflows.timeline import next_office_moment

pytestmark = pytest.mark.asyncio(loop_scope="session")
ROOT = Path(__file__).resolve().parents[2]
HISTORIES = Path(__file__).parents[1] / "histories"
NOW = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)


# ---------------------------------------------------------------- helpers (the fixtures are in conftest.py)


# Long enough for a retry or two after the first attempt even on a loaded machine: the
# give-up clock starts before the first attempt (the activity's schedule-to-close when the
# plan is made, before a worker slot is free; an outbox row's when it is recorded, before
# the dispatcher claims it), and at 1.5 s a busy CI run once gave up before the first retry.
GIVE_UP_SOON = 4 / 3600


def fast(settings, sink: MailSink | None = None, **overrides):
    """Settings with short retry intervals, pointing at the test SMTP server."""
    return settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": sink.port if sink else 9,
            "delivery_retry_initial_seconds": 0.1,
            "delivery_retry_max_seconds": 0.5,
            "webhook_timeout_seconds": WEBHOOK_TIMEOUT,  # see there: leases follow it (`lease_ended`)
            "public_url": "https://pakta.test",
            **overrides,
        }
    )


@asynccontextmanager
async def notify_worker(env, settings, sessionmaker, task_queue):
    async with Worker(
        env.client,
        task_queue=task_queue,
        workflows=[NotifyWorkflow],
        workflow_runner=workflow_runner(),
        activities=activities(settings, sessionmaker),
    ):
        yield env.client


def submitted(orgs: tuple[str, str]) -> tuple[list[m.Event], m.AgreementState]:
    """A KSDD between the two organisations, just submitted: the batch NotifyWorkflow gets
    (agreement_submitted, then step_entered opening the review gate for both regions)."""
    a, b = orgs
    parties = [
        m.Party(org=a, role="initiator", sector="government", signatory=f"Head of {a}"),
        m.Party(org=b, role="counterparty", sector="government", signatory=f"Head of {b}"),
    ]
    proposal = m.Proposal(
        title="Pengelolaan sampah regional",
        kind="ksdd",
        objectives="TPPAS.",
        sector="environment",
        parties=parties,
        start_date="2027-02-01",
        duration_months=60,
    )
    staff = m.Actor(sub=f"staff@{a}", org=a, roles=["staff"])
    state = L.evolve(None, L.create(proposal, staff, NOW, str(uuid.uuid4()))[0])
    events = L.decide(state, m.Submit(), staff, NOW)
    for event in events:
        state = L.evolve(state, event)
    return events, state


async def notify(client, task_queue, events, state, run: str = "") -> c.NotifyResult:
    return await client.execute_workflow(
        NotifyWorkflow.run,
        c.NotifyInput(agreement_id=state.id, events=events, state=state),
        id=c.notify_workflow_id(state.id, events[0].seq) + run,
        task_queue=task_queue,
        result_type=c.NotifyResult,
    )


async def add_contact(sessionmaker, org, email, roles, **kw):
    async with session_scope(sessionmaker) as session:
        return await store.create_contact(
            session,
            org=org,
            name=kw.pop("name", email.split("@")[0]),
            email=email,
            roles=roles,
            created_by="test",
            **kw,
        )


async def add_endpoint(sessionmaker, receiver: WebhookReceiver, org: str, path: str, events=("*",)):
    secret = webhook.new_secret()
    receiver.secrets[path] = secret
    async with session_scope(sessionmaker) as session:
        return await store.create_endpoint(
            session, org=org, url=receiver.url(path), events=events, secret=secret, created_by="test"
        )


async def delivery(sessionmaker, event_id, recipient, channel):
    async with session_scope(sessionmaker) as session:
        return await store.get_delivery(session, event_id=event_id, recipient=recipient, channel=channel)


# ---------------------------------------------------------------- email


async def test_email_reaches_matching_contacts_in_their_language(
    temporal_env, settings, sessionmaker, sink, orgs, task_queue
):
    a, b = orgs
    await add_contact(
        sessionmaker,
        a,
        f"tkksd@{a}.go.id",
        ["approver"],
        gates=["review"],
        language="en",
        name="Budi",
        time_zone="Asia/Makassar",
    )
    await add_contact(sessionmaker, a, f"Siti@{a}.go.id", ["staff", "partner"], name="Siti")
    await add_contact(sessionmaker, a, f"ttd@{a}.go.id", ["signatory"])  # nothing for signatories yet
    await add_contact(sessionmaker, b, f"mitra@{b}.go.id", ["partner"], opt_out=["email"])
    await add_contact(sessionmaker, b, f"staf@{b}.go.id", ["staff"], opt_out=["agreement_submitted"])
    await add_contact(sessionmaker, b, f"dprd@{b}.go.id", ["approver"], gates=["dprd"])  # another gate

    events, state = submitted(orgs)
    config = fast(settings, sink)
    async with notify_worker(temporal_env, config, sessionmaker, task_queue) as client:
        result = await notify(client, task_queue, events, state)
        # Both regions' review approvers, both parties' staff and partners, in the inbox.
        assert (result.notifications, result.inbox, result.emails, result.failed) == (6, 6, 2, 0)

        (approver_mail,) = sink.to(f"tkksd@{a}.go.id")
        assert approver_mail["Subject"] == "Awaiting your decision (TKKSD review): Pengelolaan sampah regional"
        assert approver_mail["Content-Language"] == "en" and approver_mail["To"] == f"Budi <tkksd@{a}.go.id>"
        assert approver_mail["From"] == config.mail_from and approver_mail["Auto-Submitted"] == "auto-generated"
        assert approver_mail["Message-ID"] == mail.message_id(events[1].id, f"tkksd@{a}.go.id")
        assert approver_mail.get_content_type() == "multipart/alternative"
        text = approver_mail.get_body(("plain",)).get_content()
        html = approver_mail.get_body(("html",)).get_content()
        assert text.startswith("Dear Budi,") and f"for {a}" in text and "WITA" in text
        assert f'href="https://pakta.test/agreements/{state.id}"' in html and "&#34;Pengelolaan" in html

        (staff_mail,) = sink.to(f"siti@{a}.go.id")  # one mail though Siti is in two audiences
        assert staff_mail["Subject"] == "Kerja sama diajukan: Pengelolaan sampah regional"
        assert staff_mail["Content-Language"] == "id"
        assert staff_mail.get_body(("plain",)).get_content().startswith("Yth. Siti,")
        assert "Usulan kerja sama" in staff_mail.get_body(("html",)).get_content()
        assert len(sink.messages) == 2  # opted out, other gate, other role: nothing

        # Running the batch again (a reset, a duplicate start) delivers nothing twice.
        again = await notify(client, task_queue, events, state, run="-again")
        assert (again.inbox, again.emails) == (6, 2) and len(sink.messages) == 2
    row = await delivery(sessionmaker, events[1].id, f"tkksd@{a}.go.id", "email")
    assert row["status"] == "sent" and row["attempts"] == 1


@pytest.fixture
async def own_time_skipping_env():
    """A time-skipping server of its own: workflows other tests left behind (their workers
    gone) would keep the shared one's clock from skipping."""
    async with await start_time_skipping_server() as env:
        yield env


async def test_reminders_wait_for_office_hours_where_the_reader_is(
    own_time_skipping_env, settings, sessionmaker, sink, orgs, task_queue
):
    """A reminder due at night or on a weekend for its reader reaches them when their
    office opens (a durable timer in the delivery workflow)."""
    time_skipping_env = own_time_skipping_env
    a, _ = orgs
    await add_contact(
        sessionmaker, a, f"kantor@{a}.go.id", ["approver"], gates=["review"], time_zone="Europe/Amsterdam"
    )
    events, state = submitted(orgs)
    reminder = events[-1].model_copy(
        update={
            "id": str(uuid.uuid4()),
            "seq": state.seq + 1,
            "type": "deadline_reminder",
            "data": {"step": "persiapan", "due_at": "2027-01-18T02:00:00+00:00", "days_before": 7},
        }
    )
    # The review gate's approver at `a` is a contact in Amsterdam: its office hours rule.
    # Skip ahead to a Saturday noon (UTC), whenever the suite runs: then it must wait.
    now = await time_skipping_env.get_current_time()
    await time_skipping_env.sleep(timedelta(days=(5 - now.weekday()) % 7 or 7, hours=12 - now.hour))
    started = await time_skipping_env.get_current_time()
    opens = next_office_moment(started, "Europe/Amsterdam")
    assert started.weekday() == 5 and opens - started > timedelta(hours=36)
    async with notify_worker(time_skipping_env, fast(settings, sink), sessionmaker, task_queue) as client:
        result = await notify(client, task_queue, [reminder], state)
        assert result.emails == 1
        assert await time_skipping_env.get_current_time() >= opens
    (mail_,) = sink.to(f"kantor@{a}.go.id")
    assert "Pengingat" in mail_["Subject"]


async def test_mail_server_down_retries_then_gives_up(temporal_env, settings, sessionmaker, orgs, task_queue):
    a, _ = orgs
    await add_contact(sessionmaker, a, f"siti@{a}.go.id", ["staff"])
    events, state = submitted(orgs)
    config = fast(settings, None, delivery_give_up_hours=GIVE_UP_SOON)  # nothing listens on port 9
    async with notify_worker(temporal_env, config, sessionmaker, task_queue) as client:
        result = await notify(client, task_queue, events, state)
    assert (result.emails, result.failed, result.inbox) == (0, 1, 6)
    row = await delivery(sessionmaker, events[0].id, f"siti@{a}.go.id", "email")
    assert row["status"] == "failed" and row["attempts"] > 1 and "SMTP" in row["last_error"]


# ---------------------------------------------------------------- webhooks


async def test_webhooks_are_signed_retried_and_filtered(
    temporal_env, settings, sessionmaker, receiver, orgs, task_queue
):
    a, b = orgs
    receiver.behaviours = {"/flaky": flaky(2), "/ok": ok}
    everything = await add_endpoint(sessionmaker, receiver, a, "/flaky")
    only_withdrawals = await add_endpoint(sessionmaker, receiver, a, "/withdrawn", events=["agreement_withdrawn"])
    only_submissions = await add_endpoint(sessionmaker, receiver, b, "/ok", events=["agreement_submitted"])
    outsider = await add_endpoint(sessionmaker, receiver, f"x-{a}", "/outsider")  # party to nothing

    events, state = submitted(orgs)
    async with notify_worker(temporal_env, fast(settings), sessionmaker, task_queue) as client:
        result = await notify(client, task_queue, events, state)
    assert (result.webhooks, result.failed) == (3, 0)

    # Two 503s then a 200 per event: three attempts each, all signed, one processed.
    assert receiver.raw_counts("/flaky") == {events[0].id: 3, events[1].id: 3}
    assert all(r.verified for r in receiver.requests)
    assert receiver.at("/withdrawn") == [] and receiver.at("/outsider") == []
    assert receiver.raw_counts("/ok") == {events[0].id: 1}

    body = receiver.processed[("/ok", events[0].id)]
    assert body == {
        "id": events[0].id,
        "type": "agreement_submitted",
        "agreement_id": state.id,
        "seq": events[0].seq,
        "version": events[0].version,
        "at": "2027-01-04T09:00:00Z",
        "data": json.loads(json.dumps(events[0].data)),
    }
    request = receiver.at("/ok")[0]
    assert request.headers["webhook-id"] == events[0].id
    assert request.headers["webhook-signature"].startswith("v1,")
    assert request.headers["content-type"] == "application/json"

    async with session_scope(sessionmaker) as session:
        attempts = await store.list_attempts(session, endpoint_id=everything.id)
        endpoint = await store.get_endpoint(session, endpoint_id=everything.id)
    assert sorted((x.event_id, x.attempt, x.status_code) for x in attempts) == sorted(
        (e.id, n, code) for e in events for n, code in ((1, 503), (2, 503), (3, 200))
    )
    assert all(x.finished_at and x.duration_ms is not None for x in attempts)
    assert endpoint.enabled and endpoint.failing_since is None  # healthy again after the 200s
    row = await delivery(sessionmaker, events[1].id, everything.id, "webhook")
    assert row["status"] == "sent" and row["attempts"] == 3
    assert only_withdrawals.id and outsider.id and only_submissions.id


async def test_a_refusal_is_not_retried(temporal_env, settings, sessionmaker, receiver, orgs, task_queue):
    a, _ = orgs
    receiver.behaviours = {"/refuse": status(400), "/busy": flaky(1)}
    refusing = await add_endpoint(sessionmaker, receiver, a, "/refuse", events=["agreement_submitted"])
    await add_endpoint(sessionmaker, receiver, a, "/busy", events=["agreement_submitted"])
    receiver.behaviours["/busy"] = _too_many_then_ok
    events, state = submitted(orgs)
    async with notify_worker(temporal_env, fast(settings), sessionmaker, task_queue) as client:
        result = await notify(client, task_queue, events, state)
    assert (result.webhooks, result.failed, result.disabled_endpoints) == (1, 1, [])
    assert len(receiver.at("/refuse")) == 1  # a 400 is final
    assert len(receiver.at("/busy")) == 2  # a 429 is retried
    row = await delivery(sessionmaker, events[0].id, refusing.id, "webhook")
    assert row["status"] == "failed" and row["last_error"].startswith("HTTP 400")
    async with session_scope(sessionmaker) as session:
        assert (await store.get_endpoint(session, endpoint_id=refusing.id)).enabled


async def _too_many_then_ok(receiver: WebhookReceiver, request) -> int:
    return 429 if receiver.attempts_of(request) == 1 else 200


async def test_an_endpoint_failing_too_long_is_disabled_and_its_staff_told(
    temporal_env, settings, sessionmaker, receiver, sink, orgs, task_queue
):
    a, _ = orgs
    receiver.behaviours = {"/down": status(503)}
    down = await add_endpoint(sessionmaker, receiver, a, "/down")
    await add_contact(sessionmaker, a, f"siti@{a}.go.id", ["staff"], language="en")
    events, state = submitted(orgs)
    config = fast(settings, sink, delivery_give_up_hours=GIVE_UP_SOON, webhook_disable_after_hours=0)
    async with notify_worker(temporal_env, config, sessionmaker, task_queue) as client:
        result = await notify(client, task_queue, events, state)
    assert result.failed == 2 and result.disabled_endpoints == [down.id]  # told once, not per event
    if os.environ.get("PAKTA_CAPTURE_HISTORY"):  # refresh the saved history on purpose only
        history = await temporal_env.client.get_workflow_handle(
            c.notify_workflow_id(state.id, events[0].seq)
        ).fetch_history()
        (HISTORIES / "notify_webhook_disabled.json").write_text(history.to_json())
    assert len(receiver.at("/down")) > 2
    async with session_scope(sessionmaker) as session:
        endpoint = await store.get_endpoint(session, endpoint_id=down.id)
        inbox = await store.list_inbox(session, sub="siti", org=a, roles=["staff"], gates=[])
    assert not endpoint.enabled and endpoint.disabled_at and endpoint.disabled_reason.startswith("HTTP 503")
    notice = next(n for n in inbox if n.template == "webhook_disabled")
    assert notice.data["endpoint_id"] == down.id and notice.data["url"] == receiver.url("/down")
    mails = [m for m in sink.to(f"siti@{a}.go.id") if m["Subject"].startswith("Webhook disabled")]
    assert len(mails) == 1 and receiver.url("/down") in mails[0]["Subject"]


# ---------------------------------------------------------------- exactly once


async def test_a_delivery_executed_twice_sends_once(settings, sessionmaker, receiver, sink, orgs):
    a, _ = orgs
    receiver.behaviours = {"/slow": _held_ok}
    endpoint = await add_endpoint(sessionmaker, receiver, a, "/slow")
    events, state = submitted(orgs)
    # `fast`'s timeout is far longer than the hold below, which lasts as long as the second
    # execution takes on this machine: the first's request is answered, never timed out.
    acts = NotifyActivities(fast(settings, sink), sessionmaker)
    env = ActivityEnvironment()
    hook = c.DeliverWebhookInput(event=events[0], endpoint_id=endpoint.id)

    # Two executions at once (Temporal retried while the first still ran): the lease lets
    # one send; the other is told to retry later. The first's request is held at the
    # receiver until the second has been told, however slow the machine.
    first = asyncio.create_task(env.run(acts.deliver_webhook, hook))
    await receiver.blocked.wait()
    with pytest.raises(ApplicationError) as busy:
        await env.run(acts.deliver_webhook, hook)
    receiver.release.set()
    assert (await first).outcome == "sent" and busy.value.type == "delivery_busy"
    # Executed again after it succeeded (a retry whose completion was lost, a replay).
    assert (await env.run(acts.deliver_webhook, hook)).outcome == "duplicate"
    assert receiver.raw_counts("/slow") == {events[0].id: 1}

    plan = await env.run(acts.plan_deliveries, c.PlanInput(agreement_id=state.id, events=events, state=state))
    staff_note = next(n for n in plan.notifications if n.audience.key == f"{a}/staff/*")
    letter = c.DeliverEmailInput(
        notification=staff_note, recipient=c.EmailRecipient(address=f"Siti@{a}.go.id", name="Siti")
    )
    assert (await env.run(acts.deliver_email, letter)).outcome == "sent"
    assert (await env.run(acts.deliver_email, letter)).outcome == "duplicate"
    assert len(sink.to(f"siti@{a}.go.id")) == 1
    inbox = c.DeliverInboxInput(notification=staff_note)
    assert [(await env.run(acts.deliver_inbox, inbox)).outcome for _ in range(2)] == ["sent", "duplicate"]


@pytest.mark.parametrize("mail_from", ["Pakta <pakta@ñ.example>", '"pakta\x01"@pakta.example'])
async def test_a_sender_address_no_envelope_can_carry_is_retried_and_its_claim_released(
    settings, sessionmaker, sink, orgs, mail_from
):
    # PAKTA_MAIL_FROM is a setting to mend, as a refused login: the mail waits for it
    # (retried), never given up; the claim is let go at once, so the retry after the mend
    # does not wait out the lease — as the outbox dispatcher's connections do.
    events, state = submitted(orgs)
    env = ActivityEnvironment()
    broken = NotifyActivities(fast(settings, sink, mail_from=mail_from), sessionmaker)
    plan = await env.run(broken.plan_deliveries, c.PlanInput(agreement_id=state.id, events=events, state=state))
    note = next(n for n in plan.notifications if n.audience.key == f"{orgs[0]}/staff/*")
    letter = c.DeliverEmailInput(notification=note, recipient=c.EmailRecipient(address=f"siti@{orgs[0]}.go.id"))
    with pytest.raises(ApplicationError) as raised:
        await env.run(broken.deliver_email, letter)
    assert raised.value.type == "email_unavailable" and not raised.value.non_retryable
    assert "PAKTA_MAIL_FROM" in str(raised.value) and not sink.messages
    row = await delivery(sessionmaker, note.event_id, f"siti@{orgs[0]}.go.id", "email")
    assert row["status"] == "sending" and row["claimed_until"] is None and "PAKTA_MAIL_FROM" in row["last_error"]

    mended = NotifyActivities(fast(settings, sink), sessionmaker)
    assert (await env.run(mended.deliver_email, letter)).outcome == "sent"
    assert len(sink.to(f"siti@{orgs[0]}.go.id")) == 1


async def _held_ok(receiver: WebhookReceiver, request) -> int:
    """200, once the receiver is told to let go."""
    receiver.blocked.set()
    await receiver.release.wait()
    return 200


async def test_a_worker_killed_mid_delivery_delivers_once_after_restart(
    temporal_env, settings, sessionmaker, receiver, orgs, task_queue
):
    """A `pakta worker` process is SIGKILLed while a webhook request is in flight (the
    receiver holds it); a new worker takes over. Endpoints already served are not served
    again; the interrupted delivery is retried with the same webhook-id, so the receiver,
    deduplicating on it as the spec asks, processes every (event, endpoint) once."""
    a, b = orgs
    receiver.behaviours = {"/ok": ok, "/hold": block_first}
    served = await add_endpoint(sessionmaker, receiver, b, "/ok", events=["agreement_submitted"])
    held = await add_endpoint(sessionmaker, receiver, a, "/hold", events=["step_entered"])
    config = fast(settings, None)
    target = temporal_env.client.service_client.config.target_host
    env = {
        **os.environ,
        "PAKTA_DATABASE_URL": config.database_url,
        "PAKTA_TEMPORAL_ADDRESS": target,
        "PAKTA_TEMPORAL_TASK_QUEUE": task_queue,
        "PAKTA_METRICS_PORT": "0",
        "PAKTA_LOG_JSON": "false",
        "PAKTA_WEBHOOK_TIMEOUT_SECONDS": str(config.webhook_timeout_seconds),
        "PAKTA_DELIVERY_RETRY_INITIAL_SECONDS": "0.1",
        "PAKTA_DELIVERY_RETRY_MAX_SECONDS": "0.5",
        "PAKTA_SMTP_PORT": "9",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.cli",
        "worker",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    events, state = submitted(orgs)
    try:
        handle = await temporal_env.client.start_workflow(
            NotifyWorkflow.run,
            c.NotifyInput(agreement_id=state.id, events=events, state=state),
            id=c.notify_workflow_id(state.id, events[0].seq),
            task_queue=task_queue,
            result_type=c.NotifyResult,
        )
        await asyncio.wait_for(receiver.blocked.wait(), timeout=60)
        # Kill once the other delivery is logged as sent (killing between the receiver's
        # 200 and that log entry is the window only the webhook-id covers). The held request
        # cannot time out meanwhile, however long that takes (`WEBHOOK_TIMEOUT`).
        await _until_async(lambda: _status(sessionmaker, events[0].id, served.id), "sent", timeout=30)
        process.send_signal(signal.SIGKILL)
        await process.wait()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert receiver.raw_counts("/hold") == {events[1].id: 1}  # in flight when the worker died

    # Temporal notices the dead worker when the attempt's start-to-close timeout runs out, and
    # the claim is kept until its lease does (2 and 1.5 times the webhook timeout): both
    # moved on here by the test, as their time would.
    await _attempt_timed_out(temporal_env.client, handle, held.id)
    await lease_ended(sessionmaker, events[1].id, held.id)
    async with notify_worker(temporal_env, config, sessionmaker, task_queue):
        result = await asyncio.wait_for(handle.result(), timeout=90)
    assert (result.webhooks, result.failed) == (2, 0)
    assert receiver.raw_counts("/ok") == {events[0].id: 1}  # done before the kill: not redone
    # The interrupted one went out again, under the same webhook-id ...
    assert receiver.raw_counts("/hold") == {events[1].id: 2}
    assert all(r.verified for r in receiver.requests)
    # ... and the receiver acted once per (event, endpoint).
    assert sorted(receiver.processed) == sorted([("/ok", events[0].id), ("/hold", events[1].id)])
    async with session_scope(sessionmaker) as session:
        attempts = await store.list_attempts(session, endpoint_id=held.id)
    # Both attempts are on record; the first never finished.
    assert sorted((x.attempt, x.status_code, x.finished_at is None) for x in attempts) == [
        (1, None, True),
        (2, 200, False),
    ]
    assert (await delivery(sessionmaker, events[1].id, held.id, "webhook"))["status"] == "sent"
    assert served.id


async def _attempt_timed_out(client, handle, endpoint_id: str) -> None:
    """The running attempt of the workflow's delivery to `endpoint_id` failed as its
    start-to-close timeout would fail it (retried by its policy), by its activity id."""
    history = await handle.fetch_history()
    (activity_id,) = {
        scheduled.activity_id
        for event in history.events
        if event.HasField("activity_task_scheduled_event_attributes")
        and (scheduled := event.activity_task_scheduled_event_attributes).activity_type.name == c.DELIVER_WEBHOOK
        and any(endpoint_id.encode() in payload.data for payload in scheduled.input.payloads)
    }
    attempt = client.get_async_activity_handle(workflow_id=handle.id, run_id=None, activity_id=activity_id)
    await attempt.fail(ApplicationError("its worker was killed (the start-to-close timeout, run out by the test)"))


async def lease_ended(sessionmaker, event_id: str, recipient: str, channel: str = "webhook") -> None:
    """The delivery's claim runs out now, as it would at the end of its lease."""
    async with session_scope(sessionmaker) as session:
        await session.execute(
            update(store.DELIVERIES)
            .where(
                store.DELIVERIES.c.event_id == event_id,
                store.DELIVERIES.c.recipient == recipient,
                store.DELIVERIES.c.channel == channel,
                store.DELIVERIES.c.claimed_until.is_not(None),
            )
            .values(claimed_until=func.now() - timedelta(seconds=1))
        )


async def _status(sessionmaker, event_id, recipient) -> str | None:
    row = await delivery(sessionmaker, event_id, recipient, "webhook")
    return row["status"] if row else None


async def _until_async(probe, expected, timeout: float) -> None:  # noqa: ASYNC109 -- a test helper's own bound
    async with asyncio.timeout(timeout):
        while await probe() != expected:  # noqa: ASYNC110 -- polls the database a workflow writes
            await asyncio.sleep(0.05)


async def test_saved_notify_histories_replay_on_current_code():
    """NotifyWorkflows live for days (webhook retries): a change that would break the ones
    in flight fails here. The saved run plans, retries, gives up, disables an endpoint and
    tells its staff."""
    files = sorted(HISTORIES.glob("notify_*.json"))
    assert files, "no saved notify histories"
    replayer = Replayer(workflows=[NotifyWorkflow], data_converter=DATA_CONVERTER)
    for path in files:
        await replayer.replay_workflow(WorkflowHistory.from_json(path.stem, json.loads(path.read_text())))
