"""Every mail read as its reader reads it (issue #11, branch mailnames15): in Indonesian and
in English, no organisation by its id, no ISO date or time, no value of an enum or a step's
key, and no English in an Indonesian mail. Pure: the templates rendered as the dispatcher
renders them, given the names it reads (tests/worker/test_mail_names.py reads them for real)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_date

from services.notifying import render
from tests import builders as b
from tests.decider.test_implementation import plan_story
from tests.decider.test_notifications_rules import in_implementation
from workflows.notify.rules import Notification, endpoint_disabled, notifications_for
from workflows.portfolio import digest as d
from workflows.procedures import CHANGE_PROCEDURES, PROCEDURES

NAMES = {"jabar": "Pemerintah Provinsi Jawa Barat", "jateng": "Pemerintah Provinsi Jawa Tengah"}
DUE = "2027-08-01T02:00:00+00:00"
# What time brings, and what the implementation and the publishing bring (as the decider's
# timers and commands record it).
MORE = [
    ("deadline_reminder", {"due_at": DUE, "days_before": 7}),
    ("deadline_escalated", {"due_at": DUE}),
    ("evaluation_opened", {"number": 1, "final": False, "due_at": DUE}),
    ("evaluation_reminder", {"evaluation": 1, "due_at": DUE, "days_before": 0}),
    ("evaluation_escalated", {"evaluation": 1, "round": 2, "to": "head_office"}),
    ("evaluation_concluded", {"evaluation": 1, "score": 80, "recommendation": "expand", "summary": "Baik"}),
    ("expiry_reminder", {"end_date": "2030-01-01", "days_before": 30}),
    ("change_opened", {"kind": "renewal", "number": 1, "summary": "Tiga tahun lagi"}),
    ("change_completed", {"kind": "renewal", "number": 1, "changes": {"end_date": "2033-01-01"}}),
    ("change_rejected", {"kind": "amendment", "number": 2, "comment": "Belum perlu"}),
    ("change_edited", {"number": 1, "summary": "Tambah lokasi", "changes": {}}),
    ("change_withdrawn", {"kind": "amendment", "number": 1, "reason": "Belum perlu"}),
    ("change_open_at_end_date", {"kind": "renewal", "number": 1, "end_date": "2032-02-01", "notice": "n"}),
    (
        "recommendation_deferred",
        {"evaluation": 2, "recommendation": "expand", "open_change": "renewal-1", "summary": "Perluas"},
    ),
    ("dprd_requirement_set", {"org": "jabar", "facts": {}, "required": True, "gates": []}),
    ("agreement_published", {"org": "jateng", "documents": ["0" * 64]}),
    ("agreement_unpublished", {"org": "jateng"}),
    ("comment_added", {"org": "jateng", "text": "Siap."}),
]
ISO_DAY = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
SNAKE = re.compile(r"\b[a-z]+_[a-z_]+\b")  # an enum's value, a step's key (head_office, penyusunan_ksb)
ENGLISH = re.compile(r"\b(the|and|of|step|due|days|overdue|by|for|Reminder|agreement|report)\b")


def notices() -> list[Notification]:
    state, events = in_implementation()
    found = [n for e in events for n in notifications_for(e, state)]
    for type_, data in MORE:
        news = notifications_for(events[-1].model_copy(update={"type": type_, "data": data}), state)
        assert news, type_
        found += news
    for plan_state, plan_events in plan_story():
        found += [n for e in plan_events for n in notifications_for(e, plan_state)]
    found.append(
        endpoint_disabled(org="jabar", endpoint_id="ep-1", url="https://x.test/h", event=events[0], reason="HTTP 503")
    )
    # A digest with something in each of its dated sections: a step due (and overdue), an
    # agreement ending.
    reviewed = b.submitted()
    ending = b.implemented()
    due = reviewed.deadlines["step"]
    assert ending.end_date is not None
    end = datetime.combine(ending.end_date, time(3), UTC)
    for at in (due - timedelta(days=3), due + timedelta(days=2), end - timedelta(days=30)):
        found.append(d.digest_notification(d.build_digest(b.INITIATOR, [reviewed, ending], at, "Asia/Jakarta")))
    return found


@pytest.mark.parametrize("language", ["id", "en"])
def test_every_mail_names_organisations_dates_and_steps_in_words_in_its_readers_language(language):
    names = {**NAMES, b.INITIATOR: "Pemerintah Provinsi Uji"}
    seen = set()
    for note in notices():
        out = render.render(note, language=language, name="Siti", public_url="https://pakta.test", names=names)
        read = f"{out.subject}\n{out.text.split('https://pakta.test')[0]}"
        for org in names:  # the signatories' names the tests' parties were given
            read = read.replace(f"Head of {org}", "Gubernur")
        seen.add(note.template)
        assert not ISO_DAY.search(read), (note.template, read)
        assert not SNAKE.search(read), (note.template, read)
        for org in names:
            assert not re.search(rf"\b{org}\b", read), (note.template, org, read)
        if language == "id" and note.template != "webhook_disabled":  # its API call is in English
            assert not ENGLISH.search(read), (note.template, read)
    assert {"portfolio_digest", "meeting_invitation", "recommendation_deferred", "implementation_started"} <= seen


def test_a_steps_key_names_the_same_step_in_every_released_procedure():
    # A digest's item holds a step's key only (`render.STEP_NAMES` names it).
    named: dict[str, tuple[str, str]] = {}
    for procedure in (*PROCEDURES.values(), *CHANGE_PROCEDURES.values()):
        for step in procedure.steps:
            assert named.setdefault(step.key, (step.name_id, step.name_en)) == (step.name_id, step.name_en)
    assert set(named) <= set(render.STEP_NAMES)


def test_dates_and_moments_read_as_words_in_the_readers_zone():
    state, events = in_implementation()
    (started,) = notifications_for(
        events[-1].model_copy(
            update={"type": "expiry_reminder", "data": {"end_date": "2030-01-31", "days_before": 30}}
        ),
        state,
    )[:1]
    text = render.render(started, language="id", name=None, public_url="https://pakta.test").text
    assert "berakhir pada 31 Januari 2030." in text
    text = render.render(started, language="en", name=None, public_url="https://pakta.test").text
    assert "ends on 31 January 2030." in text
    reminder = notifications_for(
        events[-1].model_copy(update={"type": "deadline_reminder", "data": {"due_at": DUE, "days_before": 7}}), state
    )[0]
    papua = render.render(reminder, language="id", name=None, public_url="", time_zone="Asia/Jayapura").text
    assert "Batas waktu: 1 Agustus 2027 11:00 WIT." in papua


class Watched(datetime):
    """A datetime that counts how often it is formatted by strftime."""

    formatted = 0

    def __format__(self, spec: str) -> str:
        Watched.formatted += 1
        return super().__format__(spec)

    def strftime(self, fmt: str) -> str:
        Watched.formatted += 1
        return super().strftime(fmt)


def test_a_moment_reads_as_strftime_would_write_it_without_strftime():
    # Its hour and minute from their fields: strftime was ≈ 7 of a moment's ≈ 10 µs.
    for zone_name in ("Asia/Jakarta", "Asia/Jayapura", "Europe/Amsterdam", "America/St_Johns"):
        zone = ZoneInfo(zone_name)
        for minute in range(0, 2 * 24 * 60, 7):  # over Europe's spring change of clocks
            at = Watched(2027, 3, 27, tzinfo=UTC) + timedelta(minutes=minute)
            local = (datetime(2027, 3, 27, tzinfo=UTC) + timedelta(minutes=minute)).astimezone(zone)
            for lang in render.LANGUAGES:
                expected = f"{render.day_text(local.date(), lang)} {local.strftime('%H:%M')} {render.zone_label(local)}"
                assert render.moment(at, lang, zone) == expected
                assert render.moment(at.isoformat(), lang, zone) == expected
    assert Watched.formatted == 0


def test_every_mails_blocks_and_layouts_read_as_jinjas_own_rendering_writes_them():
    # render._made makes their contexts with fewer blocks and the globals from a plain dict.
    environment = render._environment()
    for note in notices():
        for lang in render.LANGUAGES:
            context = render._context(note, lang, name=None, public_url="https://p.test", time_zone=None, names=NAMES)
            template = environment.get_template(f"{lang}.txt")
            key = render._key(template, note.template)
            names = (f"{key}_subject", f"{key}_body", "open_label", "footer")
            jinjas = template.new_context(context)
            blocks = ["".join(template.blocks[name](jinjas)).strip() for name in names]
            assert render._blocks(template, context, *names) == blocks
            parts = {"subject": blocks[0], "body": blocks[1], "paragraphs": blocks[1].split("\n\n")}
            parts |= {"greeting": "Yth. Siti,", "open_label": blocks[2], "footer": blocks[3]}
            for layout in ("layout.txt", "layout.html"):
                page = environment.get_template(layout)
                assert render._page(page, {**context, **parts}) == page.render(**context, **parts)


def test_a_day_is_written_as_babel_writes_it_for_the_pages():
    # `render.day_text` writes "d MMMM yyyy" itself (Babel's pattern parsing was a third of a
    # mail's rendering); the text is Babel's, the pages' (services/api/web/i18n.py).
    start = date(2026, 12, 1)
    for offset in range(0, 800, 7):
        day = start + timedelta(days=offset)
        for lang, locale in render.LOCALES.items():
            assert render.day_text(day, lang) == format_date(day, "d MMMM yyyy", locale=locale)
