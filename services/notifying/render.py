"""Wording of notifications: subject, plain-text and HTML bodies from Jinja2 templates in
Indonesian and English (`services/notifying/templates/`).

Each language file (`id.txt`, `en.txt`) holds two blocks per template key,
`<key>_subject` and `<key>_body`, so translators see every message of a language in one
place; the body is written once as plain text and the layouts (`layout.txt`,
`layout.html`) turn it into both MIME parts. A key without blocks falls back to `generic`,
so a new event type still gets a sensible message before anyone words it.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale
from jinja2 import Environment, FileSystemLoader, Template, pass_context
from jinja2.runtime import Context
from markupsafe import escape

from services.notifying import health_words
from workflows.messages import DEFAULT_TIME_ZONE
from workflows.notify.rules import Notification
from workflows.procedures import CHANGE_PROCEDURES, PROCEDURES, TERMINATION_STEP

TEMPLATES = Path(__file__).resolve().parent / "templates"
LANGUAGES = ("id", "en")
DEFAULT_LANGUAGE = "id"

DOCUMENTS = {
    "id": {
        "loi": "surat pernyataan kehendak (LoI)",
        "plan": "rencana kerja sama",
        "ksb": "kesepakatan bersama (KSB)",
        "pks": "perjanjian kerja sama (PKS)",
        "adendum": "adendum",
    },
    "en": {
        "loi": "letter of intent (LoI)",
        "plan": "cooperation plan",
        "ksb": "memorandum of understanding (KSB)",
        "pks": "cooperation agreement (PKS)",
        "adendum": "addendum",
    },
}
GATE_NAMES = {  # what each gate is called, per language
    "id": {
        "review": "kajian TKKSD",
        "legal": "telaah hukum",
        "dprd": "persetujuan DPRD",
        "ministry": "persetujuan Menteri",
        "head": "keputusan kepala daerah",
    },
    "en": {
        "review": "TKKSD review",
        "legal": "legal review",
        "dprd": "DPRD approval",
        "ministry": "the Minister's approval",
        "head": "the head of region's decision",
    },
}


LOCALES = {"id": "id_ID", "en": "en_GB"}  # as the web pages' (services/api/web/i18n.py)
# A step's name by its key, for notices that hold only the key (the digest's items): every
# released procedure names a key alike (tests/decider/test_mail_wording.py checks it).
STEP_NAMES: dict[str, dict[str, str]] = {
    step.key: {"id": step.name_id, "en": step.name_en}
    for step in (
        *(step for procedure in (*PROCEDURES.values(), *CHANGE_PROCEDURES.values()) for step in procedure.steps),
        TERMINATION_STEP,
    )
}
STAGE_NAMES = {
    "id": {
        "draft": "konsep",
        "review": "kajian",
        "negotiation": "negosiasi",
        "approval": "persetujuan",
        "signing": "penandatanganan",
        "implementation": "pelaksanaan",
        "rejected": "ditolak",
        "withdrawn": "ditarik",
        "terminated": "diakhiri",
        "expired": "berakhir",
    },
    "en": {
        "draft": "draft",
        "review": "review",
        "negotiation": "negotiation",
        "approval": "approval",
        "signing": "signing",
        "implementation": "implementation",
        "rejected": "rejected",
        "withdrawn": "withdrawn",
        "terminated": "terminated",
        "expired": "expired",
    },
}
CHANGE_NAMES = {
    "id": {"amendment": "adendum", "renewal": "perpanjangan"},
    "en": {"amendment": "amendment", "renewal": "renewal"},
}


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


# The names a rendering gives the organisations its notice names, as a key of the cache of
# shared renderings: (id, name) pairs, sorted.
NameKey = tuple[tuple[str, str], ...]


def name_key(names: Mapping[str, str] | None) -> NameKey:
    return tuple(sorted(names.items())) if names else ()


@pass_context
def _org(context: Context, org: object) -> object:
    """`{{ d.by_org | org }}`: the organisation's name where the rendering was given one,
    else its id (a notice whose organisation neither the agreement nor the register names)."""
    names: Mapping[str, str] = context.get("names") or {}
    return names.get(org, org) if isinstance(org, str) else org


def _day_of(value: object, zone: ZoneInfo) -> date | None:
    """A notice's date (ISO text, as its JSON holds it, or a date), a moment's day in `zone`."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
        except ValueError:
            return None
    if isinstance(value, datetime):
        return value.astimezone(zone).date() if value.tzinfo else value.date()
    return value if isinstance(value, date) else None


@lru_cache(maxsize=len(LOCALES))
def _months(lang: str) -> dict[int, str]:
    """The months' names in `lang`, from Babel's CLDR data ("Januari", "January")."""
    return dict(Locale.parse(LOCALES[lang]).months["format"]["wide"].items())


# Unicode's explicit bidi controls: embeddings and overrides (U+202A–U+202E) and isolates
# (U+2066–U+2069). Text people type may hold them; shown as it is beside other words, an
# override left open turns everything after it on the line around ("Trojan Source"): a date,
# a name, the sentence a report says of a problem.
BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")


def isolate(text: str) -> str:
    """`text` as a piece of a longer line: between a first-strong isolate and its pop
    (U+2068 … U+2069) when it holds a bidi control, so whatever it opens ends with it (the
    pop closes every embedding and override opened since its isolate); as it is otherwise.
    The text's own pops are balanced first: one with no isolate of the text open would close
    the isolate around it, and an override after it would run to the end of the line (the
    closing pop, unmatched then, does nothing); an isolate the text leaves open gets its pop,
    so the closing one is the one that matches ours."""
    if not BIDI_CONTROLS.search(text):
        return text
    kept: list[str] = []
    open_isolates = 0
    for character in text:
        if character in _ISOLATE_INITIATORS:
            open_isolates += 1
        elif character == _POP_ISOLATE:
            if not open_isolates:
                continue  # it would close ours
            open_isolates -= 1
        kept.append(character)
    return "\u2068" + "".join(kept) + _POP_ISOLATE * (open_isolates + 1)


_ISOLATE_INITIATORS = frozenset("\u2066\u2067\u2068")  # LRI, RLI, FSI
_POP_ISOLATE = "\u2069"  # PDI


def day_text(day: date, lang: str) -> str:
    """A day as the pages write it ("d MMMM yyyy": "1 Februari 2027", "1 February 2027"),
    written here rather than by `babel.dates.format_date`: the same text, without parsing
    the pattern and the locale per date (a third of an uncached mail's rendering)."""
    return f"{day.day} {_months(lang)[day.month]} {day.year}"


@pass_context
def _day(context: Context, value: object) -> object:
    """`{{ d.end_date | day }}`: "1 Februari 2027", "1 February 2027" — not the ISO text."""
    day = _day_of(value, context["zone"])
    return day_text(day, context["lang"]) if day is not None else value


def moment(value: datetime | str | None, lang: str, zone: ZoneInfo) -> str:
    """A moment as its reader reads it, in their zone: "4 Januari 2027 16:00 WIB"."""
    if not value:
        return ""
    try:
        at = datetime.fromisoformat(value) if isinstance(value, str) else value
    except ValueError:
        return str(value)
    local = at.astimezone(zone)
    # The hour and minute from their fields, not `f"{local:%H:%M}"`: the same text, while
    # datetime's strftime (its format scanned, a time tuple built, the C library's strftime)
    # took ≈ 7 of a moment's ≈ 10 µs — two or three moments a mail (`perf17`).
    return f"{day_text(local.date(), lang)} {local.hour:02d}:{local.minute:02d} {zone_label(local)}"


def zone_label(local: datetime) -> str:
    """The zone's abbreviation at `local` (WIB, WITA, WIT, CET), or its offset from UTC
    where the zone has none ("+07" becomes "UTC+07")."""
    label = local.tzname() or ""
    return f"UTC{label}" if label[:1] in "+-" else label


@pass_context
def _moment(context: Context, value: object) -> object:
    """`{{ d.at | moment }}`: a moment in the reader's zone, in words."""
    return moment(value, context["lang"], context["zone"]) if isinstance(value, str | datetime) else value


@pass_context
def _zone_of(context: Context, name: object) -> object:
    """`{{ d.time_zone | zone }}`: "Asia/Jakarta" as its readers call it (WIB), at the notice's time."""
    if not isinstance(name, str):
        return name
    try:
        return zone_label(context["n"].at.astimezone(ZoneInfo(name)))
    except (ZoneInfoNotFoundError, ValueError):
        return name


def _step_name(key: object, lang: str) -> str:
    """A step's name by its key (the key itself if no released procedure has it)."""
    return STEP_NAMES.get(key, {}).get(lang, key) if isinstance(key, str) else ""


@pass_context
def _step(context: Context, key: object) -> object:
    """`{{ i.step | step }}`: the step's name, not its key."""
    return _step_name(key, context["lang"]) if isinstance(key, str) else key


@pass_context
def _stage(context: Context, stage: object) -> object:
    return STAGE_NAMES[context["lang"]].get(stage, stage) if isinstance(stage, str) else stage


@pass_context
def _change(context: Context, ref: object) -> object:
    """`{{ d.open_change | change }}`: "renewal-2" is "perpanjangan ke-2", "renewal 2"."""
    if not isinstance(ref, str):
        return ref
    kind, _, number = ref.partition("-")
    word = CHANGE_NAMES[context["lang"]].get(kind)
    if word is None or not number:
        return ref
    return f"{word} ke-{number}" if context["lang"] == "id" else f"{word} {number}"


@pass_context
def _reason(context: Context, item: object) -> object:
    """`{{ i | reason }}`: a digest item's health reason in the reader's language, by its
    code, its organisation named (`health_words`); a digest recorded before its items held
    the reason's code keeps the English sentence it had."""
    if not isinstance(item, Mapping):
        return ""
    why = item.get("why")
    if not isinstance(why, Mapping):
        return item.get("reason") or ""
    names: Mapping[str, str] = context.get("names") or {}
    return health_words.sentence(why, context["lang"], lambda org: names.get(org, org))


@lru_cache(maxsize=1)
def _environment() -> Environment:
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES),
        # Only the HTML layout escapes; subjects and text bodies are plain text.
        autoescape=lambda name: bool(name and name.endswith(".html")),
        keep_trailing_newline=False,
        # Packaged files that change only with a release: no stat of every file per mail.
        auto_reload=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(
        org=_org, day=_day, moment=_moment, zone=_zone_of, step=_step, stage=_stage, change=_change, reason=_reason
    )
    return environment


def compile_templates() -> None:
    """Compile every template now (≈ 0.1 s of CPU), at a dispatcher's start rather than in
    the way of the first mails it sends."""
    environment = _environment()
    for name in (*(f"{lang}.txt" for lang in LANGUAGES), "layout.txt", "layout.html"):
        environment.get_template(name)


def _language(language: str | None) -> str:
    return language if language in LANGUAGES else DEFAULT_LANGUAGE


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or DEFAULT_TIME_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_TIME_ZONE)


def _context(
    n: Notification,
    lang: str,
    *,
    name: str | None,
    public_url: str,
    time_zone: str | None,
    names: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    d = n.data
    zone = _zone(time_zone)

    step_name = (d.get("step_name") or {}).get(lang) or _step_name(d.get("step"), lang)
    to_step_name = (d.get("to_step_name") or {}).get(lang) or _step_name(d.get("to_step"), lang)
    return {
        "n": n,
        "d": d,
        "lang": lang,
        "zone": zone,
        "name": name or "",
        "names": names or {},
        "title": d.get("title") or "",
        "step_name": step_name,
        "to_step_name": to_step_name,
        "document": DOCUMENTS[lang].get(d.get("document_kind") or d.get("document") or "", ""),
        "gate": GATE_NAMES[lang].get(d.get("gate") or "", d.get("gate") or ""),
        "when": moment(n.at, lang, zone),
        "due": moment(d.get("due_at"), lang, zone),
        # The agreement's web page (sign-in first, then back to it), and its API resource.
        "link": f"{public_url.rstrip('/')}/ui/" + (f"agreements/{n.agreement_id}" if n.agreement_id else ""),
        "api_link": f"{public_url.rstrip('/')}/agreements/{n.agreement_id}" if n.agreement_id else "",
    }


def _block(template: Template, name: str, context: dict[str, Any]) -> str:
    return _blocks(template, context, name)[0]


def _blocks(template: Template, context: dict[str, Any], *names: str) -> list[str]:
    """The blocks `names` of `template`, rendered in one context. A block's `set` stays
    inside it, so they can share one."""
    shared = _made(template, context, _only(template, names))
    return ["".join(template.blocks[name](shared)).strip() for name in names]


def _page(template: Template, variables: dict[str, Any]) -> str:
    """`template.render(variables)` in a context made by `_made`."""
    try:
        return "".join(template.root_render_func(_made(template, variables, template.blocks)))
    except Exception:
        template.environment.handle_exception()  # as `Template.render`: the template's lines in the traceback


def _made(
    template: Template, variables: dict[str, Any], blocks: dict[str, Callable[[Context], Iterator[str]]]
) -> Context:
    """The context `template.new_context(variables)` makes, but with only `blocks` of the
    template's, and its globals from a plain dict. A context copies every block it is given,
    and a language file has nearly a hundred, while a block of ours calls no other block
    (`self.…`, `super()`: tests/worker/test_notification_costs.py checks), so the others
    would never be looked up; and copying the globals from their `ChainMap` cost ≈ 9 times a
    dict's. The two were ≈ a third of a mail's rendering (`perf17`)."""
    env = template.environment
    return env.context_class(env, {**_globals(template), **variables}, template.name, blocks, globals=template.globals)


@lru_cache(maxsize=8)
def _globals(template: Template) -> dict[str, Any]:
    """A template's globals as a plain dict: Jinja's own (`range`, `dict`, ...), which
    `_environment` never changes, under the template's own (none of ours has any)."""
    return dict(template.globals)


@lru_cache(maxsize=512)
def _only(template: Template, names: tuple[str, ...]) -> dict[str, Callable[[Context], Iterator[str]]]:
    """The blocks `names` of `template` (a few per notice key and language)."""
    return {name: template.blocks[name] for name in names}


def _key(template: Template, key: str) -> str:
    return key if f"{key}_subject" in template.blocks else "generic"


def subject(n: Notification, language: str | None = None, *, names: Mapping[str, str] | None = None) -> str:
    """The one-line summary (email subject, inbox line) in `language`, the organisations it
    names called by `names` (`services.notifying.names`; the id where it has none)."""
    lang = _language(language)
    template = _environment().get_template(f"{lang}.txt")
    context = _context(n, lang, name=None, public_url="", time_zone=None, names=names)
    return " ".join(_block(template, f"{_key(template, n.template)}_subject", context).split())


def render(
    n: Notification,
    *,
    language: str | None,
    name: str | None,
    public_url: str,
    time_zone: str | None = None,
    notice_json: str | None = None,
    names: Mapping[str, str] | None = None,
) -> Rendered:
    """The mail of `n` for a reader called `name`, in their language and time zone, the
    organisations it names called by `names` (`services.notifying.names`: the caller reads
    them; the id where it has none).

    An event's readers share everything but the greeting: the rest is rendered once per
    notice, language, time zone and link (`_shared`, keyed by the notice's whole content, so
    two notices that differ in anything never share), and each reader's greeting is put in
    its slot. Rendering the whole mail per reader was a twentieth of the dispatcher's CPU.

    `notice_json`: `n` as JSON text, when the caller has it (the dispatcher: the outbox row's
    stored text), so the shared part's key is not serialised again per mail; any JSON of the
    same notice will do, since the key only has to tell notices apart."""
    shared, greeting = render_parts(
        n,
        language=language,
        name=name,
        public_url=public_url,
        time_zone=time_zone,
        notice_json=notice_json,
        names=names,
    )
    return Rendered(
        subject=shared.subject,
        text=shared.text.replace(GREETING_SLOT, greeting, 1),
        html=shared.html.replace(GREETING_SLOT, str(escape(greeting)), 1),
    )


def render_parts(
    n: Notification,
    *,
    language: str | None,
    name: str | None,
    public_url: str,
    time_zone: str | None = None,
    notice_json: str | None = None,
    names: Mapping[str, str] | None = None,
) -> tuple[Rendered, str]:
    """`render`'s two parts: the mail shared by the notice's readers, with `GREETING_SLOT`
    where the greeting goes (the first occurrence in its text and its HTML; the same object
    for every reader while it is kept), and the reader's greeting (plain text: the HTML
    takes it escaped). For a caller that encodes the shared part once (the mail's
    quoted-printable bodies)."""
    lang = _language(language)
    shared = _shared(notice_json or n.model_dump_json(), lang, public_url, time_zone, name_key(names))
    return shared, _greeting(lang, name or "")


# Where the greeting goes in a shared rendering: a token no notice's data can contain (it is
# drawn afresh by every process), escaped alike in both layouts, so the first occurrence is
# the greeting's.
GREETING_SLOT = f"greeting-{secrets.token_hex(16)}"


@lru_cache(maxsize=256)
def _shared(notice: str, lang: str, public_url: str, time_zone: str | None, names: NameKey = ()) -> Rendered:
    """Everything of a mail but its reader's greeting (the templates use `name` only there:
    tests/worker/test_notification_costs.py checks that they do)."""
    n = Notification.model_validate_json(notice)
    env = _environment()
    template = env.get_template(f"{lang}.txt")
    context = _context(n, lang, name=None, public_url=public_url, time_zone=time_zone, names=dict(names))
    key = _key(template, n.template)
    subject_line, body, open_label, footer = _blocks(
        template, context, f"{key}_subject", f"{key}_body", "open_label", "footer"
    )
    title = " ".join(subject_line.split())
    parts = {
        "subject": title,
        "body": body,
        "paragraphs": [p.strip() for p in body.split("\n\n") if p.strip()],
        "greeting": GREETING_SLOT,
        "open_label": open_label,
        "footer": footer,
    }
    return Rendered(
        subject=title,
        text=_page(env.get_template("layout.txt"), {**context, **parts}).strip() + "\n",
        html=_page(env.get_template("layout.html"), {**context, **parts}),
    )


@lru_cache(maxsize=1024)
def _greeting(lang: str, name: str) -> str:
    template = _environment().get_template(f"{lang}.txt")
    return _block(template, "greeting", {"name": name})
