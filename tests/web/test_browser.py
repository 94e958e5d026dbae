"""The people in the loop in a real browser (Debian's chromium, headless) against the live
stack: a proposal made and submitted through the form, a gate approved from the inbox, a
draft accepted after its diff, signatures; every page screenshotted at desktop and phone
width, scanned for outside hosts, and its forms posted without their CSRF token."""

from __future__ import annotations

import re

import httpx
from playwright.async_api import Page, expect

from services.store import register
from services.store.db import session_scope
from tests.web.live import LiveStack, outside_hosts, post_forms, screenshot


class Visits:
    """The pages a test saw, for the checks every page must pass."""

    def __init__(self, web: LiveStack) -> None:
        self.web = web
        self.pages: dict[str, str] = {}

    async def record(self, page: Page, name: str) -> None:
        html = await page.content()
        self.pages[name] = html
        assert outside_hosts(html, self.web.base_url) == set(), name
        assert await page.title(), name
        assert await page.locator("main").count() == 1, name
        await screenshot(page, name)


async def signed_in_page(browser, web: LiveStack, user, next_path: str = "/ui/") -> Page:
    context = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="id-ID")
    page = await context.new_page()
    await page.goto(f"{web.base_url}{next_path}")
    assert "/ui/signin" in page.url  # asked to sign in first ...
    await page.fill("#token", web.token(user))
    await page.click("form:has(#token) button[type=submit]")
    await page.wait_for_url(re.compile(re.escape(next_path.split("?")[0]) + r"(\?.*)?$"))  # ... and back
    return page


async def stage_of(page: Page) -> str:
    return (await page.locator("article.agreement").get_attribute("data-stage")) or ""


async def test_an_agreement_goes_from_the_form_through_inbox_diff_and_signing(web: LiveStack, browser, orgs):
    province, regency = orgs
    visits = Visits(web)
    async with session_scope(web.sessionmaker) as session:
        entry = register.Entry(
            org=regency, name_id=f"Pemerintah Kabupaten {regency}", level="regency", province_code="32"
        )
        await register.put(session, entry=entry, updated_by="operator@pakta")

    # A staff member proposes through the form: a field left empty is marked next to it.
    staff = await signed_in_page(browser, web, web.user(province, "staff"), "/ui/agreements/new")
    await visits.record(staff, "proposal-form")
    # The organisations the staff member works with are offered (loaded by htmx).
    await expect(staff.locator(f"#known-orgs option[value='{province}']")).to_have_count(1)
    # and so are those of the register, by their official names
    await expect(staff.locator(f"#known-orgs option[value='{regency}']")).to_have_text(
        f"Pemerintah Kabupaten {regency} (regency, Jawa Barat)"
    )
    await staff.fill("#f-title", "")
    await staff.click("form.proposal button[type=submit]")
    await expect(staff.locator("#e-title")).to_have_text("Wajib diisi (paling sedikit 1 karakter).")
    await expect(staff.locator("#e-parties-1-org")).to_be_visible()
    await visits.record(staff, "proposal-form-errors")
    await staff.fill("#f-title", "Pengelolaan air minum lintas wilayah")
    await staff.fill("#f-objectives", "Penyediaan air minum bagi dua daerah.")
    await staff.fill("#f-sector", "water")
    await staff.fill("#f-start_date", "2027-02-01")
    await staff.fill("#f-duration_months", "24")
    await staff.fill("#f-parties-0-signatory", "Gubernur")
    await staff.fill("#f-parties-1-org", regency)
    await staff.fill("#f-parties-1-signatory", "Bupati")
    await staff.fill("#f-indicators-0-name", "Sambungan rumah")
    await staff.fill("#f-indicators-0-target", "1000")
    await staff.fill("#f-indicators-0-unit", "SR")
    await staff.click("form.proposal button[type=submit]")
    await staff.wait_for_url(re.compile(r"/ui/agreements/[0-9a-f-]{36}\?done=create$"))
    agreement_id = staff.url.split("/ui/agreements/")[1].split("?")[0]
    assert await stage_of(staff) == "draft"
    await visits.record(staff, "agreement-draft")
    await staff.click("button[data-action=submit]")
    await staff.wait_for_url(re.compile(r"done=submit"))
    assert await stage_of(staff) == "review"
    await expect(staff.locator("svg.lifecycle g[data-status=current]")).to_have_attribute("data-step", "persiapan")

    # The approvers of both regions approve the review gate from their inboxes.
    for org, name in ((province, "inbox-approver"), (regency, None)):
        approver = await signed_in_page(browser, web, web.user(org, "approver", gates=("review",)), "/ui/inbox")
        card = approver.locator(f"li.card[data-agreement='{agreement_id}']")
        await expect(card).to_be_visible()
        if name:
            await visits.record(approver, name)
        await card.locator("button[data-action=approve][data-gate=review]").click()
        await approver.wait_for_url(re.compile(r"/ui/inbox\?done=decide$"))
        await approver.goto(f"{web.base_url}/ui/agreements/{agreement_id}")
        await approver.context.close()
    await staff.goto(f"{web.base_url}/ui/agreements/{agreement_id}")
    assert await stage_of(staff) == "negotiation"
    await expect(staff.locator("svg.lifecycle g[data-step=persiapan]")).to_have_attribute("data-status", "passed")

    # Drafts: the initiator writes v1 in the page, the partner region answers with v2 (API).
    await staff.click("#actions details:has(#draft-text) summary")
    await staff.fill("#draft-text", "Pasal 1\nPara pihak sepakat.\nPasal 2\nJangka waktu dua tahun.")
    await staff.click("form:has(#draft-text) button[type=submit]")
    await staff.wait_for_url(re.compile(r"done=submit_draft"))
    other = web.user(regency, "staff")
    uploaded = await web.api(
        other,
        "POST",
        "/documents",
        content=b"Pasal 1\nPara pihak sepakat.\nPasal 2\nJangka waktu tiga tahun.\n",
        headers={"Content-Type": "text/markdown"},
    )
    sent = await web.api(
        other,
        "POST",
        f"/agreements/{agreement_id}/actions",
        json={"type": "submit_draft", "document": uploaded.json()["sha256"]},
    )
    assert sent.status_code == 200, sent.text

    # A partner of the initiator sees the diff from the inbox and accepts.
    partner = await signed_in_page(browser, web, web.user(province, "partner"), "/ui/inbox")
    card = partner.locator(f"li.card[data-agreement='{agreement_id}'][data-action=accept_draft]")
    await card.locator("a.button").click()
    await partner.wait_for_url(re.compile(r"/drafts/2$"))
    await expect(partner.locator("#diff tr.d-replace td.old")).to_contain_text("dua tahun")
    await expect(partner.locator("#diff tr.d-replace td.new")).to_contain_text("tiga tahun")
    await visits.record(partner, "draft-diff")
    await partner.click("button[data-action=accept_draft]")
    await partner.wait_for_url(re.compile(r"done=accept_draft"))
    # Procedure 2026.1: the TKKSD of each region approves the agreed KSB before signing.
    assert await stage_of(partner) == "review"
    await partner.context.close()
    for org in (province, regency):
        approver = await signed_in_page(browser, web, web.user(org, "approver", gates=("review",)), "/ui/inbox")
        card = approver.locator(f"li.card[data-agreement='{agreement_id}']")
        await card.locator("button[data-action=approve][data-gate=review]").click()
        await approver.wait_for_url(re.compile(r"/ui/inbox\?done=decide$"))
        await approver.context.close()
    await staff.goto(f"{web.base_url}/ui/agreements/{agreement_id}")
    assert await stage_of(staff) == "signing"
    await expect(staff.locator("svg.lifecycle g[data-step=persetujuan_ksb]")).to_have_attribute("data-status", "passed")

    # The signatories of both sides sign from their inboxes.
    for org, name in ((province, "inbox-signatory"), (regency, None)):
        signatory = await signed_in_page(browser, web, web.user(org, "signatory"), "/ui/inbox")
        card = signatory.locator(f"li.card[data-agreement='{agreement_id}'][data-action=sign]")
        if name:  # electronically
            await card.locator("input[name=signed_by]").first.fill(f"Kepala {org}")
            await visits.record(signatory, name)
            await card.locator("button[data-action=sign]").click()
        else:  # on paper, with the scan uploaded
            await card.locator("details summary").click()
            await card.locator("input[name=signed_by]").nth(1).fill(f"Kepala {org}")
            await card.locator("input[name=scan]").set_input_files(
                files=[{"name": "pks-signed.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4 scan\n"}]
            )
            await card.locator("button[data-action=sign-wet]").click()
        await signatory.wait_for_url(re.compile(r"/ui/inbox\?done=sign$"))
        await signatory.context.close()
    await staff.goto(f"{web.base_url}/ui/agreements/{agreement_id}")
    assert await stage_of(staff) != "signing"
    await expect(staff.locator("#h-signatures")).to_be_visible()
    snapshot = (await web.api(web.user(province, "staff"), "GET", f"/agreements/{agreement_id}")).json()
    methods = {s["org"]: (s["method"], bool(s["evidence"])) for s in snapshot["signatures"]}
    assert methods == {province: ("electronic", False), regency: ("wet_ink", True)}
    # The page names the methods and the scan in words: "jabar: wet_ink" was a document's name.
    main = await staff.locator("main").inner_text()
    assert "Tanda tangan basah" in main and f"Bukti penandatanganan (Pemerintah Kabupaten {regency}, KSB v" in main
    assert re.search(r"\bwet_ink\b|\belectronic\b", main) is None
    await expect(staff.locator("#chain")).to_have_class("ok")
    # htmx (served by Pakta) verifies the chain again in place.
    await staff.click("#verify-chain")
    await expect(staff.locator("#chain")).not_to_have_attribute("data-checked", "")
    await expect(staff.locator("#chain")).to_have_class("ok")
    await visits.record(staff, "agreement")

    for path, name in (
        ("/ui/inbox", "inbox-staff"),
        ("/ui/agreements", "list"),
        (f"/ui/agreements?stage=negotiation&org={regency}", "list-filtered"),
        ("/ui/dashboard", "dashboard"),
        (f"/ui/organisations/{regency}", "register-entry-staff"),
    ):
        await staff.goto(f"{web.base_url}{path}")
        await visits.record(staff, name)
    anonymous = await browser.new_page()
    await anonymous.goto(f"{web.base_url}/ui/signin")
    await visits.record(anonymous, "signin")
    await anonymous.close()

    # Every form on every page refuses a post without its CSRF token.
    client = await web.signed_in_client(web.user(province, "staff"))
    actions = {f["action"]: f["fields"] for html in visits.pages.values() for f in post_forms(html)}
    assert {"/ui/prefs", "/ui/signout", "/ui/agreements/new", "/ui/signin"} <= set(actions)
    assert f"/ui/agreements/{agreement_id}/act" in actions
    for action, fields in actions.items():
        bare = {k: v for k, v in fields.items() if k != "csrf"}
        resp = await client.post(action, data=bare)
        assert resp.status_code == 403, (action, resp.status_code)
    await client.aclose()
    await staff.context.close()


async def test_a_refusal_shows_the_deciders_message(web: LiveStack, browser, orgs):
    province, regency = orgs
    staff = web.user(province, "staff")
    created = await web.api(
        staff,
        "POST",
        "/agreements",
        json={
            "title": "Kerja sama pariwisata",
            "kind": "ksdd",
            "objectives": "Promosi bersama.",
            "sector": "tourism",
            "parties": [
                {"org": province, "role": "initiator", "sector": "government", "signatory": "Gubernur"},
                {"org": regency, "role": "counterparty", "sector": "government", "signatory": "Bupati"},
            ],
            "start_date": "2027-01-01",
            "duration_months": 12,
        },
    )
    agreement_id = created.json()["id"]
    page = await signed_in_page(browser, web, staff, f"/ui/agreements/{agreement_id}")
    # Someone else withdraws it meanwhile: the submit button on the page is refused.
    withdrawn = await web.api(
        staff, "POST", f"/agreements/{agreement_id}/actions", json={"type": "withdraw", "reason": "Batal."}
    )
    assert withdrawn.status_code == 200
    response = None
    async with page.expect_response(lambda r: r.request.method == "POST") as info:
        await page.click("button[data-action=submit]")
    response = await info.value
    assert response.status == 409
    await expect(page.locator("div.error[role=alert]")).to_be_visible()
    await screenshot(page, "agreement-refused")
    await page.context.close()
    async with httpx.AsyncClient(base_url=web.base_url) as http:
        resp = await http.get("/ui/agreements/" + agreement_id)
        assert resp.status_code == 303


async def test_an_evaluation_report_is_sent_with_a_field_per_indicator_and_charted(web: LiveStack, browser, orgs):
    province, regency = orgs
    admin = web.user(province, "admin")
    signed = await web.api(
        admin, "POST", "/documents", content=b"PKS signed on paper\n", headers={"Content-Type": "text/plain"}
    )
    record = {
        "ref": f"PKS/{province}/001",
        "signed_on": "2026-01-15",
        "document": signed.json()["sha256"],
        "proposal": {
            "title": "Kerja sama pengelolaan sampah",
            "kind": "ksdd",
            "objectives": "Pengolahan sampah regional.",
            "sector": "environment",
            "parties": [
                {"org": province, "role": "initiator", "sector": "government", "signatory": "Gubernur"},
                {"org": regency, "role": "counterparty", "sector": "government", "signatory": "Bupati"},
            ],
            "start_date": "2026-02-01",
            "duration_months": 36,
            "indicators": [
                {"name": "Sampah terolah", "target": 100, "unit": "ton/hari"},
                {"name": "Desa terlayani", "target": 20, "unit": "desa"},
            ],
        },
    }
    imported = await web.api(admin, "POST", "/agreements/import", json=[record])
    assert imported.status_code == 200, imported.text
    agreement_id = imported.json()["imported"][0]["id"]

    staff = await signed_in_page(browser, web, web.user(province, "staff"), f"/ui/agreements/{agreement_id}")
    assert await stage_of(staff) == "implementation"
    await staff.click("button[data-action=start_evaluation]")
    await staff.wait_for_url(re.compile(r"done=start_evaluation"))
    await staff.fill("#narrative", "Pengolahan berjalan sesuai rencana.")
    await staff.fill("#achieved-0", "80")
    await staff.fill("#achieved-1", "25")
    await staff.click("#report button[type=submit]")
    await staff.wait_for_url(re.compile(r"done=submit_evaluation_report"))
    snapshot = (await web.api(admin, "GET", f"/agreements/{agreement_id}")).json()
    results = snapshot["evaluations"][0]["reports"][0]["results"]
    assert [(r["indicator"], r["achieved"]) for r in results] == [("Sampah terolah", 80), ("Desa terlayani", 25)]
    await expect(staff.locator("svg.chart")).to_be_visible()
    await expect(staff.locator("svg.chart rect")).to_have_count(2)
    await screenshot(staff, "agreement-evaluation")
    pdf = await staff.request.get(f"{web.base_url}/ui/agreements/{agreement_id}/summary.pdf")
    assert pdf.status == 200 and (await pdf.body()).startswith(b"%PDF")
    await staff.context.close()
