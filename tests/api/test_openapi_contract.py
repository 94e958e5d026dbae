"""The OpenAPI document is the contract clients generate code from: every `$ref` resolves,
every operation declares the statuses it can answer with the one error shape, commands
require their `type`, and bodies are described."""

from __future__ import annotations

from typing import Any

import pytest

from services.api.app import create_app
from services.settings import Settings


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return create_app(Settings()).openapi()


def refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for v in node.values() for r in refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in refs(v)]
    return []


def resolve(spec: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = spec
    for part in ref[2:].split("/"):
        node = node[part]
    return node


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(m, p, op) for p, ops in spec["paths"].items() for m, op in ops.items()]


def test_every_reference_resolves(spec: dict[str, Any]) -> None:
    found = refs(spec)
    assert found and "$defs" not in repr(spec)
    for ref in found:
        resolve(spec, ref)


def test_every_operation_declares_its_refusals_in_the_one_error_shape(spec: dict[str, Any]) -> None:
    for method, path, op in operations(spec):
        if path in ("/healthz", "/readyz"):
            continue
        for status in ("400", "401", "403", "404", "422", "431", "503"):
            declared = op["responses"].get(status)
            assert declared, (method, path, status)
            assert declared["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    actions = spec["paths"]["/agreements/{agreement_id}/actions"]["post"]["responses"]
    assert {"200", "409", "412"} <= set(actions)


def test_commands_require_their_type_and_bodies_are_described(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    for name in ("Submit", "Decide", "Sign", "Comment", "SubmitDraft", "AcceptDraft"):
        assert schemas[name]["required"][0] == "type", name
    upload = spec["paths"]["/documents"]["post"]["requestBody"]["content"]
    assert set(upload) == {"text/markdown", "text/plain", "application/pdf"}
    imported = spec["paths"]["/agreements/import"]["post"]["requestBody"]["content"]
    assert {"application/json", "text/csv"} <= set(imported)


def test_the_action_plan_read_and_the_import_s_plan_sheets_are_described(spec: dict[str, Any]) -> None:
    read = spec["paths"]["/agreements/{agreement_id}/action-plan"]["get"]["responses"]
    assert read["200"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ActionPlanView"}
    view = spec["components"]["schemas"]["ActionPlanView"]["properties"]
    assert {"activities", "obligations", "action_items", "meetings", "measurements", "health"} <= set(view)
    sheets = spec["paths"]["/agreements/import"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert sheets["required"] == ["agreements"]
    assert set(sheets["properties"]) == {"agreements", "goals", "obligations", "activities"}


def test_the_figures_a_party_writes_are_bounded_in_the_document(spec: dict[str, Any]) -> None:
    # The API refuses a target, an achievement or a measurement beyond 10^15: the document
    # clients generate code from says so.
    schemas = spec["components"]["schemas"]
    for model, field in (("Indicator", "target"), ("IndicatorResult", "achieved"), ("RecordMeasurement", "value")):
        bounded = schemas[model]["properties"][field]
        assert (bounded["minimum"], bounded["maximum"]) == (-(10**15), 10**15), (model, bounded)
