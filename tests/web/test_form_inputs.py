"""The web forms' inputs the earlier passes read but did not send (#11): what a refused form
keeps, numbers past Babel's 28 digits, a field sent as a file, and the proposal's edit form
itself. Against the live stack (tests/web/conftest.py): the real app, PostgreSQL, Temporal
and a worker."""

from __future__ import annotations

import re
from datetime import date

import httpx
from sqlalchemy import func, select

from services.api import commands
from services.auth import Principal
from services.store.models import Document, PublicFeedback
from tests.web.live import LiveStack, csrf_of
from tests.web.test_implementation import plan_proposal
from tests.web.test_pages import proposal
from tests.web.test_public import act, in_implementation_with_a_score
from workflows import messages as m


async def documents_of(web: LiveStack, org: str) -> int:
    async with web.sessionmaker() as session:
        counted = select(func.count()).select_from(Document).where(Document.org == org)
        return int((await session.execute(counted)).scalar_one())


async def withdrawn(web: LiveStack, province: str, regency: str) -> str:
    staff = web.user(province, "staff")
    created = await web.api(staff, "POST", "/agreements", json=proposal(province, regency))
    agreement_id = str(created.json()["id"])
    gone = await web.api(
        staff, "POST", f"/agreements/{agreement_id}/actions", json={"type": "withdraw", "reason": "Tidak jadi."}
    )
    assert gone.status_code == 200, gone.text
    return agreement_id


async def test_a_refused_form_keeps_none_of_the_documents_it_uploaded(web: LiveStack, orgs):
    # The form stores its draft text, scan or evidence before the command is decided, and the
    # request's session commits at the edge: a refused form left its documents behind.
    province, regency = orgs
    agreement_id = await withdrawn(web, province, regency)  # every command is refused now
    client = await web.signed_in_client(web.user(province, "staff"))
    csrf = csrf_of((await client.get(f"/ui/agreements/{agreement_id}")).text)
    pdf = ("scan.pdf", b"%PDF-1.4 ditolak\n", "application/pdf")
    before = await documents_of(web, province)
    for path, fields, files in (
        ("act", {"type": "submit_draft", "text": "Naskah yang ditolak."}, None),
        ("act", {"type": "sign", "version": "1", "method": "wet_ink", "signed_by": "Gubernur"}, {"scan": pdf}),
        ("plan", {"type": "report_progress", "activity": "A1", "percent": "50"}, {"evidence": pdf}),
    ):
        resp = await client.post(f"/ui/agreements/{agreement_id}/{path}", data={"csrf": csrf, **fields}, files=files)
        assert resp.status_code == 409 and 'role="alert"' in resp.text, (fields["type"], resp.status_code)
    assert await documents_of(web, province) == before
    await client.aclose()


async def test_an_agreement_whose_numbers_are_beyond_the_bound_shows_them_in_scientific_notation(
    web: LiveStack, orgs, temporal_env
):
    # Figures beyond 10^15 are refused where a party writes them now, but agreements may hold
    # some recorded before (the workflow takes any finite float, so its history replays).
    # Babel formats in the decimal module's 28 digits: a target or a measurement of 10^25 or
    # more made the agreement's page and its PDF a 500 for everyone from then on, and once
    # formatted, 10^308 came with every one of its 309 digits. A measurement of 1e300 over a
    # target of 1e-300 is an infinite share of it, which `round` refused.
    province, regency = orgs
    staff = web.user(province, "staff")
    admin = web.user(province, "admin")
    body = plan_proposal(province, regency)
    body["indicators"] = [
        {"name": "Sambungan rumah", "target": 1e308, "unit": "SR"},
        {"name": "Debit air", "target": 1e-300, "unit": "l/s"},
    ]
    signed = await web.api(admin, "POST", "/documents", content=b"PKS besar\n", headers={"Content-Type": "text/plain"})
    record = {"ref": f"PKS/{province}/besar", "signed_on": "2026-01-20", "document": signed.json()["sha256"]}
    # Recorded as before the bound: straight to the workflow, past the API's edge.
    principal = Principal(sub=admin.sub, org=province, roles=list(admin.roles))
    async with web.sessionmaker() as session:
        snapshot, _ = await commands.start_agreement(
            temporal_env.client,
            session,
            task_queue=web.settings.temporal_task_queue,
            principal=principal,
            idempotency_key=None,
            imported=m.ImportRecord.model_validate(record | {"proposal": body}),
        )
    agreement_id = snapshot.id
    for indicator, value in (("Sambungan rumah", -9.99e29), ("Debit air", 1e300)):
        measured = m.RecordMeasurement(
            indicator=indicator, value=value, measured_on=date(2026, 6, 1), source="Laporan PDAM"
        )
        await commands.send_command(
            temporal_env.client,
            agreement_id=agreement_id,
            command=measured,
            principal=Principal(sub=staff.sub, org=province, roles=list(staff.roles)),
            expected_version=None,
            idempotency_key=None,
        )
    client = await web.signed_in_client(staff)
    for path in (f"/ui/agreements/{agreement_id}", f"/ui/agreements/{agreement_id}/summary.pdf", "/ui/inbox"):
        resp = await client.get(path)
        assert resp.status_code == 200, (path, resp.text[:300])
    page = (await client.get(f"/ui/agreements/{agreement_id}")).text
    assert "1E308" in page and "-9,99E29" in page and "000.000.000.000.000.000" not in page
    assert "∞ %" in page
    await client.aclose()


async def test_a_text_field_sent_as_a_file_is_refused_and_nothing_is_stored(web: LiveStack, orgs):
    # A text field read with `str(form.get(...))` took a file as the repr of its UploadFile:
    # the public feedback form stored "UploadFile(filename='x.pdf', ...)" as a citizen's message.
    province, regency = orgs
    staff = web.user(province, "staff")
    agreement_id, _ = await in_implementation_with_a_score(web, province, regency, title="Jembatan uji")
    assert (await act(web, staff, agreement_id, {"type": "publish"})).status_code == 200
    citizen = httpx.AsyncClient(base_url=web.base_url, headers={"X-Forwarded-For": "192.0.2.77"})
    page = await citizen.get(f"/public/agreements/{agreement_id}")
    upload = ("x.pdf", b"%PDF-1.4 bukan teks\n", "application/pdf")
    for field, text in (("message", {"name": "Budi"}), ("name", {"message": "Pesan biasa."})):
        sent = await citizen.post(
            f"/public/agreements/{agreement_id}/feedback",
            data={"csrf": csrf_of(page.text), **text},
            files={field: upload},
        )
        assert sent.status_code == 422 and "<main" in sent.text, (field, sent.status_code)
        assert "not a file" in sent.text or "bukan berkas" in sent.text
    async with web.sessionmaker() as session:
        stored = select(func.count()).select_from(PublicFeedback).where(PublicFeedback.agreement_id == agreement_id)
        assert (await session.execute(stored)).scalar_one() == 0
    await citizen.aclose()
    # The same on a signed-in form: a draft's text, a comment.
    client = await web.signed_in_client(staff)
    csrf = csrf_of((await client.get(f"/ui/agreements/{agreement_id}")).text)
    for fields, field in (({"type": "submit_draft"}, "text"), ({"type": "comment"}, "text")):
        sent = await client.post(
            f"/ui/agreements/{agreement_id}/act", data={"csrf": csrf, **fields}, files={field: upload}
        )
        assert sent.status_code == 422 and ("not a file" in sent.text or "bukan berkas" in sent.text), sent.text[:300]
    await client.aclose()


async def test_the_proposal_is_edited_from_its_form(web: LiveStack, orgs):
    # The form sent every field of a `Proposal` as the edit's: `ministry_orgs`, which the
    # platform sets and an edit does not carry, made every save a 500.
    province, regency = orgs
    staff = web.user(province, "staff")
    created = await web.api(staff, "POST", "/agreements", json=proposal(province, regency))
    agreement_id = created.json()["id"]
    client = await web.signed_in_client(staff)
    page = await client.get(f"/ui/agreements/{agreement_id}/edit")
    form = {
        "csrf": csrf_of(page.text),
        "title": "Kerja sama air minum, diubah",
        "kind": "ksdd",
        "objectives": "Penyediaan air minum lintas wilayah.",
        "sector": "water",
        "start_date": "2027-01-01",
        "duration_months": "36",
        "evaluation_interval_months": "6",
        "parties-0-org": province,
        "parties-0-signatory": "Gubernur",
        "parties-1-org": regency,
        "parties-1-signatory": "Bupati",
        "indicators-0-name": "Sambungan rumah",
        "indicators-0-target": "1000",
        "indicators-0-unit": "SR",
    }
    saved = await client.post(f"/ui/agreements/{agreement_id}/edit", data=form)
    assert saved.status_code == 303 and saved.headers["location"] == f"/ui/agreements/{agreement_id}?done=edit"
    snapshot = (await web.api(staff, "GET", f"/agreements/{agreement_id}")).json()
    assert (snapshot["title"], snapshot["duration_months"]) == ("Kerja sama air minum, diubah", 36)
    await client.aclose()


async def test_a_moderation_without_its_decision_is_refused_and_the_message_stays_pending(web: LiveStack, orgs):
    # Anything but "approve" rejected the message: a post missing the button's value, or
    # with another, decided "do not show" for the moderator.
    province, regency = orgs
    staff = web.user(province, "staff")
    agreement_id, _ = await in_implementation_with_a_score(web, province, regency, title="Pasar uji")
    assert (await act(web, staff, agreement_id, {"type": "publish"})).status_code == 200
    citizen = httpx.AsyncClient(base_url=web.base_url, headers={"X-Forwarded-For": "192.0.2.78"})
    page = await citizen.get(f"/public/agreements/{agreement_id}")
    sent = await citizen.post(
        f"/public/agreements/{agreement_id}/feedback", data={"csrf": csrf_of(page.text), "message": "Parkir kurang."}
    )
    assert sent.status_code == 303
    await citizen.aclose()
    moderator = await web.signed_in_client(staff)
    queue = await moderator.get("/ui/feedback")
    (feedback_id,) = re.findall(r'data-feedback="([^"]+)"', queue.text)
    for decision in ({}, {"decision": "maybe"}, {"decision": ""}):
        refused = await moderator.post(f"/ui/feedback/{feedback_id}", data={"csrf": csrf_of(queue.text), **decision})
        assert refused.status_code == 422 and "<main" in refused.text, (decision, refused.status_code)
    async with web.sessionmaker() as session:
        status = select(PublicFeedback.status).where(PublicFeedback.id == feedback_id)
        assert (await session.execute(status)).scalar_one() == "pending"
    await moderator.aclose()
