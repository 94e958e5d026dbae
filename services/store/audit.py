"""The audit trail's hash chain, pure.

Each stored event carries `hash = sha256(prev_hash + canonical_json(body))`, where `body` is
the event's own fields and `prev_hash` the hash of the agreement's previous event ("0"*64
for the first). Verification recomputes the chain from the *stored* columns, so the body
must survive a round trip through PostgreSQL unchanged:

- `at` is a timestamptz (microsecond precision, like Python) and hashes as UTC ISO 8601
  with exactly six fractional digits and a "Z";
- `actor` and `data` are JSONB, which keeps strings and integers but not the spelling of
  floats (1e16 comes back as 10000000000000000, an int): integral floats are therefore
  hashed as integers, so both sides of the round trip canonicalise to the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import math
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel

from workflows.contracts.records import CHAIN_START
from workflows.messages import Event

GENESIS = CHAIN_START  # the head of a trail with no rows yet


def iso_utc(moment: datetime) -> str:
    """2026-11-22T20:37:31.000000Z. A naive datetime is taken as UTC, as asyncpg does when
    it writes one into a timestamptz."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# The values `normalize` returns as they are, by exact type: most of a body's leaves. A value
# of another type (a subclass of these included) takes `_normalized`'s checks, as before.
_AS_IS = frozenset({str, int, bool, type(None)})


def normalize(value: Any) -> Any:
    """The JSON value that is hashed: plain dicts, lists, strings, ints, non-integral floats,
    booleans and None. Idempotent, so normalising what PostgreSQL returns changes nothing.

    The walk runs on every recorded event's body, so the common cases — a dict, a list, a
    leaf returned as it is — are told apart by their exact type, and a leaf costs no call:
    this walk was most of the recording's Python (docs/performance-log.md, `perf-path10`)."""
    kind = type(value)
    if kind is dict:
        return {k if type(k) is str else _key(k): v if type(v) in _AS_IS else normalize(v) for k, v in value.items()}
    if kind is list:
        return [v if type(v) in _AS_IS else normalize(v) for v in value]
    if kind in _AS_IS:
        return value
    return _normalized(value)


def _normalized(value: Any) -> Any:
    """`normalize` for what is not a plain dict, list or leaf."""
    if isinstance(value, BaseModel):
        return normalize(value.model_dump(mode="json"))
    if isinstance(value, dict):
        return {_key(k): normalize(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [normalize(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, (str, int)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("NaN and infinity have no JSON form and cannot be audited.")
        return int(value) if value.is_integer() else value
    if isinstance(value, datetime):  # before date: a datetime is a date
        return iso_utc(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not auditable JSON")


def _key(key: Any) -> str:
    if not isinstance(key, str):
        raise TypeError(f"JSON object keys are strings, not {type(key).__name__}")
    return key


def canonical_json(obj: Any) -> bytes:
    """One byte string per value: sorted keys, no spaces, UTF-8, no NaN."""
    return _canonical(normalize(obj))


def _canonical(normalized: Any) -> bytes:
    """`canonical_json` of what `normalize` returned."""
    return json.dumps(normalized, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode(
        "utf-8"
    )


def event_body(event: Event) -> dict[str, Any]:
    """Exactly the fields of an event that are hashed (and stored as such)."""
    body: dict[str, Any] = normalize(
        {
            "id": event.id,
            "agreement_id": event.agreement_id,
            "seq": event.seq,
            "version": event.version,
            "type": event.type,
            "at": event.at,
            "actor": event.actor,
            "data": event.data,
        }
    )
    return body


def chain_hash(prev_hash: str, body: dict[str, Any]) -> str:
    return hashlib.sha256(prev_hash.encode("ascii") + canonical_json(body)).hexdigest()


def event_hash(prev_hash: str, body: dict[str, Any]) -> str:
    """`chain_hash` of `event_body`'s body, which is normalised already: not walked again."""
    return hashlib.sha256(prev_hash.encode("ascii") + _canonical(body)).hexdigest()
