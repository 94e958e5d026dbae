"""The OpenAPI document is a contract clients generate code from: it must say every status a
route can answer and the one error shape each of them carries.

FastAPI documents only the success status and its own `{"detail": …}` 422. Every refusal of
Pakta's is `{"error": {"code", "message", …}}` (services/api/errors.py), and any route can
answer 400 (a broken URL), 401 (no valid token), 413 (a body over its limit), 431 (headers
too large), 503 (Temporal or PostgreSQL away) besides its own 403/404/409/412/422. This
module completes the generated document once, when it is first asked for:

- every operation declares those statuses with the `Error` schema (probes keep theirs);
- the 422 is the `Error` shape, not FastAPI's `HTTPValidationError`;
- a command's `type` is required (it is the discriminator a client must send);
- `POST /documents` says what body it takes (raw bytes of the accepted media types);
- schemas inlined with their own `$defs` (the import's body) are hoisted into
  `components/schemas`, so every `$ref` resolves.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
            "additionalProperties": True,
        }
    },
}
ERROR_REF = {"$ref": "#/components/schemas/Error"}

# What each status means, for the statuses every authenticated route may answer.
COMMON: dict[str, str] = {
    "400": "A control character or broken UTF-8 in the URL",
    "401": "No valid bearer token",
    "403": "Not yours to do",
    "404": "Unknown, or not visible to you",
    "409": "Not possible now (the stage and your allowed actions say why)",
    "413": "The body is over its limit",
    "422": "Malformed: the fields and a short excerpt of each bad value",
    "431": "Headers too large",
    "503": "Temporal or PostgreSQL is unavailable; try again",
}
BY_OPERATION: dict[tuple[str, str], dict[str, str]] = {
    ("post", "/agreements/{agreement_id}/actions"): {"412": "If-Match names another version"},
    ("post", "/documents"): {"415": "A media type Pakta does not keep"},
}
# Probes answer for the process itself: no token, no body.
PROBES = frozenset({"/healthz", "/readyz", "/metrics"})
DOCUMENT_TYPES = ("text/markdown", "text/plain", "application/pdf")


def install_contract(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                description=app.description,
                routes=app.routes,
            )
            app.openapi_schema = complete(spec)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def complete(spec: dict[str, Any]) -> dict[str, Any]:
    schemas: dict[str, Any] = spec.setdefault("components", {}).setdefault("schemas", {})
    schemas["Error"] = ERROR_SCHEMA
    for path, operations in spec.get("paths", {}).items():
        for method, operation in operations.items():
            _declare_errors(path, method, operation)
            if (method, path) == ("post", "/documents") and "requestBody" not in operation:
                operation["requestBody"] = {
                    "required": True,
                    "content": {t: {"schema": {"type": "string", "format": "binary"}} for t in DOCUMENT_TYPES},
                }
    _hoist_defs(spec, schemas)
    for schema in schemas.values():
        _require_discriminator(schema)
    for unused in ("HTTPValidationError", "ValidationError"):
        if unused in schemas and f"#/components/schemas/{unused}" not in repr(spec["paths"]):
            del schemas[unused]
    return spec


def _declare_errors(path: str, method: str, operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    if path in PROBES:
        for status, response in responses.items():
            if status.startswith(("4", "5")):
                response["content"] = {"application/json": {"schema": ERROR_REF}}
        return
    wanted = {**COMMON, **BY_OPERATION.get((method, path), {})}
    for status, description in wanted.items():
        existing = responses.get(status, {})
        responses[status] = {
            "description": existing.get("description") or description,
            "content": {"application/json": {"schema": ERROR_REF}},
        }


def _require_discriminator(schema: dict[str, Any]) -> None:
    """A command model's `type` has a default (so code can build it without naming it),
    which makes it optional in the generated schema; on the wire it is required."""
    properties = schema.get("properties", {})
    kind = properties.get("type", {})
    if "const" in kind or ("enum" in kind and len(kind["enum"]) == 1):
        required = schema.setdefault("required", [])
        if "type" not in required:
            required.insert(0, "type")


def _hoist_defs(node: Any, schemas: dict[str, Any]) -> None:
    """Move nested `$defs` into components and point their `$ref`s there."""
    if isinstance(node, dict):
        nested = node.pop("$defs", None)
        if isinstance(nested, dict):
            for name, schema in nested.items():
                schemas.setdefault(name, schema)
                _hoist_defs(schema, schemas)
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            node["$ref"] = "#/components/schemas/" + ref.removeprefix("#/$defs/")
        for value in list(node.values()):
            _hoist_defs(value, schemas)
    elif isinstance(node, list):
        for item in node:
            _hoist_defs(item, schemas)
