"""The organisations a notification names, and the names its wording gives them.

A notification's data holds organisations by id (`by_org`, `for_org`, `missing`, …): the
rules (`workflows.notify.rules`) write what the event says, and the outbox rows and inbox
rows written before keep only ids. Names are therefore found when the wording is made — by
the dispatcher and the legacy activity for a mail, by the API for an inbox line — from one
read of the agreement's recorded parties and the register (`services.store.register.mail_names`),
and chosen here as the pages choose them (`services.api.party_names`): the party's recorded
name when it has a real one, else the register's (English where it has one, for an English
reader), else the id. Pure: the callers read."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from workflows.notify.rules import Notification

# For each (agreement id, organisation): the recorded name, the register's Indonesian, its English.
Found = Mapping[tuple[str, str], tuple[str | None, str | None, str | None]]
# The orgs' fields of a notification's data, in every template: one organisation each …
_ONE = ("by_org", "for_org", "org", "party")
# … a list of them …
_MANY = ("missing",)
# … and the organisations of a list's items (the minutes' action items).
_ITEMS = (("action_items", "party"),)


def named_orgs(note: Notification) -> set[str]:
    """The organisations `note`'s wording names by id."""
    d: Mapping[str, Any] = note.data
    found = {d[key] for key in _ONE if isinstance(d.get(key), str) and d[key]}
    for key in _MANY:
        found.update(org for org in d.get(key) or () if isinstance(org, str) and org)
    for key, field in _ITEMS:
        items = d.get(key) or ()
        found.update(i[field] for i in items if isinstance(i, Mapping) and isinstance(i.get(field), str) and i[field])
    # The digest's "at risk" items: each reason's organisation (an agreement's party).
    at_risk = d.get("at_risk")
    for item in (at_risk.get("items") or ()) if isinstance(at_risk, Mapping) else ():
        why = item.get("why") if isinstance(item, Mapping) else None
        if isinstance(why, Mapping) and isinstance(why.get("party"), str) and why["party"]:
            found.add(why["party"])
    return found


def pairs_of(notes: Iterable[Notification]) -> set[tuple[str, str]]:
    """What to read for `notes`: each (agreement id, organisation) their wording names."""
    return {(note.agreement_id, org) for note in notes for org in named_orgs(note)}


def chosen(org: str, recorded: str | None, name_id: str | None, name_en: str | None, lang: str) -> str | None:
    """The name to give `org`: the recorded one unless it is missing, blank or the id (as
    `party_names.unnamed` says), then the register's in `lang`; None: the id stays."""
    name = (recorded or "").strip()
    if name and name != org:
        return name
    return (name_en if lang == "en" and name_en else name_id) or None


def names_for(note: Notification, found: Found, lang: str) -> dict[str, str]:
    """The names of the organisations `note` names, from what was read (`found`), for a
    reader in `lang`: only those that have one."""
    names: dict[str, str] = {}
    for org in named_orgs(note):
        name = chosen(org, *found.get((note.agreement_id, org), (None, None, None)), lang)
        if name is not None:
            names[org] = name
    return names
