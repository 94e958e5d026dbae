"""The register of organisations in a real browser: an operator registers a province and a
regency through the form (a regency without its province is marked next to the field); the
regency's administrator changes its name but is shown no level, province or overseer, and a
forged post of one is refused and changes nothing; the register's list and each entry's
page with who oversees it and whom it oversees."""

from __future__ import annotations

import re

from playwright.async_api import expect

from tests.provinces import unused_province
from tests.web.live import LiveStack, csrf_of, posted_without_csrf
from tests.web.test_browser import Visits, signed_in_page


async def test_an_operator_registers_a_province_and_a_regency_whose_admin_keeps_only_names_and_contacts(
    web: LiveStack, browser, orgs
):
    province, regency = orgs
    code = unused_province()
    visits = Visits(web)
    operator = web.user("pakta", "operator")
    page = await signed_in_page(browser, web, operator, "/ui/organisations")

    # The province: from the list's "register an organisation" to its form, then its page.
    await page.fill("#register", province)
    await page.click("form:has(#register) button[type=submit]")
    await page.wait_for_url(re.compile(rf"/ui/organisations/{province}/edit$"))
    await visits.record(page, "register-new")
    await page.fill("#f-name_id", f"Pemerintah Provinsi {province}")
    await page.select_option("#f-level", "province")
    await page.select_option("#f-province_code", code)
    await page.click("form.register-entry button[type=submit]")
    await page.wait_for_url(re.compile(rf"/ui/organisations/{province}\?done=saved$"))
    await expect(page.locator("#level")).to_have_text("provinsi")
    await expect(page.locator("#overseer")).to_contain_text("menurut undang-undang")  # Kemendagri, by law

    # The regency: without its province it is refused next to the field, and nothing is saved.
    await page.goto(f"{web.base_url}/ui/organisations?register={regency}")
    await page.fill("#f-name_id", f"Pemerintah Kabupaten {regency}")
    await page.select_option("#f-level", "regency")
    await page.click("form.register-entry button[type=submit]")
    await expect(page.locator("#e-province_code")).to_be_visible()
    await visits.record(page, "register-new-errors")
    assert (await web.api(operator, "GET", f"/organisations/{regency}")).status_code == 404
    await page.select_option("#f-province_code", code)
    await page.click("form.register-entry button[type=submit]")
    await page.wait_for_url(re.compile(rf"/ui/organisations/{regency}\?done=saved$"))
    # Its overseer is derived by law: the province's government just registered.
    await expect(page.locator("#overseer a")).to_have_text(f"Pemerintah Provinsi {province}")
    await visits.record(page, "register-entry")
    await page.click("#overseer a")
    await expect(page.locator(f"table.overseen tr[data-org='{regency}']")).to_be_visible()

    # The list with the API's filters: the province's organisations, and a level among them.
    await page.goto(f"{web.base_url}/ui/organisations?province={code}")
    await expect(page.locator("table.register tbody tr")).to_have_count(2)
    await page.select_option("#level", "regency")
    await page.click("form[role=search] button[type=submit]")
    await expect(page.locator("table.register tbody tr")).to_have_count(1)
    await expect(page.locator(f"tr[data-org='{regency}']")).to_contain_text(province)
    await visits.record(page, "register-list")
    assert {f"/ui/organisations/{regency}/edit"} <= await posted_without_csrf(web, operator, visits.pages)
    await page.context.close()

    # The regency's administrator: its names and contacts, nothing of the platform's.
    admin = web.user(regency, "admin")
    own = await signed_in_page(browser, web, admin, f"/ui/organisations/{regency}")
    await own.click(f"a[href='/ui/organisations/{regency}/edit']")
    for field in ("#f-level", "#f-province_code", "#f-overseer", "#f-foreign"):
        await expect(own.locator(field)).to_have_count(0)
    await own.fill("#f-name_id", f"Pemerintah Kabupaten {regency} (baru)")
    await own.fill("#f-email", "Setda@Example.go.id")
    await visits.record(own, "register-edit-admin")
    await own.click("form.register-entry button[type=submit]")
    await own.wait_for_url(re.compile(r"\?done=saved$"))
    await expect(own.locator("#name-id")).to_have_text(f"Pemerintah Kabupaten {regency} (baru)")
    entry = (await web.api(admin, "GET", f"/organisations/{regency}")).json()
    assert entry["email"] == "setda@example.go.id" and entry["level"] == "regency" and entry["updated_by"] == admin.sub

    # A forged post naming the level or the overseer is refused by the API's rule, changing nothing.
    form = await own.request.get(f"{web.base_url}/ui/organisations/{regency}/edit")
    csrf = csrf_of(await form.text())
    for forged in ({"level": "city"}, {"overseer": province}):
        resp = await own.request.post(
            f"{web.base_url}/ui/organisations/{regency}/edit",
            form={"csrf": csrf, "name_id": "Dipalsukan", **forged},
        )
        assert resp.status == 403, forged
        assert "dikelola operator" in await resp.text()
    assert (await web.api(admin, "GET", f"/organisations/{regency}")).json() == entry
    await own.context.close()

    # Staff of the regency read the register but edit nothing of it.
    staff = await web.signed_in_client(web.user(regency, "staff"))
    assert "Ubah entri" not in (await staff.get(f"/ui/organisations/{regency}")).text
    assert (await staff.get(f"/ui/organisations/{regency}/edit")).status_code == 403
    assert (await staff.get("/ui/organisations/no-such-org")).status_code == 404
    # ... in English too
    page_id = await staff.get(f"/ui/organisations/{province}")
    await staff.post("/ui/prefs", data={"csrf": csrf_of(page_id.text), "lang": "en", "zone": "UTC", "next": "/ui/"})
    page_en = await staff.get(f"/ui/organisations/{province}")
    assert "Organisations it oversees" in page_en.text and ">Register of organisations</a>" in page_en.text
    await staff.aclose()
