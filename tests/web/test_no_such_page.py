"""A path of the web pages that no route serves (issue #11, branch web15): a person who
mistypes a link of the staff interface or the portal, or follows an old bookmark, gets the
site's error page in their language, not the API's JSON; the API's paths keep the one JSON
error shape."""

from __future__ import annotations

import httpx

from tests.web.live import LiveStack


async def test_a_mistyped_page_address_answers_the_sites_404_page_in_the_readers_language(web: LiveStack, orgs):
    province, _ = orgs
    staff = await web.signed_in_client(web.user(province, "staff"))
    anonymous = httpx.AsyncClient(base_url=web.base_url)
    for client, path in (
        (staff, "/ui/inbx"),
        (staff, "/ui/agreements/no-such-agreement/nothing-here"),
        (anonymous, "/ui/no-such-page"),
        (anonymous, "/public/agreemnts"),
        (anonymous, "/public/agreements/x/y/z"),
    ):
        response = await client.get(path)
        assert response.status_code == 404, path
        assert response.headers["content-type"].startswith("text/html"), path
        assert response.headers.get("cache-control") == "no-store", path
        assert "<main" in response.text and "Tidak ditemukan" in response.text, path
    staff.cookies.set("pakta_lang", "en")
    english = await staff.get("/ui/inbx")
    assert english.status_code == 404 and "<h1>Not found</h1>" in english.text
    await staff.aclose()
    await anonymous.aclose()


async def test_a_form_address_opened_as_a_link_answers_the_sites_405_page_with_its_allowed_method(web: LiveStack):
    async with httpx.AsyncClient(base_url=web.base_url) as anonymous:
        response = await anonymous.get("/ui/signout")
    assert response.status_code == 405
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["allow"] == "POST"
    assert "<main" in response.text and "Tidak diizinkan" in response.text


async def test_the_apis_paths_keep_the_json_error_shape_for_a_path_or_method_no_route_serves(web: LiveStack):
    async with httpx.AsyncClient(base_url=web.base_url) as anonymous:
        for path, status, code in (
            ("/no-such-resource", 404, "not_found"),
            ("/agreements/x/no-such-thing", 404, "not_found"),
            ("/uinbox", 404, "not_found"),
            ("/healthz", 405, "method_not_allowed"),
        ):
            response = await (anonymous.delete(path) if status == 405 else anonymous.get(path))
            assert response.status_code == status, path
            assert response.headers["content-type"] == "application/json", path
            assert response.json()["error"]["code"] == code, path


async def test_a_browser_following_an_old_bookmark_sees_the_not_found_page(web: LiveStack, browser):
    context = await browser.new_context(locale="id-ID")
    page = await context.new_page()
    response = await page.goto(f"{web.base_url}/ui/agreement/old-bookmark")
    assert response is not None and response.status == 404
    assert await page.locator("h1").inner_text() == "Tidak ditemukan"
    assert await page.get_by_role("link", name="Kotak masuk").count() >= 1
    await context.close()
