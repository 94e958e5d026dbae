"""The web pages over plain HTTP against the live server: sign-in and its redirect back,
sessions, CSRF refusals, visibility, the offline API docs."""

from __future__ import annotations

import base64
import re
import uuid
from datetime import UTC, datetime, timedelta

import httpx

from services.store import idempotency as kept_responses
from tests.web.live import LiveStack, csrf_of, outside_hosts


def proposal(initiator: str, counterparty: str, **extra) -> dict:
    return {
        "title": "Kerja sama pengelolaan air minum",
        "kind": "ksdd",
        "objectives": "Penyediaan air minum lintas wilayah.",
        "sector": "water",
        "parties": [
            {"org": initiator, "role": "initiator", "sector": "government", "signatory": "Gubernur"},
            {"org": counterparty, "role": "counterparty", "sector": "government", "signatory": "Bupati"},
        ],
        "start_date": "2027-01-01",
        "duration_months": 24,
        "indicators": [{"name": "Sambungan rumah", "target": 1000, "unit": "SR"}],
        **extra,
    }


async def test_a_page_asks_to_sign_in_and_comes_back_after(web: LiveStack, orgs):
    province, _ = orgs
    anonymous = httpx.AsyncClient(base_url=web.base_url)
    resp = await anonymous.get("/ui/inbox")
    assert resp.status_code == 303 and resp.headers["location"] == "/ui/signin?next=/ui/inbox"
    page = await anonymous.get(resp.headers["location"])
    assert page.status_code == 200 and "demo-staff" in page.text  # the demo people of `pakta dev`
    cookie = anonymous.cookies.get("pakta_session")
    assert cookie
    set_cookie = page.headers["set-cookie"].lower()
    assert "httponly" in set_cookie and "samesite=lax" in set_cookie
    staff = web.user(province, "staff")
    signed = await anonymous.post(
        "/ui/signin", data={"csrf": csrf_of(page.text), "token": web.token(staff), "next": "/ui/inbox"}
    )
    assert signed.status_code == 303 and signed.headers["location"] == "/ui/inbox"
    inbox = await anonymous.get("/ui/inbox")
    assert inbox.status_code == 200 and "staff@" + province in inbox.text
    # Signing out ends the session.
    out = await anonymous.post("/ui/signout", data={"csrf": csrf_of(inbox.text)})
    assert out.status_code == 303
    assert (await anonymous.get("/ui/inbox")).status_code == 303
    await anonymous.aclose()


async def test_a_bad_token_or_an_outside_redirect_is_refused(web: LiveStack):
    client = httpx.AsyncClient(base_url=web.base_url)
    page = await client.get("/ui/signin")
    resp = await client.post("/ui/signin", data={"csrf": csrf_of(page.text), "token": "not-a-token"})
    assert resp.status_code == 401
    demo = await client.post(
        "/ui/signin", data={"csrf": csrf_of(page.text), "person": "approver", "next": "//evil.example/x"}
    )
    assert demo.status_code == 303 and demo.headers["location"] == "/ui/"
    await client.aclose()


async def test_a_post_without_its_csrf_token_is_refused(web: LiveStack, orgs):
    province, regency = orgs
    staff = web.user(province, "staff")
    created = await web.api(staff, "POST", "/agreements", json=proposal(province, regency))
    assert created.status_code == 201, created.text
    agreement_id = created.json()["id"]
    client = await web.signed_in_client(staff)
    for path, data in (
        (f"/ui/agreements/{agreement_id}/act", {"type": "submit"}),
        ("/ui/agreements/new", {"title": "x"}),
        (f"/ui/agreements/{agreement_id}/edit", {"title": "x"}),
        ("/ui/prefs", {"lang": "en"}),
        ("/ui/signout", {}),
    ):
        for csrf in (None, "forged"):
            body = data if csrf is None else {**data, "csrf": csrf}
            resp = await client.post(path, data=body)
            assert resp.status_code == 403, (path, resp.status_code)
            assert "<main" in resp.text  # a page, not JSON
    snapshot = await web.api(staff, "GET", f"/agreements/{agreement_id}")
    assert snapshot.json()["stage"] == "draft" and snapshot.json()["version"] == 1
    await client.aclose()


async def test_a_partner_cannot_open_another_organisations_agreement(web: LiveStack, orgs):
    province, regency = orgs
    staff = web.user(province, "staff")
    created = await web.api(staff, "POST", "/agreements", json=proposal(province, regency))
    agreement_id = created.json()["id"]
    outsider = await web.signed_in_client(web.user("elsewhere-" + province[5:], "partner"))
    for path in (f"/ui/agreements/{agreement_id}", f"/ui/agreements/{agreement_id}/summary.pdf"):
        resp = await outsider.get(path)
        assert resp.status_code == 404, path
        assert "Kerja sama pengelolaan air minum" not in resp.text
    party = await web.signed_in_client(web.user(regency, "partner"))
    assert (await party.get(f"/ui/agreements/{agreement_id}")).status_code == 200
    pdf = await party.get(f"/ui/agreements/{agreement_id}/summary.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    await outsider.aclose()
    await party.aclose()


async def test_the_api_docs_load_nothing_from_another_host(web: LiveStack):
    for path in ("/docs", "/redoc"):
        resp = await web.http.get(path)
        assert resp.status_code == 200
        assert outside_hosts(resp.text, web.base_url) == set(), path
    assert (await web.http.get("/static-offline-docs/swagger-ui-bundle.js")).status_code == 200
    assert (await web.http.get("/static/web/htmx.min.js")).status_code == 200


async def test_the_language_switch_sticks(web: LiveStack, orgs):
    province, _ = orgs
    client = await web.signed_in_client(web.user(province, "staff"))
    inbox = await client.get("/ui/inbox")
    assert "Kotak masuk" in inbox.text and 'lang="id"' in inbox.text
    resp = await client.post(
        "/ui/prefs", data={"csrf": csrf_of(inbox.text), "lang": "en", "zone": "Asia/Makassar", "next": "/ui/inbox"}
    )
    assert resp.status_code == 303
    again = await client.get("/ui/inbox")
    assert 'lang="en"' in again.text and "What awaits you" in again.text
    await client.aclose()


async def test_an_email_link_opens_the_agreement_page_after_sign_in(web: LiveStack, orgs):
    from datetime import UTC, datetime

    from services.notifying import render
    from workflows.notify.rules import Audience, Notification

    province, regency = orgs
    staff = web.user(province, "staff")
    created = await web.api(staff, "POST", "/agreements", json=proposal(province, regency))
    agreement_id = created.json()["id"]
    note = Notification(
        event_id="e-1",
        event_type="agreement_submitted",
        agreement_id=agreement_id,
        seq=2,
        at=datetime.now(UTC),
        audience=Audience(org=province, role="approver", gate="review"),
        template="agreement_submitted",
        data={"title": "Kerja sama pengelolaan air minum"},
    )
    mail = render.render(note, language="id", name="Siti", public_url=web.settings.public_url)
    link = f"{web.base_url}/ui/agreements/{agreement_id}"
    assert f"{link}\n" in mail.text + "\n" and f'href="{link}"' in mail.html
    client = httpx.AsyncClient(base_url=web.base_url)
    resp = await client.get(link)
    assert resp.status_code == 303 and resp.headers["location"] == f"/ui/signin?next=/ui/agreements/{agreement_id}"
    page = await client.get(resp.headers["location"])
    signed = await client.post(
        "/ui/signin",
        data={"csrf": csrf_of(page.text), "token": web.token(staff), "next": f"/ui/agreements/{agreement_id}"},
    )
    assert signed.headers["location"] == f"/ui/agreements/{agreement_id}"
    assert "Kerja sama pengelolaan air minum" in (await client.get(signed.headers["location"])).text
    await client.aclose()


async def test_an_amendment_is_proposed_from_the_agreement_page(web: LiveStack, orgs):
    province, regency = orgs
    admin, staff = web.user(province, "admin"), web.user(province, "staff")
    signed = await web.api(admin, "POST", "/documents", content=b"signed\n", headers={"Content-Type": "text/plain"})
    record = {
        "ref": f"PKS/{province}/amend",
        "signed_on": "2026-01-10",
        "document": signed.json()["sha256"],
        "proposal": proposal(province, regency, start_date="2026-02-01"),
    }
    imported = await web.api(admin, "POST", "/agreements/import", json=[record])
    agreement_id = imported.json()["imported"][0]["id"]
    client = await web.signed_in_client(staff)
    page = await client.get(f"/ui/agreements/{agreement_id}")
    for form in ("propose_amendment", "renew", "terminate", "comment"):
        assert f'name="type" value="{form}"' in page.text, form
    sent = await client.post(
        f"/ui/agreements/{agreement_id}/act",
        data={"csrf": csrf_of(page.text), "type": "propose_amendment", "summary": "Tambah 200 SR.", "idem": "a1"},
    )
    assert sent.status_code == 303, sent.text
    snapshot = (await web.api(staff, "GET", f"/agreements/{agreement_id}")).json()
    assert snapshot["change"]["kind"] == "amendment" and snapshot["change"]["summary"] == "Tambah 200 SR."
    after = await client.get(sent.headers["location"])
    assert 'id="h-changes"' in after.text and "Tambah 200 SR." in after.text
    # The same form sent again (same idempotency key) changes nothing more.
    again = await client.post(
        f"/ui/agreements/{agreement_id}/act",
        data={"csrf": csrf_of(page.text), "type": "propose_amendment", "summary": "Tambah 200 SR.", "idem": "a1"},
    )
    assert again.status_code == 303
    assert (await web.api(staff, "GET", f"/agreements/{agreement_id}")).json()["version"] == snapshot["version"]
    await client.aclose()


async def test_a_form_refused_and_sent_again_shows_the_same_refusal(web: LiveStack, orgs):
    province, regency = orgs
    staff = web.user(province, "staff")
    created = await web.api(staff, "POST", "/agreements", json=proposal(province, regency))
    agreement_id = created.json()["id"]
    client = await web.signed_in_client(staff)
    page = await client.get(f"/ui/agreements/{agreement_id}")
    # There is no draft to accept in a proposal: the workflow refuses, and the refusal is kept
    # under the form's idempotency key, so sending the form again gets the same answer.
    form = {"csrf": csrf_of(page.text), "type": "accept_draft", "version": "1", "idem": "refused-once"}
    first = await client.post(f"/ui/agreements/{agreement_id}/act", data=form)
    again = await client.post(f"/ui/agreements/{agreement_id}/act", data=form)
    refusal = re.compile(r'<div class="error" role="alert">(.*?)</div>', re.S)
    shown = refusal.search(first.text)
    assert 400 <= first.status_code < 500 and shown, first.text
    assert again.status_code == first.status_code
    assert (found := refusal.search(again.text)) and found.group(1) == shown.group(1)
    async with web.sessionmaker() as session:
        kept = await kept_responses.find_response(
            session, scope=f"{staff.org}/{staff.sub}", key="refused-once", since=datetime.now(UTC) - timedelta(hours=1)
        )
    assert kept is not None and kept.status == first.status_code
    assert (await web.api(staff, "GET", f"/agreements/{agreement_id}")).json()["version"] == created.json()["version"]
    await client.aclose()


async def test_a_list_filter_of_digits_only_python_calls_digits_lists_without_it(web: LiveStack, orgs):
    # "²".isdigit() is true and int() refuses it, as it refuses thousands of digits: a 500.
    province, _ = orgs
    client = await web.signed_in_client(web.user(province, "staff"))
    for days in ("%C2%B2", "9" * 5000):
        resp = await client.get(f"/ui/agreements?expiring_within_days={days}")
        assert resp.status_code == 200, resp.text[:300]
    await client.aclose()


async def test_a_list_cursor_of_arrays_nested_thousands_deep_lists_the_first_page(web: LiveStack, orgs):
    # The page's cursor has no length limit but the headers'; arrays 4,000 deep fit in it,
    # and reading them exhausted the stack: a RecursionError, not a refusal — a 500.
    province, _ = orgs
    client = await web.signed_in_client(web.user(province, "staff"))
    cursor = base64.urlsafe_b64encode(b"[" * 4000 + b"]" * 4000).decode().rstrip("=")
    resp = await client.get(f"/ui/agreements?cursor={cursor}")
    assert resp.status_code == 200, resp.text[:300]
    await client.aclose()


async def test_a_form_whose_idempotency_key_holds_a_nul_or_is_huge_is_refused_and_the_agreement_takes_the_next(
    web: LiveStack, orgs
):
    # The form's key went to PostgreSQL as it came: a NUL failed the look-up (a 500), and
    # 100,000 characters are more than the keys' index takes.
    province, regency = orgs
    staff = web.user(province, "staff")
    created = await web.api(staff, "POST", "/agreements", json=proposal(province, regency))
    agreement_id = created.json()["id"]
    client = await web.signed_in_client(staff)
    page = await client.get(f"/ui/agreements/{agreement_id}")
    for idem in ("a\x00b", "k" * 100_000):
        form = {"csrf": csrf_of(page.text), "type": "comment", "text": "Kunci aneh.", "idem": idem}
        refused = await client.post(f"/ui/agreements/{agreement_id}/act", data=form)
        assert refused.status_code == 422, refused.text[:300]
    assert (await web.api(staff, "GET", f"/agreements/{agreement_id}")).json()["version"] == created.json()["version"]
    form = {"csrf": csrf_of(page.text), "type": "comment", "text": "Kunci biasa.", "idem": "k-biasa"}
    assert (await client.post(f"/ui/agreements/{agreement_id}/act", data=form)).status_code == 303
    await client.aclose()


async def test_a_next_or_back_target_too_long_to_keep_falls_back_to_the_default_page(web: LiveStack, orgs):
    # A `next` or `back` of 300,000 characters went whole into the `Location` header; one of
    # 2,000 (percent-encoded, as the header has it) is kept, as browsers keep such URLs.
    province, regency = orgs
    staff = web.user(province, "staff")
    created = await web.api(staff, "POST", "/agreements", json=proposal(province, regency))
    agreement_id = created.json()["id"]
    kept = "/ui/agreements?title=" + "a" * (2000 - len("/ui/agreements?title="))
    too_long = "/ui/agreements?title=" + "a" * 300_000
    encoded_too_long = "/ui/agreements?title=" + "é" * 400  # 2,421 characters once percent-encoded

    async def signed_in_to(target: str) -> httpx.Response:
        async with httpx.AsyncClient(base_url=web.base_url, timeout=60) as anonymous:
            page = await anonymous.get("/ui/signin")
            form = {"csrf": csrf_of(page.text), "token": web.token(staff), "next": target}
            return await anonymous.post("/ui/signin", data=form)

    assert (await signed_in_to(kept)).headers["location"] == kept
    client = await web.signed_in_client(staff)
    page = await client.get(f"/ui/agreements/{agreement_id}")
    for target in (too_long, encoded_too_long):
        resp = await signed_in_to(target)
        assert resp.status_code == 303 and resp.headers["location"] == "/ui/", resp.headers["location"][:100]
        prefs = await client.post("/ui/prefs", data={"csrf": csrf_of(page.text), "lang": "en", "next": target})
        assert prefs.status_code == 303 and prefs.headers["location"] == "/ui/"
    # A page asked for with a query too long to come back to signs in to the inbox.
    asked = await httpx.AsyncClient(base_url=web.base_url).get("/ui/agreements?title=" + "a" * 3000)
    assert asked.status_code == 303 and asked.headers["location"] == "/ui/signin?next=/ui/"
    form = {"csrf": csrf_of(page.text), "type": "comment", "text": "Kembali ke mana?", "back": too_long}
    resp = await client.post(f"/ui/agreements/{agreement_id}/act", data=form)
    assert resp.status_code == 303 and resp.headers["location"] == f"/ui/agreements/{agreement_id}?done=comment"
    await client.aclose()


async def test_a_csrf_token_with_characters_beyond_ascii_is_refused_with_the_forbidden_page(web: LiveStack, orgs):
    # `hmac.compare_digest` refuses to compare a text holding anything beyond ASCII: a forged
    # token of "é" (or a browser's invalid UTF-8, read as U+FFFD) was a 500, not a 403.
    province, _ = orgs
    client = await web.signed_in_client(web.user(province, "staff"))
    for path in ("/ui/prefs", "/ui/signout", f"/ui/feedback/{uuid.uuid4()}"):
        for body in ("csrf=%C3%A9&lang=en", "csrf=%ED%A0%80&lang=en"):
            resp = await client.post(path, content=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
            assert resp.status_code == 403 and "<main" in resp.text, (path, body, resp.status_code)
        header = await client.post(path, data={"lang": "en"}, headers={"X-CSRF-Token": "é".encode("latin-1")})
        assert header.status_code == 403 and "<main" in header.text, (path, header.status_code)
    anonymous = httpx.AsyncClient(base_url=web.base_url, timeout=60)
    await anonymous.get("/ui/signin")
    resp = await anonymous.post("/ui/signin", data={"csrf": "jeton-ç", "person": "staff"})
    assert resp.status_code == 403 and "<main" in resp.text
    assert (await client.get("/ui/inbox")).status_code == 200  # the session stands
    await anonymous.aclose()
    await client.aclose()
