"""Form fields to the API's messages and back: commands from an action form, the proposal
form to a `Proposal` (its pydantic errors placed next to the fields they name)."""

from __future__ import annotations

import contextlib
from datetime import date
from typing import Any

from pydantic import TypeAdapter, ValidationError
from starlette.datastructures import FormData

from services.api.web.i18n import parse_number, plain_number
from services.api.web.plan_forms import plan_fields, plan_values_of, relocate, rows_in
from services.api.web.session import echoed
from workflows import messages as m

COMMAND = TypeAdapter(m.Command)
MAX_PARTIES = 4
MAX_INDICATORS = 6


class FormProblem(Exception):
    def __init__(self, message: str, errors: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors or {}


def _text(form: FormData, name: str) -> str | None:
    value = form.get(name)
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value or None


def _int(form: FormData, name: str) -> Any:
    value = _text(form, name)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return value  # pydantic says what is wrong with it


def _number(value: str | None, lang: str) -> Any:
    """A number as the reader writes it (`parse_number`); the text itself when it is not one,
    for pydantic to say so."""
    if value is None:
        return None
    number = parse_number(value, lang)
    return value if number is None else number


# The request to the DPRD's texts, as the form names them (`request-aims`, ...).
DPRD_REQUEST_TEXTS = ("aims", "object", "rights_and_duties", "benefits", "burden")


def field_name(loc: tuple[Any, ...]) -> str:
    """A pydantic error location as the form field it concerns: ("parties", 1, "org") ->
    "parties-1-org"."""
    parts = [str(p) for p in loc if not (isinstance(p, str) and p in ("decide", "sign"))]
    return "-".join(parts)


NUMBER_ID = "Masukkan angka, dengan titik pemisah ribuan dan koma desimal, misalnya 1.250,5."
NUMBER_EN = "Enter a number, with commas between thousands and a decimal point, such as 1,250.5."

# Pydantic's messages in English where its own would puzzle a reader, by error type.
MESSAGES_EN = {"float_parsing": NUMBER_EN, "float_type": NUMBER_EN}

# Pydantic's messages in Indonesian, by error type (the English message is kept otherwise).
MESSAGES_ID = {
    "missing": "Wajib diisi.",
    "string_too_short": "Wajib diisi (paling sedikit {min_length} karakter).",
    "string_too_long": "Paling banyak {max_length} karakter.",
    "string_pattern_mismatch": "Hanya huruf kecil, angka, titik, garis bawah dan tanda hubung.",
    "too_short": "Paling sedikit {min_length} isian.",
    "too_long": "Paling banyak {max_length} isian.",
    "int_parsing": "Masukkan bilangan bulat.",
    "int_type": "Masukkan bilangan bulat.",
    "float_parsing": NUMBER_ID,
    "float_type": NUMBER_ID,
    "finite_number": "Masukkan angka.",
    "date_parsing": "Masukkan tanggal (TTTT-BB-HH).",
    "date_from_datetime_parsing": "Masukkan tanggal (TTTT-BB-HH).",
    "greater_than_equal": "Paling kecil {ge}.",
    "less_than_equal": "Paling besar {le}.",
    "literal_error": "Pilih salah satu pilihan.",
    "figure_out_of_range": "Angka harus antara -10^15 dan 10^15 (1.000.000.000.000.000).",
}


def errors_by_field(error: ValidationError, lang: str = "en") -> dict[str, str]:
    found: dict[str, str] = {}
    for item in error.errors():
        name = field_name(tuple(item.get("loc", ())))
        message = str(item.get("msg", "")).removeprefix("Value error, ")
        messages = MESSAGES_ID if lang == "id" else MESSAGES_EN
        if item.get("type") in messages:
            with contextlib.suppress(KeyError, IndexError):
                message = messages[item["type"]].format(**(item.get("ctx") or {}))
        found.setdefault(name or "_", message)
    return found


def command_from_form(
    form: FormData, state: m.AgreementState, comment_required: str, lang: str = "en"
) -> dict[str, Any]:
    """The body of the command an action form sends (validated by `validate_command`);
    numbers read as a reader of `lang` writes them."""
    type_ = _text(form, "type") or ""
    body: dict[str, Any] = {"type": type_}
    if type_ == "decide":
        body |= {"gate": _text(form, "gate"), "outcome": _text(form, "outcome"), "comment": _text(form, "comment")}
        if body["outcome"] != "approve" and not body["comment"]:
            raise FormProblem(comment_required, {"comment": comment_required})
    elif type_ == "accept_draft":
        body["version"] = _int(form, "version")
    elif type_ == "sign":
        method = "wet_ink" if _text(form, "method") == "wet_ink" else "electronic"
        body |= {"version": _int(form, "version"), "method": method, "signed_by": _text(form, "signed_by")}
    elif type_ == "submit_draft":
        body["note"] = _text(form, "note")
    elif type_ == "submit_evaluation_report":
        results = []
        for i, indicator in enumerate(state.indicators):
            achieved = _text(form, f"achieved-{i}")
            if achieved is not None:
                number = parse_number(achieved, lang)
                if number is None:  # named by its indicator, not by the command's field path
                    problem = NUMBER_ID if lang == "id" else NUMBER_EN
                    raise FormProblem(f"{indicator.name}: {problem}", {f"achieved-{i}": problem})
                results.append({"indicator": indicator.name, "achieved": number, "note": _text(form, f"note-{i}")})
        body |= {"evaluation": _int(form, "evaluation"), "narrative": _text(form, "narrative"), "results": results}
    elif type_ == "conclude_evaluation":
        body |= {
            "evaluation": _int(form, "evaluation"),
            "score": _int(form, "score"),
            "recommendation": _text(form, "recommendation"),
            "summary": _text(form, "summary"),
        }
    elif type_ == "comment":
        body["text"] = _text(form, "text")
    elif type_ == "terminate":
        body["reason"] = _text(form, "reason")
    elif type_ == "extend_deadline":
        body |= {
            "deadline": _text(form, "deadline") or "step",
            "days": _int(form, "days"),
            "reason": _text(form, "reason"),
        }
    elif type_ == "renew":
        body |= {"duration_months": _int(form, "duration_months"), "note": _text(form, "note")}
    elif type_ == "propose_amendment":
        body |= {
            "summary": _text(form, "summary"),
            "end_date": _text(form, "end_date"),
            "evaluation_interval_months": _int(form, "evaluation_interval_months"),
        }
    elif type_ == "withdraw":
        body["reason"] = _text(form, "reason")
    elif type_ == "set_dprd_requirement":
        body |= {
            "burdens_public": form.get("burdens_public") == "on",
            "budgeted_in_apbd": form.get("budgeted_in_apbd") == "on",
        }
        request = {name: _text(form, f"request-{name}") for name in DPRD_REQUEST_TEXTS}
        request["apbd_contribution"] = _number(_text(form, "request-apbd_contribution"), lang)
        request["duration_months"] = _int(form, "request-duration_months")
        if any(value is not None for value in request.values()):  # the decider says when it is needed
            body["request"] = {k: v for k, v in request.items() if v is not None}
    elif type_ == "publish":  # the signed documents ticked as public
        body["documents"] = [v for v in form.getlist("documents") if isinstance(v, str)]
    elif type_ == "unpublish":
        body["reason"] = _text(form, "reason")
    return {k: v for k, v in body.items() if v is not None}


def validate_command(body: dict[str, Any], lang: str = "en") -> m.Command:
    try:
        return COMMAND.validate_python(body, context=m.AT_THE_EDGE)
    except ValidationError as error:
        errors = errors_by_field(error, lang)
        raise FormProblem("; ".join(f"{k}: {v}" for k, v in errors.items()), errors) from None


def proposal_fields(form: FormData, lang: str = "en") -> dict[str, Any]:
    """The proposal form as a `Proposal` body (blank party and indicator rows left out;
    numbers read as a reader of `lang` writes them)."""
    parties = []
    for i in range(MAX_PARTIES):
        org = _text(form, f"parties-{i}-org")
        if org is None and i > 1:
            continue
        parties.append(
            {
                "org": org or "",
                "name": _text(form, f"parties-{i}-name"),
                "role": "initiator" if i == 0 else "counterparty",
                "sector": _text(form, f"parties-{i}-sector") or "government",
                "signatory": _text(form, f"parties-{i}-signatory") or "",
                "foreign": form.get(f"parties-{i}-foreign") == "on",
                "requires_dprd_approval": form.get(f"parties-{i}-requires_dprd_approval") == "on",
            }
        )
    indicators = []
    for i in range(MAX_INDICATORS):
        name = _text(form, f"indicators-{i}-name")
        if name is None:
            continue
        indicators.append(
            {
                "name": name,
                "target": _number(_text(form, f"indicators-{i}-target"), lang),
                "unit": _text(form, f"indicators-{i}-unit") or "",
            }
        )
    body: dict[str, Any] = {
        "title": _text(form, "title") or "",
        "kind": _text(form, "kind") or "",
        "objectives": _text(form, "objectives") or "",
        "sector": _text(form, "sector") or "",
        "parties": parties,
        "start_date": _text(form, "start_date") or "",
        "duration_months": _int(form, "duration_months"),
        "evaluation_interval_months": _int(form, "evaluation_interval_months") or 6,
        "indicators": indicators,
        "value": _int(form, "value"),
        **plan_fields(form),
    }
    return {k: v for k, v in body.items() if v is not None}


def proposal_from_form(form: FormData, lang: str = "en") -> m.Proposal:
    try:
        return m.Proposal.model_validate(proposal_fields(form, lang), context=m.AT_THE_EDGE)
    except ValidationError as error:
        raise FormProblem("", relocate(errors_by_field(error, lang), form)) from None


def form_values_of(state: m.AgreementState | None, principal_org: str, lang: str = "en") -> dict[str, Any]:
    """The proposal form's initial values: a blank proposal from the caller's organisation,
    or the agreement being edited (its numbers whole, as a reader of `lang` writes them)."""
    values: dict[str, Any] = {
        "title": "",
        "kind": "ksdd",
        "objectives": "",
        "sector": "",
        "start_date": date.today().isoformat(),
        "duration_months": "12",
        "evaluation_interval_months": "6",
        "value": "",
        "parties-0-org": principal_org,
        "parties-0-sector": "government",
        "parties-1-sector": "government",
        **plan_values_of(state),
    }
    if state is None:
        return values
    values |= {
        "title": state.title,
        "kind": state.kind,
        "objectives": state.objectives,
        "sector": state.sector,
        "start_date": state.start_date.isoformat(),
        "duration_months": str(state.duration_months),
        "evaluation_interval_months": str(state.evaluation_interval_months),
        "value": "" if state.value is None else str(state.value),
    }
    for i, party in enumerate(state.parties[:MAX_PARTIES]):
        values |= {
            f"parties-{i}-org": party.org,
            f"parties-{i}-name": party.name or "",
            f"parties-{i}-sector": party.sector,
            f"parties-{i}-signatory": party.signatory,
            f"parties-{i}-foreign": party.foreign,
            f"parties-{i}-requires_dprd_approval": party.requires_dprd_approval,
        }
    for i, indicator in enumerate(state.indicators[:MAX_INDICATORS]):
        values |= {
            f"indicators-{i}-name": indicator.name,
            f"indicators-{i}-target": plain_number(indicator.target, lang),
            f"indicators-{i}-unit": indicator.unit,
        }
    return values


def form_values_from(form: FormData) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, value in form.multi_items():
        if isinstance(value, str):
            values[key] = True if value == "on" else value
    values["sdg"] = [str(v) for v in form.getlist("sdg")]
    values["rows"] = rows_in(form)
    return echoed(values)
