"""Reading a batch of agreements signed before Pakta: a JSON list or a CSV sheet, one row
per agreement, checked row by row so that one bad row is reported with every other
mistake at once — and nothing is imported until the whole batch is right."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from pydantic import ValidationError

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


class BatchError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def rows_from_json(body: bytes) -> list[dict[str, Any]]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BatchError("The body is not valid JSON.") from None
    items = data.get("agreements") if isinstance(data, dict) else data
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise BatchError('Send a JSON list of agreements, or {"agreements": [...]}.')
    return items


def rows_from_csv(body: bytes) -> list[dict[str, Any]]:
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BatchError("CSV files must be UTF-8.") from None
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    missing = [c for c in REQUIRED_CSV if c not in header]
    unknown = [c for c in header if c not in CSV_COLUMNS]
    if missing or unknown:
        raise BatchError(
            f"CSV columns: missing {missing or 'none'}, unknown {unknown or 'none'}; expected {', '.join(CSV_COLUMNS)}."
        )
    return [_record_from_csv(row) for row in reader]


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "ya", "y")


def _record_from_csv(row: dict[str, str]) -> dict[str, Any]:
    """A flat sheet row (one counterparty) as the JSON shape of an ImportRecord."""
    cell = {k: (v or "").strip() for k, v in row.items() if k}
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


def parse_records(rows: list[dict[str, Any]]) -> tuple[list[tuple[int, m.ImportRecord]], list[dict[str, Any]]]:
    """The valid records with their 1-based row numbers, and one problem entry per bad row."""
    records: list[tuple[int, m.ImportRecord]] = []
    problems: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for number, row in enumerate(rows, start=1):
        try:
            record = m.ImportRecord.model_validate(row)
        except ValidationError as error:
            problems.append(
                {
                    "row": number,
                    "ref": row.get("ref"),
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
