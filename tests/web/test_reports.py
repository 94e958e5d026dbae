"""The report upward in a real browser: from the dashboard to the form, the report for a
period with its printable PDF and CSV, in Indonesian and English; another organisation's
report refused. Agreements are decided by the decider and recorded as the workflow records
them, on the live stack's PostgreSQL."""

from __future__ import annotations

import re
import uuid

from playwright.async_api import expect

from services.store import queries, register
from services.store.db import session_scope
from tests.builders import NOW, happy_step, party, proposal, replay, run, staff
from tests.provinces import unused_province
from tests.web.live import LiveStack
from tests.web.test_browser import Visits, signed_in_page
from workflows import lifecycle as L
from workflows import messages as m


async def record_signed(web: LiveStack, prop: m.Proposal, *, terminate: str | None = None) -> str:
    """A proposal taken through signing (and terminated, with `terminate` as the reason)."""
    lead = next(p.org for p in prop.parties if p.role == "initiator")
    events = L.create(prop, staff(lead), NOW, f"agr-{uuid.uuid4()}")
    state = replay(events)
    while state.stage != "implementation":
        state, more = happy_step(state, NOW)
        events += more
    if terminate:
        state, more = run(state, staff(lead), m.Terminate(reason=terminate), NOW)
        events += more
        while state.stage != "terminated":
            state, more = happy_step(state, NOW)
            events += more
    async with session_scope(web.sessionmaker) as session:
        await queries.append_events(session, state=state, events=events)
    return state.id


async def test_a_regency_prints_its_report_upward_from_the_dashboard(web: LiveStack, browser, orgs):
    province, regency = orgs
    visits = Visits(web)
    code = unused_province()
    async with session_scope(web.sessionmaker) as session:
        for entry in (
            register.Entry(
                org=province, name_id=f"Pemerintah Provinsi {province}", level="province", province_code=code
            ),
            register.Entry(org=regency, name_id=f"Pemerintah Kabupaten {regency}", level="regency", province_code=code),
        ):
            await register.put(session, entry=entry, updated_by="operator@pakta")
    kept = await record_signed(
        web, proposal([party(regency, "initiator"), party(f"univ-{regency}", sector="academia")], "ksdpk")
    )
    ended = await record_signed(
        web, proposal([party(regency, "initiator"), party(province)], "ksdd"), terminate="Anggaran tidak tersedia"
    )

    page = await signed_in_page(browser, web, web.user(regency, "staff"), "/ui/dashboard")
    await page.click("a[href='/ui/reports/upward']")
    await expect(page.locator("h1")).to_have_text("Laporan ke atas")
    await page.fill("#from", "2027-01-01")
    await page.fill("#to", "2027-06-30")
    await page.click("form[action='/ui/reports/upward'] button[type=submit]")
    await page.wait_for_url(re.compile(r"from=2027-01-01"))
    await expect(page.locator(f"tr[data-agreement='{kept}']")).to_be_visible()
    await expect(page.locator(f"tr[data-agreement='{ended}']")).to_contain_text("Anggaran tidak tersedia")
    await expect(page.locator("li[data-kind='terminated']")).to_have_count(1)
    await expect(page.locator("#h-basis")).to_have_text("Dasar hukum")
    # whom it goes to is the register's: the regency's province, by law
    await expect(page.locator("p.meta", has_text="Melapor kepada")).to_contain_text(
        f"gubernur (Pemerintah Provinsi {province})"
    )
    await expect(page.locator("section", has=page.locator("#h-plans"))).to_contain_text(
        "Belum ada perjanjian yang memuat rencana aksi."
    )
    await visits.record(page, "report-upward")

    pdf = await page.request.get(f"{web.base_url}/ui/reports/upward.pdf?org={regency}&from=2027-01-01&to=2027-06-30")
    assert pdf.status == 200 and (await pdf.body()).startswith(b"%PDF")
    sheet = await page.request.get(f"{web.base_url}/ui/reports/upward.csv?org={regency}&from=2027-01-01&to=2027-06-30")
    assert sheet.status == 200 and (await sheet.text()).startswith("org,period_from,period_to,agreement_id")

    await page.select_option("#pref-lang", "en")
    await page.click("form.prefs button[type=submit]")
    await expect(page.locator("h1")).to_have_text("Reports upward")
    await page.goto(f"{web.base_url}/ui/reports/upward?org={regency}&from=2027-01-01&to=2027-06-30")
    await expect(page.locator("#h-problems")).to_have_text("Problems and follow-up")
    await visits.record(page, "report-upward-en")

    refused = await page.request.get(f"{web.base_url}/ui/reports/upward?org={province}&from=2027-01-01&to=2027-06-30")
    assert refused.status == 403
    await page.context.close()
