"""What people read on an agreement's implementation (issue #11, branch words16): the health
reasons in the reader's language with the plan items' own words, and the plan's tables, the
meetings and their action items naming organisations, not their ids."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

from services.store import queries, register
from services.store.db import session_scope
from tests.builders import NOW, activity, doc, happy_step, obligation, party, proposal, replay, run, staff
from tests.provinces import unused_province
from tests.web.live import LiveStack, csrf_of
from tests.web.test_names import section
from workflows import lifecycle as L
from workflows import messages as m


async def in_force_with_a_missed_obligation(web: LiveStack, province: str, regency: str) -> str:
    """An agreement in force between `province` and `regency`, the regency's obligation
    missed and a meeting's decision owed by the regency; both registered by name. Its id."""
    plan = {
        "obligations": [
            obligation("O1", province, "2027-06-30", kind="funds"),
            obligation("O2", regency, "2027-03-31", description="Menyediakan data kunjungan puskesmas"),
        ],
        "activities": [activity("A1", regency, "2027-02-01", "2027-12-31")],
    }
    prop = proposal([party(province, "initiator"), party(regency)], "ksdd", **plan)
    events = L.create(prop, staff(province), NOW, f"agr-{uuid.uuid4()}")
    state = replay(events)
    while state.stage != "implementation":
        state, more = happy_step(state, NOW)
        events += more
    later = NOW + timedelta(days=1)
    meeting = m.ScheduleMeeting(title="Rapat koordinasi", at=later, participants=[province, regency], agenda=["Data"])
    minutes = m.RecordMinutes(
        meeting=1,
        document=doc("notulen"),
        decisions=[m.MeetingDecision(text="Kirim data kunjungan", party=regency, due_on="2027-03-01")],
    )
    missed = m.SettleObligation(obligation="O2", outcome="missed", note="Tanpa petugas")
    for actor, command, at in (
        (staff(province), meeting, NOW),
        (staff(province), minutes, later + timedelta(hours=2)),
        (staff(regency), missed, later + timedelta(hours=3)),
    ):
        state, more = run(state, actor, command, at)
        events += more
    async with session_scope(web.sessionmaker) as session:
        await queries.append_events(session, state=state, events=events)
        for org, name_id, name_en, level in (
            (province, f"Pemerintah Provinsi {province}", f"Provincial Government of {province}", "province"),
            (regency, f"Pemerintah Kabupaten {regency}", f"Regency Government of {regency}", "regency"),
        ):
            entry = register.Entry(
                org=org, name_id=name_id, name_en=name_en, level=level, province_code=unused_province()
            )
            await register.put(session, entry=entry, updated_by="operator@pakta")
    return state.id


async def test_the_agreement_page_says_why_it_is_off_track_in_the_readers_language_naming_the_obligation_and_its_party(
    web: LiveStack, orgs
):
    province, regency = orgs
    agreement_id = await in_force_with_a_missed_obligation(web, province, regency)
    client = await web.signed_in_client(web.user(regency, "staff"))
    page = (await client.get(f"/ui/agreements/{agreement_id}")).text
    reasons = page[page.index('<ul class="reasons">') :]
    reasons = reasons[: reasons.index("</ul>")]
    assert (
        f"Kewajiban tidak dipenuhi: Pemerintah Kabupaten {regency} tidak memenuhi kewajiban "
        "“Menyediakan data kunjungan puskesmas”."
    ) in reasons
    # Not the decider's English sentence with ids ("kab-… missed obligation O2.").
    shown = re.sub(r"<[^>]*>", "", reasons)
    assert "missed" not in shown and "O2" not in shown
    assert shown.count(regency) == shown.count(f"Kabupaten {regency}")

    await client.post("/ui/prefs", data={"csrf": csrf_of(page), "lang": "en", "next": "/ui/"})
    english = (await client.get(f"/ui/agreements/{agreement_id}")).text
    assert (
        f"Obligation missed: Regency Government of {regency} missed the obligation "
        "“Menyediakan data kunjungan puskesmas”."
    ) in english
    await client.aclose()

    # The API's JSON keeps the decider's sentence, and gains the facts the pages word it from.
    snapshot = (await web.api(web.user(regency, "staff"), "GET", f"/agreements/{agreement_id}")).json()
    (reason,) = snapshot["health"]["reasons"]
    assert reason["text"] == f"{regency} missed obligation O2."
    assert (reason["code"], reason["ref"], reason["party"]) == ("obligation_missed", "O2", regency)
    assert reason["about"] == "Menyediakan data kunjungan puskesmas"


async def test_the_plan_the_meetings_and_their_action_items_name_the_organisations_not_their_ids(web: LiveStack, orgs):
    province, regency = orgs
    agreement_id = await in_force_with_a_missed_obligation(web, province, regency)
    client = await web.signed_in_client(web.user(province, "staff"))
    page = (await client.get(f"/ui/agreements/{agreement_id}")).text
    plan = section(page, "h-plan")
    regency_name, province_name = f"Pemerintah Kabupaten {regency}", f"Pemerintah Provinsi {province}"
    for rows in ("activities", "obligations"):
        table = plan[plan.index(f'<table class="{rows}">') :]
        table = table[: table.index("</table>")]
        assert f"<td>{regency_name}</td>" in table and f"<td>{regency}</td>" not in table
    meetings = plan[plan.index('<ul class="meetings">') :]
    assert f"{province_name}, {regency_name}" in meetings  # the participants
    items = meetings[meetings.index('<ul class="action-items">') :]
    items = items[: items.index("</ul>")]
    assert f"Kirim data kunjungan — {regency_name}, Tenggat 1 Maret 2027" in items
    assert f"— {regency}," not in items
    await client.aclose()


async def test_the_inbox_card_says_why_the_agreement_is_off_track_as_the_agreement_page_does(web: LiveStack, orgs):
    province, regency = orgs
    agreement_id = await in_force_with_a_missed_obligation(web, province, regency)
    client = await web.signed_in_client(web.user(regency, "staff"))
    inbox = (await client.get("/ui/inbox")).text
    card = section(inbox, "h-work")
    card = card[card.index(f'data-agreement="{agreement_id}"') :]
    assert (
        f'data-code="obligation_missed">Pemerintah Kabupaten {regency} tidak memenuhi kewajiban '
        "“Menyediakan data kunjungan puskesmas”.</p>"
    ) in card
    await client.aclose()
