"""The overseer's roll-up in a real browser: a province's staff open it from the dashboard,
choose the period, see a table per regency it oversees and the totals, follow a link into
a regency's own report upward; its CSV and PDF, and the API's CSV; a regency's staff are
refused the province's roll-up and are offered none on their dashboard."""

from __future__ import annotations

import csv
import io
import re

from playwright.async_api import expect

from services.store import register
from services.store.db import session_scope
from tests.builders import party, proposal
from tests.provinces import unused_province
from tests.web.live import LiveStack
from tests.web.test_browser import Visits, signed_in_page
from tests.web.test_reports import record_signed

PERIOD = "from=2027-01-01&to=2027-06-30"


async def test_a_provinces_staff_follow_the_roll_up_into_a_regencys_report(web: LiveStack, browser, orgs):
    province, regency = orgs
    city = f"kota-{regency[4:]}"
    code = unused_province()
    visits = Visits(web)
    async with session_scope(web.sessionmaker) as session:
        for org, name, level in (
            (province, f"Pemerintah Provinsi {province}", "province"),
            (regency, f"Pemerintah Kabupaten {regency}", "regency"),
            (city, f"Pemerintah Kota {city}", "city"),
        ):
            entry = register.Entry(org=org, name_id=name, level=level, province_code=code)  # type: ignore[arg-type]
            await register.put(session, entry=entry, updated_by="operator@pakta")
    signed = await record_signed(
        web, proposal([party(regency, "initiator"), party(f"univ-{regency}", sector="academia")], "ksdpk")
    )

    page = await signed_in_page(browser, web, web.user(province, "staff"), "/ui/dashboard")
    await page.click("a[href='/ui/reports/overseen']")  # offered to an organisation that oversees others
    await expect(page.locator("h1")).to_have_text("Rekapitulasi organisasi yang diawasi")
    await page.fill("#from", "2027-01-01")
    await page.fill("#to", "2027-06-30")
    await page.click("form[action='/ui/reports/overseen'] button[type=submit]")
    await page.wait_for_url(re.compile(r"from=2027-01-01"))
    lines = page.locator("section.overseen")
    await expect(lines).to_have_count(2)
    ours = page.locator(f"section.overseen[data-org='{regency}']")
    await expect(ours.locator("table tbody tr").first).to_contain_text("1")  # one agreement in force
    await expect(page.locator("section.totals table tbody tr").first).to_contain_text("1")
    await visits.record(page, "rollup")

    await ours.locator("h3 a").click()
    await page.wait_for_url(re.compile(rf"/ui/reports/upward\?org={regency}&from=2027-01-01&to=2027-06-30$"))
    await expect(page.locator(f"tr[data-agreement='{signed}']")).to_be_visible()

    pdf = await page.request.get(f"{web.base_url}/ui/reports/overseen.pdf?org={province}&{PERIOD}")
    assert pdf.status == 200 and (await pdf.body()).startswith(b"%PDF")
    sheet = await page.request.get(f"{web.base_url}/ui/reports/overseen.csv?org={province}&{PERIOD}")
    table = await sheet.text()
    rows = list(csv.DictReader(io.StringIO(table)))
    assert [(r["org"], r["in_force"]) for r in rows] == [(regency, "1"), (city, "0"), ("*", "1")]  # by id
    await page.context.close()

    # Over the API, the same CSV.
    api = await web.api(web.user(province, "admin"), "GET", f"/reports/overseen.csv?{PERIOD}")
    assert api.status_code == 200 and api.headers["content-type"].startswith("text/csv")
    assert api.text == table

    # A regency oversees no one: no link on its dashboard, and the province's roll-up is refused.
    other = await web.signed_in_client(web.user(regency, "staff"))
    assert (await other.get("/ui/dashboard/oversight")).text == ""
    assert (await other.get(f"/ui/reports/overseen?org={province}&{PERIOD}")).status_code == 403
    assert (await other.get(f"/ui/reports/overseen.csv?org={province}&{PERIOD}")).status_code == 403
    refused = await web.api(web.user(regency, "staff"), "GET", f"/reports/overseen.csv?org={province}&{PERIOD}")
    assert refused.status_code == 403 and set(refused.json()) == {"error"}
    await other.aclose()
