"""The implementation's pages in a real browser (#13): a partner reports progress from the
inbox and sees the timeline move; a coordinator schedules a meeting and records its
minutes; the list filters on health and the dashboard counts what is at risk; the proposal
form takes goals, obligations and activities (rows added with htmx, errors next to the
field). Every page screenshotted at desktop and phone width, scanned for outside hosts,
and every form on it refused without its CSRF token."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from playwright.async_api import expect

import services.api.web
from services.api.web.i18n import ID
from tests.meetings import held_soon
from tests.web.live import LiveStack, csrf_of, post_forms, screenshot
from tests.web.test_browser import Visits, signed_in_page, stage_of


def plan_proposal(province: str, regency: str) -> dict:
    """A water agreement in force since February 2026 with an action plan: the regency's
    connection works (behind its schedule: nothing reported yet) and the province's survey."""
    return {
        "title": "Kerja sama air minum dengan rencana aksi",
        "kind": "ksdd",
        "objectives": "Penyediaan air minum lintas wilayah.",
        "sector": "water",
        "parties": [
            {"org": province, "role": "initiator", "sector": "government", "signatory": "Gubernur"},
            {"org": regency, "role": "counterparty", "sector": "government", "signatory": "Bupati"},
        ],
        "start_date": "2026-02-01",
        "duration_months": 24,
        "indicators": [{"name": "Sambungan rumah", "target": 1000, "unit": "SR"}],
        "goals": [{"scheme": "sdg", "code": "6.1"}, {"scheme": "regional", "code": "RPJMD-3.2", "text": "Akses air"}],
        "obligations": [
            {
                "id": "OBL-1",
                "party": regency,
                "kind": "funds",
                "description": "Dana pendamping sambungan rumah",
                "amount": 500_000_000,
                "source": "apbd",
                "due_on": "2027-06-01",
            }
        ],
        "activities": [
            {
                "id": "A1",
                "name": "Pemasangan sambungan rumah",
                "party": regency,
                "responsible": "Kepala Dinas PUPR",
                "starts_on": "2026-03-01",
                "ends_on": "2027-06-30",
                "indicators": ["Sambungan rumah"],
                "milestones": ["Desain selesai"],
                "budget": [{"party": regency, "amount": 300_000_000, "source": "apbd"}],
            },
            {
                "id": "A2",
                "name": "Survei sumber air",
                "party": province,
                "responsible": "Bappeda",
                "starts_on": "2027-01-01",
                "ends_on": "2027-03-31",
            },
        ],
    }


async def imported_with_plan(web: LiveStack, province: str, regency: str) -> str:
    admin = web.user(province, "admin")
    signed = await web.api(admin, "POST", "/documents", content=b"PKS signed\n", headers={"Content-Type": "text/plain"})
    record = {
        "ref": f"PKS/{province}/plan",
        "signed_on": "2026-01-20",
        "document": signed.json()["sha256"],
        "proposal": plan_proposal(province, regency),
    }
    imported = await web.api(admin, "POST", "/agreements/import", json=[record])
    assert imported.status_code == 200, imported.text
    return str(imported.json()["imported"][0]["id"])


async def refuse_without_csrf(web: LiveStack, visits: Visits, user) -> set[str]:
    """Every form the visited pages hold, posted without its token: 403, a page."""
    client = await web.signed_in_client(user)
    actions = {f["action"]: f["fields"] for html in visits.pages.values() for f in post_forms(html)}
    for action, fields in actions.items():
        resp = await client.post(action, data={k: v for k, v in fields.items() if k != "csrf"})
        assert resp.status_code == 403, (action, resp.status_code)
    await client.aclose()
    return set(actions)


async def test_a_partner_reports_progress_from_the_inbox_and_sees_the_timeline_move(web: LiveStack, browser, orgs):
    province, regency = orgs
    agreement_id = await imported_with_plan(web, province, regency)
    visits = Visits(web)
    partner = await signed_in_page(browser, web, web.user(regency, "partner"), "/ui/inbox")
    card = partner.locator(f"li.card[data-agreement='{agreement_id}'][data-action=implementation]")
    await expect(card).to_be_visible()
    # Only the partner's own party's work is offered: its activity and obligation, not the province's.
    await expect(card.locator("details[data-work=report_progress]")).to_have_count(1)
    await expect(card.locator("details[data-work=report_progress][data-activity=A1]")).to_have_count(1)
    await expect(card.locator("details[data-work=settle_obligation][data-obligation=OBL-1]")).to_have_count(1)
    await visits.record(partner, "inbox-implementation")

    form = card.locator("details[data-activity=A1]")
    await form.locator("summary").click()
    await form.locator("input[name=percent]").fill("40")
    await form.locator("textarea[name=note]").fill("120 SR terpasang di dua kecamatan.")
    await form.locator("input[name=evidence]").set_input_files(
        files=[{"name": "foto-lapangan.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4 bukti\n"}]
    )
    await form.locator("button[data-action=report_progress]").click()
    await partner.wait_for_url(re.compile(r"/ui/inbox\?done=report_progress"))

    snapshot = (await web.api(web.user(regency, "partner"), "GET", f"/agreements/{agreement_id}")).json()
    a1 = next(a for a in snapshot["activities"] if a["id"] == "A1")
    assert a1["progress"][-1]["percent"] == 40 and len(a1["progress"][-1]["evidence"]) == 1

    # The timeline on the agreement page moved: the bar is 40 % done, today's line is drawn.
    await partner.goto(f"{web.base_url}/ui/agreements/{agreement_id}")
    assert await stage_of(partner) == "implementation"
    bar = partner.locator("svg.plan g[data-activity=A1]")
    await expect(bar).to_have_attribute("data-percent", "40")
    await expect(partner.locator("svg.plan line.today")).to_have_count(1)
    await expect(partner.locator("#plan ul.goals")).to_contain_text("SDG 6.1")
    await expect(partner.locator("#plan ul.goals")).to_contain_text("Air Bersih")  # SDG 6's name in Indonesian
    await expect(partner.locator("tr[data-obligation=OBL-1]")).to_have_attribute("data-status", "open")
    await expect(partner.locator("#health")).to_be_visible()

    # A measurement from the agreement page; a refusal (a day still to come) shows the decider's message.
    measure = partner.locator("#plan details[data-work=record_measurement]")
    await measure.locator("summary").click()
    await measure.locator("input[name=value]").fill("120")
    await measure.locator("input[name=source]").fill("Dinas PUPR")
    future = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
    await measure.locator("input[name=measured_on]").fill(future)
    await measure.locator("button[data-action=record_measurement]").click()
    await expect(partner.locator("div.error[role=alert]")).to_be_visible()
    after = (await web.api(web.user(regency, "partner"), "GET", f"/agreements/{agreement_id}")).json()
    assert after["measurements"] == []
    measure = partner.locator("#plan details[data-work=record_measurement]")
    await measure.locator("summary").click()
    await measure.locator("input[name=value]").fill("120")
    await measure.locator("input[name=source]").fill("Dinas PUPR")
    await measure.locator("input[name=measured_on]").fill(datetime.now(UTC).date().isoformat())
    await measure.locator("button[data-action=record_measurement]").click()
    await partner.wait_for_url(re.compile(r"done=record_measurement"))
    await expect(partner.locator("table.measurements[data-indicator='Sambungan rumah'] tbody tr")).to_have_count(1)
    await visits.record(partner, "agreement-implementation")

    # The obligation settled with its evidence, from the agreement page.
    settle = partner.locator("#plan details[data-obligation=OBL-1]")
    await settle.locator("summary").click()
    await settle.locator("input[name=evidence]").set_input_files(
        files=[{"name": "sp2d.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4 SP2D\n"}]
    )
    await settle.locator("button[data-action=settle_obligation]").click()
    await partner.wait_for_url(re.compile(r"done=settle_obligation"))
    await expect(partner.locator("tr[data-obligation=OBL-1]")).to_have_attribute("data-status", "fulfilled")

    # The printable summary carries the plan's progress.
    pdf = await partner.request.get(f"{web.base_url}/ui/agreements/{agreement_id}/summary.pdf")
    assert pdf.status == 200 and (await pdf.body()).startswith(b"%PDF")
    actions = await refuse_without_csrf(web, visits, web.user(regency, "partner"))
    assert f"/ui/agreements/{agreement_id}/plan" in actions
    await partner.context.close()


async def test_a_coordinator_schedules_a_meeting_and_records_its_minutes(web: LiveStack, browser, orgs):
    province, regency = orgs
    agreement_id = await imported_with_plan(web, province, regency)
    visits = Visits(web)
    coordinator = web.user(province, "staff")
    page = await signed_in_page(browser, web, coordinator, "/ui/inbox")
    card = page.locator(f"li.card[data-agreement='{agreement_id}'][data-action=implementation]")
    schedule = card.locator("details[data-work=schedule_meeting]")
    await schedule.locator("summary").click()
    await schedule.locator("input[name=title]").fill("Rapat koordinasi triwulan I")
    await schedule.locator("input[name=date]").fill((datetime.now(UTC) + timedelta(days=7)).date().isoformat())
    await schedule.locator("input[name=time]").fill("10:00")
    await schedule.locator("input[name=place]").fill("Ruang rapat Bappeda")
    await schedule.locator("textarea[name=agenda]").fill("Kemajuan sambungan rumah\nDana pendamping")
    await visits.record(page, "inbox-coordinator")
    await schedule.locator("button[data-action=schedule_meeting]").click()
    await page.wait_for_url(re.compile(r"/ui/inbox\?done=schedule_meeting"))
    snapshot = (await web.api(coordinator, "GET", f"/agreements/{agreement_id}")).json()
    meeting = snapshot["meetings"][0]
    assert meeting["title"] == "Rapat koordinasi triwulan I" and meeting["agenda"][1] == "Dana pendamping"
    assert meeting["at"].endswith("+07:00") and "T10:00" in meeting["at"]  # 10:00 in the reader's zone (WIB)
    assert sorted(meeting["participants"]) == sorted([province, regency])

    # A meeting held a moment ago (scheduled over the API): its minutes are recorded in the page.
    await held_soon(
        lambda at: web.api(
            coordinator,
            "POST",
            f"/agreements/{agreement_id}/actions",
            json={
                "type": "schedule_meeting",
                "title": "Rapat teknis",
                "at": at.isoformat(),
                "participants": [province, regency],
                "agenda": ["Jadwal pemasangan"],
            },
        )
    )
    await page.goto(f"{web.base_url}/ui/agreements/{agreement_id}")
    minutes = page.locator("#plan details[data-work=record_minutes][data-meeting='2']")
    await minutes.locator("summary").click()
    await minutes.locator("input[name=document]").set_input_files(
        files=[{"name": "notulen.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4 notulen\n"}]
    )
    await minutes.locator("input[name='decisions-0-text']").fill("Kabupaten mengirim jadwal pemasangan")
    await minutes.locator("select[name='decisions-0-party']").select_option(regency)
    due = (datetime.now(UTC) + timedelta(days=14)).date().isoformat()
    await minutes.locator("input[name='decisions-0-due_on']").fill(due)
    await minutes.locator("button[data-action=record_minutes]").click()
    await page.wait_for_url(re.compile(r"done=record_minutes"))
    await expect(page.locator("li[data-meeting='2'] a.minutes")).to_be_visible()
    await expect(page.locator("li[data-item='M2-1']")).to_contain_text("Kabupaten mengirim jadwal pemasangan")
    await visits.record(page, "agreement-meetings")
    href = await page.locator("li[data-meeting='2'] a.minutes").get_attribute("href")
    minutes_doc = await page.request.get(f"{web.base_url}{href}")
    assert minutes_doc.status == 200 and (await minutes_doc.body()).startswith(b"%PDF")
    await page.context.close()

    # The action item awaits the regency's people in their inbox; they complete it there.
    partner = await signed_in_page(browser, web, web.user(regency, "partner"), "/ui/inbox")
    owed = partner.locator(f"li.card[data-agreement='{agreement_id}'][data-action=complete_action_item]")
    await expect(owed).to_be_visible()
    item = partner.locator(f"li.card[data-agreement='{agreement_id}'] details[data-item='M2-1']")
    await item.locator("summary").click()
    await item.locator("textarea[name=note]").fill("Jadwal terkirim.")
    await item.locator("button[data-action=complete_action_item]").click()
    await partner.wait_for_url(re.compile(r"/ui/inbox\?done=complete_action_item"))
    snapshot = (await web.api(coordinator, "GET", f"/agreements/{agreement_id}")).json()
    assert snapshot["action_items"][0]["done_by"] == f"partner@{regency}"
    await partner.context.close()
    await refuse_without_csrf(web, visits, coordinator)


async def test_the_list_filters_on_health_and_the_dashboard_counts_those_at_risk(web: LiveStack, browser, orgs):
    province, regency = orgs
    at_risk = await imported_with_plan(web, province, regency)  # A1: nothing reported, far behind schedule
    staff = web.user(province, "staff")
    snapshot = (await web.api(staff, "GET", f"/agreements/{at_risk}")).json()
    assert snapshot["health"]["status"] == "at_risk", snapshot["health"]
    listed = (await web.api(staff, "GET", "/agreements?health=at_risk")).json()
    assert at_risk in [i["id"] for i in listed["items"]]

    page = await signed_in_page(browser, web, staff, "/ui/dashboard")
    link = page.locator("a#at-risk")
    await expect(link).to_have_text(re.compile(r":\s*1$"))  # this organisation's one agreement at risk
    await link.click()
    await page.wait_for_url(re.compile(r"/ui/agreements\?health=at_risk$"))
    await expect(page.locator("#health")).to_have_value("at_risk")
    await expect(page.locator(f"tr[data-agreement='{at_risk}'] [data-health=at_risk]")).to_be_visible()
    visits = Visits(web)
    await visits.record(page, "list-at-risk")
    await page.select_option("#health", "off_track")
    await page.click("form.filters button[type=submit]")
    await page.wait_for_url(re.compile(r"health=off_track"))
    await expect(page.locator(f"tr[data-agreement='{at_risk}']")).to_have_count(0)
    await page.context.close()


async def test_a_proposal_carries_goals_obligations_and_activities_added_row_by_row(web: LiveStack, browser, orgs):
    province, regency = orgs
    visits = Visits(web)
    page = await signed_in_page(browser, web, web.user(province, "staff"), "/ui/agreements/new")
    await page.fill("#f-title", "Kerja sama persampahan")
    await page.fill("#f-objectives", "Pengolahan sampah regional.")
    await page.fill("#f-sector", "environment")
    await page.fill("#f-start_date", "2027-02-01")
    await page.fill("#f-duration_months", "24")
    await page.fill("#f-parties-0-signatory", "Gubernur")
    await page.fill("#f-parties-1-org", regency)
    await page.fill("#f-parties-1-signatory", "Bupati")
    await page.fill("#f-indicators-0-name", "Sampah terolah")
    await page.fill("#f-indicators-0-target", "100")
    await page.fill("#f-indicators-0-unit", "ton/hari")
    await page.select_option("#f-sdg", ["11.6", "12"])
    await page.fill("#f-goals-0-code", "RPJMD-5.1")
    await page.fill("#f-goals-0-text", "Pengelolaan sampah terpadu")
    await page.fill("#f-obligations-0-id", "OBL-1")
    await page.fill("#f-obligations-0-party", regency)
    await page.select_option("#f-obligations-0-kind", "facilities")
    await page.fill("#f-obligations-0-description", "Lahan TPA regional")
    await page.fill("#f-obligations-0-due_on", "2027-06-01")
    # An activity without its dates: the message stands next to the field.
    await page.fill("#f-activities-0-id", "A1")
    await page.fill("#f-activities-0-name", "Pembangunan TPA")
    await page.fill("#f-activities-0-party", province)
    await page.fill("#f-activities-0-responsible", "Dinas LH")
    await page.click("form.proposal button[type=submit].primary")
    await expect(page.locator("#e-activities-0-starts_on")).to_be_visible()
    await visits.record(page, "proposal-plan-errors")
    # An activity ending before it starts: the decider's refusal stands next to the field too.
    await page.fill("#f-activities-0-starts_on", "2027-03-01")
    await page.fill("#f-activities-0-ends_on", "2027-02-15")
    await page.click("form.proposal button[type=submit].primary")
    await expect(page.locator("#e-activities-0-ends_on")).to_contain_text("A1")
    await page.fill("#f-activities-0-ends_on", "2027-12-31")
    # A second activity row, added by htmx; then a third, removed again.
    await page.click("#add-activities")
    await expect(page.locator("#row-activities-1")).to_be_visible()
    await page.click("#add-activities")
    await expect(page.locator("#row-activities-2")).to_be_visible()
    await page.locator("#row-activities-2 button.remove").click()
    await expect(page.locator("#row-activities-2")).to_have_count(0)
    await page.fill("#f-activities-1-id", "A2")
    await page.fill("#f-activities-1-name", "Sosialisasi pemilahan")
    await page.fill("#f-activities-1-party", regency)
    await page.fill("#f-activities-1-responsible", "Camat")
    await page.fill("#f-activities-1-starts_on", "2027-04-01")
    await page.fill("#f-activities-1-ends_on", "2027-09-30")
    await page.fill("#f-activities-1-indicators", "Sampah terolah")
    await page.fill("#f-activities-1-budget", "50000000")
    await visits.record(page, "proposal-plan")
    # From the keyboard: a click aimed before the page settles back to desktop width after
    # the screenshots can land on "add an activity", just above the button.
    await page.locator("form.proposal button[type=submit].primary").press("Enter")
    await page.wait_for_url(re.compile(r"/ui/agreements/[0-9a-f-]{36}\?done=create$"))
    agreement_id = page.url.split("/ui/agreements/")[1].split("?")[0]
    snapshot = (await web.api(web.user(province, "staff"), "GET", f"/agreements/{agreement_id}")).json()
    assert [(g["scheme"], g["code"]) for g in snapshot["goals"]] == [
        ("sdg", "12"),
        ("sdg", "11.6"),
        ("regional", "RPJMD-5.1"),
    ]
    assert [(o["id"], o["kind"], o.get("source")) for o in snapshot["obligations"]] == [("OBL-1", "facilities", None)]
    activities = {a["id"]: a for a in snapshot["activities"]}
    assert set(activities) == {"A1", "A2"}
    assert activities["A2"]["budget"] == [{"party": regency, "amount": 50_000_000, "source": "apbd"}]
    assert activities["A2"]["indicators"] == ["Sampah terolah"]
    # Editing shows the plan as saved.
    await page.goto(f"{web.base_url}/ui/agreements/{agreement_id}/edit")
    await expect(page.locator("#f-activities-1-name")).to_have_value("Sosialisasi pemilahan")
    await expect(page.locator("#f-sdg option[value='11.6']")).to_have_js_property("selected", True)
    await page.context.close()


async def test_a_party_accepts_a_plan_revision_after_seeing_what_it_changes(web: LiveStack, browser, orgs):
    province, regency = orgs
    agreement_id = await imported_with_plan(web, province, regency)
    staff = web.user(province, "staff")
    snapshot = (await web.api(staff, "GET", f"/agreements/{agreement_id}")).json()
    activities = [{k: v for k, v in a.items() if k != "progress"} for a in snapshot["activities"]]
    activities[1]["ends_on"] = "2027-05-31"  # the province's survey takes two months more
    proposed = await web.api(
        staff,
        "POST",
        f"/agreements/{agreement_id}/actions",
        json={"type": "propose_plan_revision", "summary": "Survei diperpanjang.", "activities": activities},
    )
    assert proposed.status_code == 200, proposed.text

    partner = await signed_in_page(browser, web, web.user(regency, "partner"), "/ui/inbox")
    revision = partner.locator(f"li.card[data-agreement='{agreement_id}'] details[data-work=accept_plan_revision]")
    change = revision.locator("table.revision-changes tr.ch-changed")
    await expect(change).to_have_count(1)
    await expect(change.locator("td.old")).to_have_text("2027-03-31")
    await expect(change.locator("td.new")).to_have_text("2027-05-31")
    await screenshot(partner, "inbox-plan-revision")
    await revision.locator("button[data-action=accept_plan_revision]").click()
    await partner.wait_for_url(re.compile(r"/ui/inbox\?done=accept_plan_revision"))
    after = (await web.api(staff, "GET", f"/agreements/{agreement_id}")).json()
    assert after["plan_revisions"][0]["status"] == "adopted"
    assert next(a for a in after["activities"] if a["id"] == "A2")["ends_on"] == "2027-05-31"
    await partner.context.close()


def test_every_word_of_the_implementation_pages_has_its_indonesian():
    templates = Path(services.api.web.__file__).parent / "templates"
    pages = [*templates.glob("_plan*.html"), templates / "_inbox_plan.html", templates / "_proposal_plan.html"]
    words: set[str] = set()
    for page in pages:
        words |= set(re.findall(r"""\bt\(["']([^"']+)["']\)""", page.read_text(encoding="utf-8")))
    assert {"Report progress", "Schedule a meeting", "Action plan"} <= words
    assert sorted(words - ID.keys()) == []


async def test_the_implementation_speaks_the_readers_language(web: LiveStack, orgs):
    province, regency = orgs
    agreement_id = await imported_with_plan(web, province, regency)
    client = await web.signed_in_client(web.user(province, "staff"))
    page = await client.get(f"/ui/agreements/{agreement_id}")
    assert "Rencana aksi" in page.text and "Berisiko" in page.text and "Air Bersih dan Sanitasi Layak" in page.text
    assert "1 Maret 2026" in page.text  # A1's start, formatted by Babel for id_ID
    await client.post("/ui/prefs", data={"csrf": csrf_of(page.text), "lang": "en", "next": "/ui/inbox"})
    english = await client.get(f"/ui/agreements/{agreement_id}")
    assert "Action plan" in english.text and "At risk" in english.text and "Clean water and sanitation" in english.text
    assert "1 March 2026" in english.text and "Rencana aksi" not in english.text
    await client.aclose()


async def test_a_party_proposes_a_plan_revision_from_its_form_within_the_budget(web: LiveStack, browser, orgs):
    province, regency = orgs
    agreement_id = await imported_with_plan(web, province, regency)
    visits = Visits(web)
    staff = web.user(province, "staff")
    page = await signed_in_page(browser, web, staff, f"/ui/agreements/{agreement_id}")
    await page.click("#revise-plan")
    await page.wait_for_url(re.compile(rf"/ui/agreements/{agreement_id}/plan/revise$"))
    # The plan in force fills the rows, the regency's budget of A1 with it.
    await expect(page.locator("#f-activities-1-id")).to_have_value("A2")
    await expect(page.locator("#f-activities-0-budget")).to_have_value("300000000")
    await expect(page.locator("fieldset.plan-goals")).to_have_count(0)  # a revision is the activities alone
    await page.fill("#f-summary", "Survei diperpanjang; sosialisasi ditambah.")
    await page.fill("#f-activities-1-ends_on", "2027-05-31")
    await page.click("#add-activities")
    await page.fill("#f-activities-2-id", "A3")
    await page.fill("#f-activities-2-name", "Sosialisasi tarif")
    await page.fill("#f-activities-2-party", province)
    await page.fill("#f-activities-2-responsible", "Biro Perekonomian")
    await page.fill("#f-activities-2-starts_on", "2027-04-01")
    await page.fill("#f-activities-2-ends_on", "2027-06-30")
    # Spending the province never planned is an addendum's, not a revision's: the decider says so.
    await page.fill("#f-activities-2-budget", "25000000")
    await page.click("button[data-action=propose_plan_revision]")
    await expect(page.locator("div.error[role=alert]")).to_contain_text("addendum")
    await visits.record(page, "plan-revise-refused")
    await page.fill("#f-activities-2-budget", "")
    await visits.record(page, "plan-revise")
    await page.locator("button[data-action=propose_plan_revision]").press("Enter")  # as above
    await page.wait_for_url(re.compile(rf"/ui/agreements/{agreement_id}\?done=propose_plan_revision"))
    snapshot = (await web.api(staff, "GET", f"/agreements/{agreement_id}")).json()
    (revision,) = snapshot["plan_revisions"]
    assert (revision["status"], revision["summary"]) == ("open", "Survei diperpanjang; sosialisasi ditambah.")
    proposed = {a["id"]: a for a in revision["activities"]}
    assert set(proposed) == {"A1", "A2", "A3"} and proposed["A2"]["ends_on"] == "2027-05-31"
    assert proposed["A1"]["budget"] == [{"party": regency, "amount": 300_000_000, "source": "apbd"}]
    # One revision at a time: the form is no longer offered, and its address says why.
    await expect(page.locator("#revise-plan")).to_have_count(0)
    again = await (await web.signed_in_client(staff)).get(f"/ui/agreements/{agreement_id}/plan/revise")
    assert again.status_code == 409
    await refuse_without_csrf(web, visits, staff)
    await page.context.close()


async def test_initiating_staff_edit_the_plan_during_negotiation_from_its_form(web: LiveStack, browser, orgs):
    province, regency = orgs
    staff = web.user(province, "staff")
    body = plan_proposal(province, regency) | {"start_date": "2027-02-01"}
    body["activities"][0] |= {"starts_on": "2027-03-01", "ends_on": "2027-12-31"}
    body["activities"][1] |= {"starts_on": "2027-04-01", "ends_on": "2027-06-30"}
    body["activities"][1]["budget"] = [
        {"party": province, "amount": 10_000_000},
        {"party": regency, "amount": 5_000_000},
    ]
    created = await web.api(staff, "POST", "/agreements", json=body)
    assert created.status_code == 201, created.text
    agreement_id = created.json()["id"]
    assert (await web.api(staff, "POST", f"/agreements/{agreement_id}/actions", json={"type": "submit"})).is_success
    for org in (province, regency):
        decided = await web.api(
            web.user(org, "approver", gates=("review",)),
            "POST",
            f"/agreements/{agreement_id}/actions",
            json={"type": "decide", "gate": "review", "outcome": "approve"},
        )
        assert decided.status_code == 200, decided.text
    visits = Visits(web)
    partner = await web.signed_in_client(web.user(regency, "staff"))
    assert (await partner.get(f"/ui/agreements/{agreement_id}/plan/edit")).status_code == 409  # initiator's staff only
    page = await signed_in_page(browser, web, staff, f"/ui/agreements/{agreement_id}")
    assert await stage_of(page) == "negotiation"
    await expect(page.locator("#revise-plan")).to_have_count(0)  # nothing in force to revise yet
    await page.click("#edit-plan")
    await page.wait_for_url(re.compile(rf"/ui/agreements/{agreement_id}/plan/edit$"))
    await expect(page.locator("#f-goals-0-code")).to_have_value("RPJMD-3.2")
    await expect(page.locator("#f-activities-1-cofunding")).to_have_value(f"{regency}:5000000:apbd")
    # An obligation due after the term ends: the decider's refusal stands next to the field.
    await page.fill("#f-obligations-0-due_on", "2031-01-01")
    await page.click("button[data-action=edit_plan]")
    await expect(page.locator("#e-obligations-0-due_on")).to_be_visible()
    await visits.record(page, "plan-edit-refused")
    await page.fill("#f-obligations-0-due_on", "2027-09-01")
    await page.fill("#f-activities-0-milestones", "Desain selesai; Uji tekanan")
    await visits.record(page, "plan-edit")
    await page.locator("button[data-action=edit_plan]").press("Enter")  # as above
    await page.wait_for_url(re.compile(rf"/ui/agreements/{agreement_id}\?done=edit_plan"))
    snapshot = (await web.api(staff, "GET", f"/agreements/{agreement_id}")).json()
    assert snapshot["obligations"][0]["due_on"] == "2027-09-01"
    assert snapshot["activities"][0]["milestones"] == ["Desain selesai", "Uji tekanan"]
    assert snapshot["activities"][1]["budget"] == [  # the co-funding kept
        {"party": province, "amount": 10_000_000, "source": "apbd"},
        {"party": regency, "amount": 5_000_000, "source": "apbd"},
    ]
    assert [(g["scheme"], g["code"]) for g in snapshot["goals"]] == [("sdg", "6.1"), ("regional", "RPJMD-3.2")]
    await refuse_without_csrf(web, visits, staff)
    await partner.aclose()
    await page.context.close()
