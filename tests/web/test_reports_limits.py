"""The report upward's web page takes what `GET /reports/upward` takes: a period of at most
ten years and an organisation's id. Before, the page built a report over any span (1945 to
2100 read every event of every agreement) and an operator's odd `org` reached the CSV's file
name as it was (a character outside Latin-1 was a 500)."""

from __future__ import annotations

import pytest

from tests.web.live import LiveStack

CENTURY = "from=1945-08-17&to=2100-12-31"


@pytest.mark.parametrize("path", ["/ui/reports/upward.csv", "/ui/reports/upward.pdf"])
async def test_a_report_over_more_than_ten_years_is_refused(web: LiveStack, orgs, path: str):
    province, _ = orgs
    staff = await web.signed_in_client(web.user(province, "staff"))
    resp = await staff.get(f"{path}?org={province}&{CENTURY}")
    await staff.aclose()
    assert resp.status_code == 422 and "paling lama sepuluh tahun" in resp.text


async def test_an_organisation_id_that_names_no_organisation_is_refused_not_a_500(web: LiveStack):
    operator = await web.signed_in_client(web.user("pakta-ops", "operator"))
    csv = await operator.get("/ui/reports/upward.csv?org=%D0%BA%D0%BE%D1%82%D0%B0&from=2027-01-01&to=2027-12-31")
    page = await operator.get("/ui/reports/upward?org=a%26to%3D1&from=2027-01-01&to=2027-12-31")
    await operator.aclose()
    assert csv.status_code == 422, csv.text
    assert page.status_code == 200 and "upward.csv?org=a&amp;to=1" not in page.text
