"""Going back after an action (issue #11, branch names14): the browser keeps no page, so Back
after a form's POST and its redirect shows the agreement as the action left it, not the
page from before it with its stale buttons; the static files stay cacheable."""

from __future__ import annotations

import httpx
from playwright.async_api import expect

from tests.web.live import LiveStack
from tests.web.test_browser import signed_in_page, stage_of
from tests.web.test_pages import proposal


async def test_back_after_submitting_shows_the_agreement_as_the_action_left_it(web: LiveStack, browser, orgs):
    province, regency = orgs
    staff = web.user(province, "staff")
    created = await web.api(staff, "POST", "/agreements", json=proposal(province, regency))
    assert created.status_code == 201, created.text
    agreement = f"/ui/agreements/{created.json()['id']}"
    page = await signed_in_page(browser, web, staff, agreement)
    assert await stage_of(page) == "draft"
    await page.click("button[data-action=submit]")
    await page.wait_for_url(f"**{agreement}?done=submit")
    assert await stage_of(page) == "review"
    await page.go_back()
    assert page.url.endswith(agreement)
    assert await stage_of(page) == "review"
    await expect(page.locator("button[data-action=submit]")).to_have_count(0)
    await page.context.close()


async def test_every_page_is_kept_by_no_browser_and_the_static_files_are(web: LiveStack, orgs):
    province, regency = orgs
    staff = web.user(province, "staff")
    created = await web.api(staff, "POST", "/agreements", json=proposal(province, regency))
    agreement = f"/ui/agreements/{created.json()['id']}"
    client = await web.signed_in_client(staff)
    anonymous = httpx.AsyncClient(base_url=web.base_url)
    pages = [
        await client.get(path)
        for path in ("/ui/inbox", agreement, f"{agreement}?done=submit", "/ui/agreements", "/ui/agreements/new")
    ]
    pages += [await client.get("/ui/agreements/no-such-agreement"), await client.get("/ui/dashboard")]
    pages += [await anonymous.get(path) for path in ("/ui/signin", "/public/")]
    for response in pages:
        assert response.headers["content-type"].startswith("text/html"), response.url
        assert response.headers.get("cache-control") == "no-store", response.url
    for path in ("/static/web/htmx.min.js", "/static/web/pakta.css"):
        static = await anonymous.get(path)
        assert static.status_code == 200 and "no-store" not in static.headers.get("cache-control", ""), path
        assert static.headers.get("etag"), path
    await client.aclose()
    await anonymous.aclose()
