"""Reading a batch of agreements signed before Pakta: a JSON list or a CSV sheet, one row
per agreement, checked row by row so that one bad row is reported with every other
mistake at once — and nothing is imported until the whole batch is right.

With their action plan (#13), the CSV form is several sheets sent together
(multipart/form-data): `agreements` as above, and `goals`, `obligations` and `activities`,
one row per plan item keyed by the agreement's `ref` (docs/implementation.md#import); an
obligation's row may say it was already settled, an activity's how far it was done."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from pydantic import ValidationError

from services.api.errors import excerpt
from workflows import messages as m

CSV_COLUMNS = (
    "ref",
    "title",
    "kind",
    "objectives",
    "sector",
    "start_date",
    "duration_months",
    "evaluation_interval_months",
    "signed_on",
    "document",
    "method",
    "value",
    "initiator_org",
    "initiator_signatory",
    "initiator_time_zone",
    "initiator_requires_dprd_approval",
    "counterparty_org",
    "counterparty_sector",
    "counterparty_signatory",
    "counterparty_foreign",
    "counterparty_time_zone",
    "indicators",
)
REQUIRED_CSV = (
    "ref",
    "title",
    "kind",
    "objectives",
    "sector",
    "start_date",
    "duration_months",
    "signed_on",
    "document",
    "initiator_org",
    "initiator_signatory",
    "counterparty_org",
    "counterparty_sector",
    "counterparty_signatory",
)


# The plan's sheets: their columns, and the columns each row must fill.
PLAN_SHEETS: dict[str, tuple[str, ...]] = {
    "goals": ("ref", "scheme", "code", "text"),
    "obligations": (
        "ref",
        "id",
        "party",
        "kind",
        "description",
        "amount",
        "source",
        "due_on",
        "status",
        "settled_on",
        "note",
    ),
    "activities": (
        "ref",
        "id",
        "name",
        "party",
        "responsible",
        "starts_on",
        "ends_on",
        "deliverables",
        "indicators",
        "budget",
        "milestones",
        "percent",
    ),
}
# Cells of a plan sheet that say what was done on paper, not what was planned: they go to
# the record's `settled` and `progress` (an ImportedSettlement, an ImportedProgress).
_WORK = {"obligations": ("status", "settled_on", "note"), "activities": ("percent",)}
REQUIRED_PLAN: dict[str, tuple[str, ...]] = {
    "goals": ("ref", "scheme", "code"),
    "obligations": ("ref", "id", "party", "kind", "description", "due_on"),
    "activities": ("ref", "id", "name", "party", "responsible", "starts_on", "ends_on"),
}
SHEETS = ("agreements", *PLAN_SHEETS)
SHEET_DESCRIPTIONS = {
    "agreements": "CSV, one row per agreement: " + ", ".join(CSV_COLUMNS),
    **{
        name: f"CSV, one row per plan item keyed by the agreement's ref: {', '.join(cols)}"
        for name, cols in PLAN_SHEETS.items()
    },
}
_LISTS = ("deliverables", "indicators", "milestones")  # cells listing several, separated by ';'


class BatchError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def rows_from_json(body: bytes) -> list[dict[str, Any]]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BatchError("The body is not valid JSON.") from None
    except RecursionError:
        # Arrays or objects nested about a thousand deep (a few kilobytes) exhaust the
        # reader's stack: no batch nests more than a few levels. It was a 500.
        raise BatchError("The body nests arrays or objects too deeply to be a batch of agreements.") from None
    items = data.get("agreements") if isinstance(data, dict) else data
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise BatchError('Send a JSON list of agreements, or {"agreements": [...]}.')
    return items


_SHOWN_COLUMNS = 10


def _sheet(body: bytes, name: str, columns: tuple[str, ...], required: tuple[str, ...]) -> list[dict[str, str]]:
    """The rows of one CSV sheet, its cells stripped; its header must be right."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BatchError("CSV files must be UTF-8.") from None
    try:
        reader = csv.DictReader(io.StringIO(text))
        header = reader.fieldnames or []
        missing = [c for c in required if c not in header]
        unknown = [c for c in header if c not in columns]
        if missing or unknown:
            # The unknown columns as excerpts, the first few: each may be as long as the
            # reader's field limit (128 KiB), and a sheet may hold megabytes of them.
            shown = [excerpt(c) for c in unknown[:_SHOWN_COLUMNS]] + (["…"] if len(unknown) > _SHOWN_COLUMNS else [])
            raise BatchError(
                f"CSV columns of {name}: missing {missing or 'none'}, unknown {shown or 'none'}; "
                f"expected {', '.join(columns)}."
            )
        return [{k: (v or "").strip() for k, v in row.items() if isinstance(k, str) and k} for row in reader]
    except csv.Error as error:
        raise BatchError(f"The {name} sheet is not readable CSV: {error}.") from None


def rows_from_csv(body: bytes) -> list[dict[str, Any]]:
    return [_record_from_csv(row) for row in _sheet(body, "agreements", CSV_COLUMNS, REQUIRED_CSV)]


def rows_from_sheets(sheets: dict[str, bytes]) -> list[dict[str, Any]]:
    """Agreements with their plans from the sheets sent together: `agreements`, and any of
    `goals`, `obligations`, `activities`, each row naming its agreement's `ref`."""
    unknown = sorted(set(sheets) - set(SHEETS))
    if unknown or "agreements" not in sheets:
        raise BatchError(
            f"Send the sheets {', '.join(SHEETS)} (agreements required); "
            f"missing: {'agreements' if 'agreements' not in sheets else 'none'}, unknown: {unknown or 'none'}."
        )
    rows = rows_from_csv(sheets["agreements"])
    by_ref = {str(row.get("ref")): row for row in rows if row.get("ref")}
    for name, columns in PLAN_SHEETS.items():
        if name not in sheets:
            continue
        for number, cells in enumerate(_sheet(sheets[name], name, columns, REQUIRED_PLAN[name]), start=2):
            record = by_ref.get(cells.get("ref", ""))
            if record is None:
                raise BatchError(
                    f"{name} line {number}: no agreement with ref '{cells.get('ref', '')}' in the agreements sheet."
                )
            work = {k: cells.pop(k) for k in _WORK.get(name, ()) if k in cells}
            record["proposal"].setdefault(name, []).append(_plan_item(name, cells))
            _add_work(record, name, cells.get("id", ""), work)
    return rows


def _add_work(record: dict[str, Any], sheet: str, item: str, work: dict[str, str]) -> None:
    """An obligation's `status` (fulfilled or missed, with `settled_on` and `note`) and an
    activity's `percent`, as the record's `settled` and `progress`. An obligation with no
    status (or `open`) and neither date nor note is not settled; a date or a note without a
    status is not dropped, the record refuses it (outcome)."""
    status = work.get("status") or "open"
    if sheet == "obligations" and (status != "open" or work.get("settled_on") or work.get("note")):
        settled = {"obligation": item, "outcome": status, "settled_on": work.get("settled_on")}
        if work.get("note"):
            settled["note"] = work["note"]
        record.setdefault("settled", []).append(settled)
    if sheet == "activities" and work.get("percent"):
        record.setdefault("progress", []).append({"activity": item, "percent": work["percent"]})


def _plan_item(sheet: str, cells: dict[str, str]) -> dict[str, Any]:
    """A plan sheet's row as the JSON shape of a goal, obligation or activity: empty cells
    left out (so the proposal's own rules say what is missing)."""
    item: dict[str, Any] = {k: v for k, v in cells.items() if k != "ref" and v}
    if sheet == "activities":
        for key in _LISTS:
            if key in item:
                item[key] = [part.strip() for part in item[key].split(";") if part.strip()]
        if "budget" in item:
            item["budget"] = [_budget(part) for part in item["budget"].split(";") if part.strip()]
    return item


def _budget(cell: str) -> dict[str, str]:
    """`party:amount` or `party:amount:source` (APBD when not said)."""
    party, _, rest = cell.strip().partition(":")
    amount, _, source = rest.partition(":")
    out = {"party": party.strip(), "amount": amount.strip()}
    if source.strip():
        out["source"] = source.strip()
    return out


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "ya", "y")


def _record_from_csv(cell: dict[str, str]) -> dict[str, Any]:
    """A flat sheet row (one counterparty) as the JSON shape of an ImportRecord."""
    foreign = _flag(cell.get("counterparty_foreign"))
    indicators = []
    for part in filter(None, (p.strip() for p in cell.get("indicators", "").split(";"))):
        name, _, rest = part.partition("|")
        target, _, unit = rest.partition("|")
        indicators.append({"name": name, "target": target or None, "unit": unit or "-"})
    initiator = {
        "org": cell.get("initiator_org"),
        "role": "initiator",
        "sector": "government",
        "signatory": cell.get("initiator_signatory"),
        "requires_dprd_approval": _flag(cell.get("initiator_requires_dprd_approval")),
    }
    counterparty = {
        "org": cell.get("counterparty_org"),
        "role": "counterparty",
        "sector": cell.get("counterparty_sector"),
        "signatory": cell.get("counterparty_signatory"),
        "foreign": foreign,
    }
    for party, key in ((initiator, "initiator_time_zone"), (counterparty, "counterparty_time_zone")):
        if cell.get(key):
            party["time_zone"] = cell[key]
    proposal: dict[str, Any] = {
        "title": cell.get("title"),
        "kind": cell.get("kind"),
        "objectives": cell.get("objectives"),
        "sector": cell.get("sector"),
        "parties": [initiator, counterparty],
        "start_date": cell.get("start_date"),
        "duration_months": cell.get("duration_months"),
        "indicators": indicators,
    }
    if cell.get("evaluation_interval_months"):
        proposal["evaluation_interval_months"] = cell["evaluation_interval_months"]
    if cell.get("value"):
        proposal["value"] = cell["value"]
    record: dict[str, Any] = {
        "ref": cell.get("ref"),
        "proposal": proposal,
        "signed_on": cell.get("signed_on"),
        "document": cell.get("document", "").lower(),
    }
    if cell.get("method"):
        record["method"] = cell["method"]
    return record


_REF_MAX_LENGTH = 100  # an ImportRecord's


def _shown_ref(ref: Any) -> Any:
    """A bad row's ref as its problem names it: as sent when it may be a ref, else an
    excerpt. Sent back whole, a ref of NaN or 1e999 could not be written as JSON, nor a lone
    surrogate as UTF-8, nor a list nested hundreds deep by the encoder (each a 500), and a
    ref of a megabyte came back whole."""
    if isinstance(ref, str) and len(ref) <= _REF_MAX_LENGTH:
        return ref.encode("utf-8", "replace").decode("utf-8")
    return excerpt(ref)


def parse_records(rows: list[dict[str, Any]]) -> tuple[list[tuple[int, m.ImportRecord]], list[dict[str, Any]]]:
    """The valid records with their 1-based row numbers, and one problem entry per bad row."""
    records: list[tuple[int, m.ImportRecord]] = []
    problems: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for number, row in enumerate(rows, start=1):
        try:
            record = m.ImportRecord.model_validate(row, context=m.AT_THE_EDGE)
        except ValidationError as error:
            problems.append(
                {
                    "row": number,
                    "ref": _shown_ref(row.get("ref")),
                    "errors": [{"loc": list(e["loc"]), "message": e["msg"]} for e in error.errors(include_url=False)],
                }
            )
            continue
        if record.ref in seen:
            problems.append(
                {
                    "row": number,
                    "ref": record.ref,
                    "errors": [{"loc": ["ref"], "message": f"the same ref as row {seen[record.ref]}"}],
                }
            )
            continue
        seen[record.ref] = number
        records.append((number, record))
    return records, problems
