"""The web forms' inputs the earlier passes read but did not send (#11): what a refused form
keeps, a field sent as a file, and the public feedback form's bounds. Against the live
stack (tests/web/conftest.py): the real app, PostgreSQL, Temporal and a worker."""

from __future__ import annotations

from sqlalchemy import func, select

from services.store.models import Document
from tests.web.live import LiveStack, csrf_of
from tests.web.test_pages import proposal


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
