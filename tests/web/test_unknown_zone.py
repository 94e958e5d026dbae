"""A time zone in an organisation's settings that the pinned zone data does not know (issue
#11, review of zones15): the pages count it as Jakarta's, as the decider does."""

from __future__ import annotations

from sqlalchemy import text

from tests.web.live import LiveStack
from tests.web.test_pages import proposal as web_proposal


async def test_staff_whose_organisation_set_a_zone_the_zone_data_no_longer_knows_see_their_pages_in_jakartas_time(
    web: LiveStack, orgs
):
    """A zone in the organisation's settings the pinned tzdata does not know (a later release
    dropped it, or an older Pakta took it from the host's zone files) counts as Jakarta's, as
    it does for the decider: the pages that write a time in it answered 500."""
    province, regency = orgs
    created = await web.api(web.user(province, "staff"), "POST", "/agreements", json=web_proposal(province, regency))
    assert created.status_code == 201, created.text
    async with web.sessionmaker() as session:
        await session.execute(
            text(
                "INSERT INTO organisation_settings (org, time_zone, updated_by) VALUES (:org, 'Asia/Atlantis', 'test') "
                "ON CONFLICT (org) DO UPDATE SET time_zone = excluded.time_zone"
            ),
            {"org": province},
        )
        await session.commit()
    staff = await web.signed_in_client(web.user(province, "staff"))
    try:
        for path in ("/ui/", "/ui/agreements", f"/ui/agreements/{created.json()['id']}", "/ui/no-such-page"):
            response = await staff.get(path, follow_redirects=True)
            assert response.status_code in (200, 404), (path, response.status_code)
            assert "<main" in response.text, path
    finally:
        await staff.aclose()
        async with web.sessionmaker() as session:
            await session.execute(text("DELETE FROM organisation_settings WHERE org = :org"), {"org": province})
            await session.commit()
