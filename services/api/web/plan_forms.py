"""The implementation's form fields to the API's messages and back (#13): the proposal
form's goals, obligations and activities (rows the reader adds and removes, blank rows left
out, errors placed next to the row's field they name), and the bodies of the implementation
commands sent from the inbox and the agreement page. The rules stay the decider's; this
module only reads fields."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from starlette.datastructures import FormData

from services.api.web.i18n import parse_number
from workflows import messages as m
from workflows import sdg

GROUPS = ("goals", "obligations", "activities")
ROW_FIELDS = {
    "goals": ("code", "text"),
    "obligations": ("id", "party", "kind", "description", "amount", "source", "due_on"),
    "activities": (
        "id",
        "name",
        "party",
        "responsible",
        "starts_on",
        "ends_on",
        "deliverables",
        "indicators",
        "milestones",
        "budget",
        "source",
        "cofunding",
    ),
}
MAX_DECISIONS = 5  # decision rows on the minutes form
_ROW = re.compile(r"^(goals|obligations|activities)-(\d{1,3})-([a-z_]+)$")


def _text(form: FormData, name: str) -> str | None:
    value = form.get(name)
    if not isinstance(value, str):
        return None
    return value.strip() or None


def _int(value: str | None) -> Any:
    if value is None:
        return None
    try:
        return int(value.replace(".", "").replace(" ", ""))
    except ValueError:
        return value  # pydantic says what is wrong with it


def _number(value: str | None, lang: str) -> Any:
    """A number as a reader of `lang` writes it (`parse_number`); the text itself when it is
    not one, for pydantic to say so."""
    if value is None:
        return None
    number = parse_number(value, lang)
    return value if number is None else number


def _list(value: str | None) -> list[str]:
    """A list field written as one line, items separated by semicolons."""
    return [part.strip() for part in (value or "").split(";") if part.strip()]


def row_indices(form: FormData, group: str) -> list[int]:
    """The rows of `group` the reader filled in, in the order they appear."""
    seen: list[int] = []
    for key, value in form.multi_items():
        found = _ROW.match(key)
        if found and found.group(1) == group and isinstance(value, str) and value.strip():
            index = int(found.group(2))
            if index not in seen and found.group(3) not in ("kind", "source"):  # selects have defaults
                seen.append(index)
    return sorted(seen)


def goal_rows(form: FormData) -> list[dict[str, Any]]:
    """The SDGs picked (codes, in the data's order) and the regional targets written."""
    picked = {str(v) for v in form.getlist("sdg")}
    goals: list[dict[str, Any]] = [
        {"scheme": "sdg", "code": code} for code in [*sdg.GOALS, *sdg.TARGETS] if code in picked
    ]
    for i in row_indices(form, "goals"):
        goals.append(
            {"scheme": "regional", "code": _text(form, f"goals-{i}-code") or "", "text": _text(form, f"goals-{i}-text")}
        )
    return goals


def obligation_rows(form: FormData) -> list[dict[str, Any]]:
    rows = []
    for i in row_indices(form, "obligations"):
        kind = _text(form, f"obligations-{i}-kind") or "funds"
        row = {
            "id": _text(form, f"obligations-{i}-id") or "",
            "party": _text(form, f"obligations-{i}-party") or "",
            "kind": kind,
            "description": _text(form, f"obligations-{i}-description") or "",
            "amount": _int(_text(form, f"obligations-{i}-amount")),
            "source": (_text(form, f"obligations-{i}-source") or "apbd") if kind == "funds" else None,
            "due_on": _text(form, f"obligations-{i}-due_on") or "",
        }
        rows.append({k: v for k, v in row.items() if v is not None})
    return rows


def _cofunding(value: str | None) -> list[dict[str, Any]]:
    """Other parties' budget lines written as `party:amount` or `party:amount:source`,
    separated by semicolons (as the import's sheet has them)."""
    lines = []
    for part in _list(value):
        party, _, rest = part.partition(":")
        amount, _, source = rest.partition(":")
        lines.append({"party": party.strip(), "amount": _int(amount.strip()), "source": source.strip() or "apbd"})
    return lines


def activity_rows(form: FormData) -> list[dict[str, Any]]:
    rows = []
    for i in row_indices(form, "activities"):
        party = _text(form, f"activities-{i}-party") or ""
        amount = _int(_text(form, f"activities-{i}-budget"))
        budget = (
            []
            if amount is None
            else [{"party": party, "amount": amount, "source": _text(form, f"activities-{i}-source") or "apbd"}]
        )
        budget += _cofunding(_text(form, f"activities-{i}-cofunding"))
        rows.append(
            {
                "id": _text(form, f"activities-{i}-id") or "",
                "name": _text(form, f"activities-{i}-name") or "",
                "party": party,
                "responsible": _text(form, f"activities-{i}-responsible") or "",
                "starts_on": _text(form, f"activities-{i}-starts_on") or "",
                "ends_on": _text(form, f"activities-{i}-ends_on") or "",
                "deliverables": _list(_text(form, f"activities-{i}-deliverables")),
                "indicators": _list(_text(form, f"activities-{i}-indicators")),
                "milestones": _list(_text(form, f"activities-{i}-milestones")),
                "budget": budget,
            }
        )
    return rows


def plan_fields(form: FormData) -> dict[str, Any]:
    """The proposal form's goals, obligations and activities as the `Proposal` has them."""
    return {"goals": goal_rows(form), "obligations": obligation_rows(form), "activities": activity_rows(form)}


def relocate(errors: dict[str, str], form: FormData) -> dict[str, str]:
    """Errors about the n-th item of a plan list placed on the form row it came from (blank
    rows are left out of the list; an SDG the picker sent is placed on the picker)."""
    rows = {g: row_indices(form, g) for g in GROUPS}
    sdg_count = sum(1 for g in goal_rows(form) if g["scheme"] == "sdg")
    placed: dict[str, str] = {}
    for name, message in errors.items():
        parts = re.split(r"[-.]", name)
        if len(parts) >= 2 and parts[0] in GROUPS and parts[1].isdigit():
            index = int(parts[1])
            if parts[0] == "goals":
                index -= sdg_count
                if index < 0:
                    placed.setdefault("sdg", message)
                    continue
            known = rows[parts[0]]
            row = known[index] if index < len(known) else index
            field = parts[2] if len(parts) > 2 and parts[2] in ROW_FIELDS[parts[0]] else None
            if field is None and parts[0] == "activities" and len(parts) > 2:
                field = "budget"
            name = f"{parts[0]}-{row}-{field}" if field else f"{parts[0]}-{row}-id"
        placed.setdefault(name, message)
    return placed


def decider_errors(details: dict[str, Any], message: str, form: FormData) -> dict[str, str]:
    """A refusal of the decider that names a field ("activities.0.starts_on") placed next to
    that field of the form."""
    field = details.get("field")
    if not isinstance(field, str) or field.split(".")[0] not in GROUPS:
        return {}
    return relocate({field: message}, form)


def plan_values_of(state: m.AgreementState | None) -> dict[str, Any]:
    """The plan's rows as form values, for editing a proposal."""
    values: dict[str, Any] = {"sdg": [], "rows": {"goals": 1, "obligations": 1, "activities": 1}}
    if state is None:
        return values
    regional = [g for g in state.goals if g.scheme == "regional"]
    values["sdg"] = [g.code for g in state.goals if g.scheme == "sdg"]
    for i, g in enumerate(regional):
        values |= {f"goals-{i}-code": g.code, f"goals-{i}-text": g.text or ""}
    for i, o in enumerate(state.obligations):
        values |= {
            f"obligations-{i}-id": o.id,
            f"obligations-{i}-party": o.party,
            f"obligations-{i}-kind": o.kind,
            f"obligations-{i}-description": o.description,
            f"obligations-{i}-amount": "" if o.amount is None else str(o.amount),
            f"obligations-{i}-source": o.source or "apbd",
            f"obligations-{i}-due_on": o.due_on.isoformat(),
        }
    for i, a in enumerate(state.activities):
        own = next((b for b in a.budget if b.party == a.party), None)
        values |= {
            f"activities-{i}-id": a.id,
            f"activities-{i}-name": a.name,
            f"activities-{i}-party": a.party,
            f"activities-{i}-responsible": a.responsible,
            f"activities-{i}-starts_on": a.starts_on.isoformat(),
            f"activities-{i}-ends_on": a.ends_on.isoformat(),
            f"activities-{i}-deliverables": "; ".join(a.deliverables),
            f"activities-{i}-indicators": "; ".join(a.indicators),
            f"activities-{i}-milestones": "; ".join(a.milestones),
            f"activities-{i}-budget": "" if own is None else str(own.amount),
            f"activities-{i}-source": own.source if own else "apbd",
            f"activities-{i}-cofunding": "; ".join(
                f"{b.party}:{b.amount}:{b.source}" for b in a.budget if b is not own
            ),
        }
    values["rows"] = {
        "goals": len(regional) + 1,
        "obligations": len(state.obligations) + 1,
        "activities": len(state.activities) + 1,
    }
    return values


def rows_in(form: FormData) -> dict[str, int]:
    """How many rows of each list a re-shown form offers: up to the last one filled in, and
    one blank."""
    counts = {}
    for group in GROUPS:
        filled = row_indices(form, group)
        counts[group] = (filled[-1] + 2) if filled else 1
    return counts


# ---------------------------------------------------------------- implementation commands


def plan_command(form: FormData, zone: str, lang: str = "en") -> dict[str, Any]:
    """The body of an implementation command from its form (documents are added by the
    route, which stores the uploads first); a meeting's time is read in the reader's `zone`,
    a measurement as a reader of `lang` writes numbers."""
    type_ = _text(form, "type") or ""
    body: dict[str, Any] = {"type": type_}
    if type_ == "report_progress":
        body |= {
            "activity": _text(form, "activity"),
            "percent": _int(_text(form, "percent")),
            "milestone": _text(form, "milestone"),
            "note": _text(form, "note"),
        }
    elif type_ == "record_measurement":
        body |= {
            "indicator": _text(form, "indicator"),
            "value": _number(_text(form, "value"), lang),
            "measured_on": _text(form, "measured_on"),
            "source": _text(form, "source"),
            "note": _text(form, "note"),
        }
    elif type_ == "settle_obligation":
        body |= {
            "obligation": _text(form, "obligation"),
            "outcome": _text(form, "outcome"),
            "note": _text(form, "note"),
        }
    elif type_ in ("accept_plan_revision", "withdraw_plan_revision"):
        body |= {"revision": _int(_text(form, "revision")), "reason": _text(form, "reason")}
        if type_ == "accept_plan_revision":
            body.pop("reason")
    elif type_ == "complete_action_item":
        body |= {"item": _text(form, "item"), "note": _text(form, "note")}
    elif type_ == "schedule_meeting":
        day, hour = _text(form, "date"), _text(form, "time") or "09:00"
        body |= {
            "title": _text(form, "title"),
            "at": _local_time(day, hour, zone),
            "place": _text(form, "place"),
            "participants": [str(v) for v in form.getlist("participants")],
            "agenda": [line.strip() for line in (_text(form, "agenda") or "").splitlines() if line.strip()],
        }
    elif type_ == "record_minutes":
        decisions = []
        for i in range(MAX_DECISIONS):
            text = _text(form, f"decisions-{i}-text")
            if text is not None:
                decisions.append(
                    {
                        "text": text,
                        "party": _text(form, f"decisions-{i}-party") or "",
                        "due_on": _text(form, f"decisions-{i}-due_on") or "",
                    }
                )
        body |= {"meeting": _int(_text(form, "meeting")), "decisions": decisions}
    return {k: v for k, v in body.items() if v is not None}


def _local_time(day: str | None, hour: str, zone: str) -> Any:
    """A date and a time of day in the reader's zone, as the aware time the command needs."""
    if day is None:
        return None
    try:
        return datetime.fromisoformat(f"{day}T{hour}").replace(tzinfo=ZoneInfo(zone)).isoformat()
    except ValueError:
        return f"{day}T{hour}"  # pydantic says what is wrong with it


def revision_changes(state: m.AgreementState, revision: m.PlanRevision) -> list[dict[str, Any]]:
    """What a plan revision changes, activity by activity: added, dropped, or the fields
    that differ (before and after), so a party sees what it accepts."""
    current = {a.id: a for a in state.activities}
    proposed = {a.id: a for a in revision.activities}
    changes: list[dict[str, Any]] = []
    for activity in revision.activities:
        before = current.get(activity.id)
        if before is None:
            changes.append({"id": activity.id, "name": activity.name, "change": "added", "fields": []})
            continue
        old = m.Activity.model_validate(before.model_dump(exclude={"progress"})).model_dump(mode="json")
        new = activity.model_dump(mode="json")
        fields = [(k, _shown(old[k]), _shown(new[k])) for k in new if old.get(k) != new[k]]
        if fields:
            changes.append({"id": activity.id, "name": activity.name, "change": "changed", "fields": fields})
    for activity in state.activities:
        if activity.id not in proposed:
            changes.append({"id": activity.id, "name": activity.name, "change": "dropped", "fields": []})
    return changes


def _shown(value: Any) -> str:
    if isinstance(value, list):
        return "; ".join(
            f"{v.get('party')}: Rp {v.get('amount')} ({v.get('source')})" if isinstance(v, dict) else str(v)
            for v in value
        )
    return str(value)
