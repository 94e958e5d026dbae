"""The public transparency portal: only what an organisation published, with its open data
(OCDS release packages valid against the standard's schema, CSV)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
from jsonschema import Draft4Validator
from playwright.async_api import expect
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from tests.provinces import unused_province
from tests.web.live import LiveStack, csrf_of, outside_hosts, screenshot
from tests.web.test_browser import signed_in_page
from tests.web.test_pages import proposal

SCHEMA = Path(__file__).parents[2] / "services" / "api" / "web" / "schema"


def ocds_validator() -> Draft4Validator:
    package = json.loads((SCHEMA / "release-package-schema.json").read_text())
    release = json.loads((SCHEMA / "release-schema-subset.json").read_text())
    registry = Registry().with_resource(release["id"], Resource.from_contents(release, default_specification=DRAFT4))
    return Draft4Validator(package, registry=registry)


async def in_implementation_with_a_score(
    web: LiveStack, org: str, partner: str, title: str = "Kerja sama air bersih yang sudah berjalan"
) -> tuple[str, str]:
    """An agreement signed on paper, imported, with a concluded evaluation (score 82); its
    id and the hash of its signed scan."""
    admin, staff = web.user(org, "admin"), web.user(org, "staff")
    signed = await web.api(admin, "POST", "/documents", content=b"signed\n", headers={"Content-Type": "text/plain"})
    body = proposal(org, partner, title=title, start_date="2026-01-01")
    record = {"ref": f"PKS/{org}/7", "signed_on": "2025-12-20", "document": signed.json()["sha256"], "proposal": body}
    imported = await web.api(admin, "POST", "/agreements/import", json=[record])
    assert imported.status_code == 200, imported.text
    agreement_id = imported.json()["imported"][0]["id"]
    report = {"type": "submit_evaluation_report", "evaluation": 1, "narrative": "Baik.", "results": []}
    for user, command in (
        (staff, {"type": "start_evaluation"}),
        (staff, report),
        (web.user(partner, "staff"), report),
        (staff, {"type": "conclude_evaluation", "evaluation": 1, "score": 82, "recommendation": "continue"}),
    ):
        resp = await web.api(user, "POST", f"/agreements/{agreement_id}/actions", json=command)
        assert resp.status_code == 200, resp.text
    return agreement_id, signed.json()["sha256"]


async def act(web: LiveStack, user, agreement_id: str, command: dict) -> httpx.Response:
    return await web.api(user, "POST", f"/agreements/{agreement_id}/actions", json=command)


async def test_the_portal_shows_only_what_a_party_published_and_unpublishing_removes_it(web: LiveStack, browser, orgs):
    province, regency = orgs
    staff = web.user(province, "staff")
    other = web.user(regency, "staff")

    async def create(user, body, submit=True) -> str:
        resp = await web.api(user, "POST", "/agreements", json=body)
        assert resp.status_code == 201, resp.text
        if submit:
            sent = await act(web, user, resp.json()["id"], {"type": "submit"})
            assert sent.status_code == 200, sent.text
        return resp.json()["id"]

    submitted = await create(staff, proposal(province, regency, title="Air minum untuk publik", value=5_000_000))
    draft = await create(staff, proposal(province, regency, title="Masih draf rahasia"), submit=False)
    unpublished = await create(other, proposal(regency, province, title="Milik kabupaten tak terbit"))
    running, scan = await in_implementation_with_a_score(web, province, regency)

    # Not signed yet: nothing to publish; a partner is no party's staff.
    refused = await act(web, staff, submitted, {"type": "publish"})
    assert refused.status_code == 409 and "publish" not in refused.json()["error"]["allowed_actions"]
    assert (await act(web, web.user(province, "partner"), running, {"type": "publish"})).status_code == 403

    anonymous = httpx.AsyncClient(base_url=web.base_url)
    assert running not in (await anonymous.get("/public/")).text
    document = f"/public/agreements/{running}/documents/{scan}"
    assert (await anonymous.get(document)).status_code == 404

    # The regency (a party, not the initiator) publishes without documents: shown, its scan not.
    published = await act(web, other, running, {"type": "publish"})
    assert published.status_code == 200 and published.json()["publications"][0]["org"] == regency
    assert running in (await anonymous.get("/public/")).text
    assert (await anonymous.get(document)).status_code == 404

    # The province's staff publish from the agreement's page, ticking the signed scan.
    page = await signed_in_page(browser, web, staff, f"/ui/agreements/{running}")
    await page.click("#publishing summary")
    await page.check(f"input[name=documents][value='{scan}']")
    await screenshot(page, "publishing")
    await page.click("#publish")
    await page.wait_for_url(f"**/ui/agreements/{running}?done=publish*")
    assert await page.locator("#unpublish").count() == 1
    events = (await web.api(staff, "GET", f"/agreements/{running}/events")).json()["events"]
    trail = [e for e in events if e["type"] == "agreement_published"]
    assert [(e["data"]["org"], e["data"]["documents"]) for e in trail] == [(regency, []), (province, [scan])]
    overview = await page.context.new_page()
    await overview.goto(f"{web.base_url}/ui/publishing")
    assert await overview.locator(f"tr[data-agreement='{running}']").get_attribute("data-published") == "yes"
    # The public documents counted as a count, for any number (English read "1 public documents").
    await expect(overview.locator(f"tr[data-agreement='{running}']")).to_contain_text("(Dokumen publik: 1)")
    await screenshot(overview, "publishing-overview")

    # The portal's table per province follows the register: the initiator is the
    # government of a province there, so its agreement sits under that province's name.
    code = unused_province()
    registered = await web.api(
        web.user("pakta", "operator"),
        "PUT",
        f"/organisations/{province}",
        json={"name_id": "Pemerintah Provinsi Uji", "level": "province", "province_code": code},
    )
    assert registered.status_code == 200, registered.text
    province_name = registered.json()["province"]["name"]

    portal = await page.context.new_page()
    await portal.goto(f"{web.base_url}/public/")
    html = await portal.content()
    assert outside_hosts(html, web.base_url) == set()
    assert running in html
    heading = portal.locator("section.panel", has=portal.locator(f"tr[data-agreement='{running}']")).locator("h3")
    assert await heading.inner_text() == province_name
    assert submitted not in html and draft not in html and unpublished not in html and "Masih draf rahasia" not in html
    await screenshot(portal, "public")
    await portal.click(f"tr[data-agreement='{running}'] a")
    await portal.wait_for_url(f"**/public/agreements/{running}")
    detail = await portal.content()
    assert "82" in detail and "Gubernur" not in detail  # scores shown, officials' names never
    assert f'data-document="{scan}"' in detail
    await screenshot(portal, "public-agreement")

    downloaded = await anonymous.get(document)
    assert downloaded.status_code == 200 and downloaded.content == b"signed\n"
    assert "attachment" in downloaded.headers["content-disposition"]
    for elsewhere in (
        f"/public/agreements/{submitted}/documents/{scan}",
        f"/public/agreements/{running}/documents/{'0' * 64}",
    ):
        assert (await anonymous.get(elsewhere)).status_code == 404

    dashboard = await (await web.signed_in_client(staff)).get("/ui/dashboard")
    assert 'id="h-scores"' in dashboard.text and f'href="/ui/agreements/{running}"' in dashboard.text
    for hidden in (unpublished, draft, submitted):
        assert (await anonymous.get(f"/public/agreements/{hidden}")).status_code == 404

    package = (await anonymous.get("/public/ocds.json")).json()
    ocds_validator().validate(package)
    ids = {r["tender"]["id"] for r in package["releases"]}
    assert running in ids and not ({draft, unpublished, submitted} & ids)
    (contract,) = next(r for r in package["releases"] if r["tender"]["id"] == running)["contracts"]
    assert contract["status"] == "active" and contract["milestones"][0]["status"] == "met"
    assert [d["url"] for d in contract["documents"]] == [f"{web.base_url}{document}"]
    csv_text = (await anonymous.get("/public/agreements.csv")).text
    assert running in csv_text and unpublished not in csv_text and "5000000" not in csv_text

    # Taking both publications back removes it from the portal, its open data and its document.
    await page.click("#unpublishing summary")
    await page.click("#unpublish")
    await page.wait_for_url(f"**/ui/agreements/{running}?done=unpublish*")
    assert running in (await anonymous.get("/public/")).text  # the regency still publishes it
    assert (await anonymous.get(document)).status_code == 404  # only the province had marked the scan
    assert (await act(web, other, running, {"type": "unpublish", "reason": "Ditinjau"})).status_code == 200
    assert running not in (await anonymous.get("/public/")).text
    assert (await anonymous.get(f"/public/agreements/{running}")).status_code == 404
    assert running not in (await anonymous.get("/public/agreements.csv")).text
    assert running not in {r["tender"]["id"] for r in (await anonymous.get("/public/ocds.json")).json()["releases"]}
    await page.context.close()
    await anonymous.aclose()


async def test_the_open_data_links_to_the_public_url_whatever_host_the_request_names(web: LiveStack):
    async with httpx.AsyncClient(base_url=web.base_url, headers={"Host": "portal.attacker.test"}) as client:
        package = (await client.get("/public/ocds.json")).json()
    assert package["uri"] == f"{web.settings.public_url.rstrip('/')}/public/ocds.json"
    assert "attacker" not in json.dumps(package)


def test_the_ocds_schema_refuses_a_release_that_breaks_it():
    validator = ocds_validator()
    bad = {"version": "1.1", "releases": [{"ocid": "x", "id": "x-1", "date": "2027-01-01T00:00:00Z", "tag": []}]}
    errors = list(validator.iter_errors(bad))
    assert errors  # no initiationType, an empty tag


async def test_citizens_feedback_is_shown_only_once_moderated_and_is_rate_limited(web: LiveStack, browser, orgs):
    province, regency = orgs
    staff = web.user(province, "staff")
    agreement_id, _scan = await in_implementation_with_a_score(web, province, regency, title="Terminal bus")
    assert (await act(web, staff, agreement_id, {"type": "publish"})).status_code == 200
    moderator = await web.signed_in_client(staff)

    citizen = httpx.AsyncClient(base_url=web.base_url)
    page = await citizen.get(f"/public/agreements/{agreement_id}")
    assert page.status_code == 200
    path = f"/public/agreements/{agreement_id}/feedback"
    assert (await citizen.post(path, data={"message": "Tanpa token"})).status_code == 403
    assert (await citizen.post(path, data={"csrf": csrf_of(page.text), "message": ""})).status_code == 422
    sent = await citizen.post(
        path, data={"csrf": csrf_of(page.text), "name": "Budi", "message": "Tolong tambah halte."}
    )
    assert sent.status_code == 303
    shown = await citizen.get(f"/public/agreements/{agreement_id}?sent=1")
    assert "Tolong tambah halte." not in shown.text  # held for moderation
    second = await citizen.post(path, data={"csrf": csrf_of(page.text), "message": "Dan lampu jalan."})
    assert second.status_code == 303
    third = await citizen.post(path, data={"csrf": csrf_of(page.text), "message": "Sekali lagi."})
    assert third.status_code == 429

    # Another organisation's staff cannot moderate it; the initiator's staff can.
    queue = await moderator.get("/ui/feedback")
    assert "Tolong tambah halte." in queue.text and "Dan lampu jalan." in queue.text
    ids = re.findall(r'data-feedback="([^"]+)"', queue.text)
    outsider = await web.signed_in_client(web.user(regency, "staff"))
    outsider_page = await outsider.get("/ui/feedback")
    assert "Tolong tambah halte." not in outsider_page.text
    refused = await outsider.post(
        f"/ui/feedback/{ids[0]}", data={"csrf": csrf_of(outsider_page.text), "decision": "approve"}
    )
    assert refused.status_code == 404
    assert (await moderator.post(f"/ui/feedback/{ids[0]}", data={"decision": "approve"})).status_code == 403
    page_html = queue.text
    for feedback_id, decision in zip(ids, ("approve", "reject"), strict=True):
        done = await moderator.post(
            f"/ui/feedback/{feedback_id}", data={"csrf": csrf_of(page_html), "decision": decision}
        )
        assert done.status_code == 303
    public = await citizen.get(f"/public/agreements/{agreement_id}")
    assert "Tolong tambah halte." in public.text and "Budi" in public.text and "Dan lampu jalan." not in public.text

    portal = await browser.new_page()
    await portal.goto(f"{web.base_url}/public/agreements/{agreement_id}")
    assert await portal.title() == "Terminal bus · Pakta"
    assert await portal.locator("form").count() == 2  # the language switch and the feedback form
    assert outside_hosts(await portal.content(), web.base_url) == set()
    await screenshot(portal, "public-feedback")
    await portal.close()
    for client in (citizen, moderator, outsider):
        await client.aclose()
