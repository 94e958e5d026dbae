"""The audit trail's canonical JSON and hash chain, without a database."""

from __future__ import annotations

import hashlib
import json
import sys
from datetime import UTC, date, datetime, timedelta, timezone
from enum import IntEnum, StrEnum

import hypothesis.strategies as st
import pytest
from hypothesis import given, settings
from pydantic import BaseModel

from services.store import queries
from services.store.audit import GENESIS, canonical_json, chain_hash, event_body, event_hash, iso_utc, normalize
from tests.builders import NOW, party, proposal, replay, run, staff
from workflows import lifecycle as L
from workflows.messages import Actor, Event, Submit

WIB = timezone(timedelta(hours=7))


def make_event(**changes) -> Event:
    fields = dict(
        id="e-1",
        agreement_id="a-1",
        seq=1,
        version=1,
        type="agreement_created",
        at=datetime(2026, 11, 22, 20, 0, tzinfo=UTC),
        actor=Actor(sub="staff@jabar", org="jabar", roles=["staff"]),
        data={"title": "Kerja sama air bersih", "value": 1500000000},
    )
    return Event(**{**fields, **changes})


def test_canonical_json_sorts_keys_without_spaces_and_keeps_unicode():
    assert canonical_json({"b": 1, "a": [1, {"d": None, "c": True}], "é": "Jawa Barat – Jateng"}) == (
        '{"a":[1,{"c":true,"d":null}],"b":1,"é":"Jawa Barat – Jateng"}'.encode()
    )


def test_datetimes_are_utc_with_microseconds_and_z():
    assert iso_utc(datetime(2026, 11, 23, 3, 0, tzinfo=WIB)) == "2026-11-22T20:00:00.000000Z"
    assert iso_utc(datetime(2026, 1, 2, 3, 4, 5, 6)) == "2026-01-02T03:04:05.000006Z"  # naive = UTC
    assert canonical_json({"at": datetime(2026, 1, 1, tzinfo=UTC), "d": date(2027, 1, 1)}) == (
        b'{"at":"2026-01-01T00:00:00.000000Z","d":"2027-01-01"}'
    )


def test_same_instant_in_another_zone_hashes_the_same():
    utc = make_event()
    wib = make_event(at=utc.at.astimezone(WIB))
    assert chain_hash(GENESIS, event_body(utc)) == chain_hash(GENESIS, event_body(wib))


def test_integral_floats_hash_as_integers_like_jsonb_returns_them():
    # JSONB gives 1e16 back as 10000000000000000 (an int) and 80.0 as 80.0: both sides
    # of the round trip must canonicalise alike.
    assert canonical_json({"x": 1e16}) == canonical_json({"x": 10000000000000000})
    assert canonical_json({"x": 80.0}) == canonical_json({"x": 80}) == b'{"x":80}'
    assert canonical_json({"x": 0.1}) == b'{"x":0.1}'


def test_normalize_is_idempotent():
    value = {"at": datetime(2026, 1, 1, tzinfo=WIB), "n": [1.0, 2.5], "s": "x"}
    once = normalize(value)
    assert normalize(once) == once
    assert normalize(json.loads(canonical_json(value))) == once


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), {1: "x"}, object()])
def test_unauditable_values_are_refused(bad):
    with pytest.raises((ValueError, TypeError)):
        canonical_json({"x": bad})


def test_event_body_holds_exactly_the_hashed_fields():
    body = event_body(make_event())
    assert set(body) == {"id", "agreement_id", "seq", "version", "type", "at", "actor", "data"}
    assert body["at"] == "2026-11-22T20:00:00.000000Z"
    assert body["actor"] == {"sub": "staff@jabar", "org": "jabar", "roles": ["staff"], "gates": []}


def test_chain_hash_is_sha256_of_prev_hash_and_canonical_body():
    body = event_body(make_event())
    expected = hashlib.sha256(GENESIS.encode() + canonical_json(body)).hexdigest()
    assert chain_hash(GENESIS, body) == expected
    assert len(expected) == 64 and GENESIS == "0" * 64


def test_any_change_changes_the_hash():
    base = chain_hash(GENESIS, event_body(make_event()))
    assert chain_hash(GENESIS, event_body(make_event(data={"title": "Lain", "value": 1500000000}))) != base
    assert chain_hash(GENESIS, event_body(make_event(seq=2))) != base
    assert chain_hash(GENESIS, event_body(make_event(at=make_event().at + timedelta(microseconds=1)))) != base
    assert chain_hash("1" * 64, event_body(make_event())) != base


# ---------------------------------------------------------------- the recording's hashing


class Shade(StrEnum):
    DARK = "dark"


class Level(IntEnum):
    HIGH = 3


# The JSON an event's `data` may hold, with what `normalize` rewrites: integral and other
# floats, datetimes in any zone, dates, nested lists and objects, and str and int subclasses.
_leaves = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
    | st.datetimes(timezones=st.sampled_from([UTC, WIB]))
    | st.dates()
    | st.sampled_from([Shade.DARK, Level.HIGH])
)
_json = st.recursive(_leaves, lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner), max_leaves=30)


def _reference(value):
    """`normalize` as the trail's rule states it, one isinstance check after another."""
    if isinstance(value, BaseModel):
        return _reference(value.model_dump(mode="json"))
    if isinstance(value, dict):
        return {k: _reference(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_reference(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, (str, int)):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, datetime):
        return iso_utc(value)
    return value.isoformat()


@settings(max_examples=200, deadline=None)
@given(data=st.dictionaries(st.text(), _json, max_size=6))
def test_an_event_is_hashed_as_the_rule_states_whatever_its_data(data):
    event = make_event(data=data)
    body = event_body(event)
    assert body == _reference({**event.model_dump(), "at": event.at})
    stated = hashlib.sha256(
        GENESIS.encode()
        + json.dumps(_reference(body), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    ).hexdigest()
    assert event_hash(GENESIS, body) == chain_hash(GENESIS, body) == stated


def test_the_recording_walks_each_event_body_once_for_its_row_and_its_hash():
    # The body is normalised for its row; hashing it walked it a second time, the larger
    # part of the recording's Python (docs/performance-log.md, `perf-path10`).
    lead = proposal([party("jabar", "initiator"), party("jateng")], "ksdd")
    created = L.create(lead, staff("jabar"), NOW, "agr-walked")
    state, submitted = run(replay(created), staff("jabar"), Submit())
    events = [*created, *submitted]
    walked = []

    def count(frame, kind, _):
        if kind == "call" and frame.f_code is normalize.__code__:
            value = frame.f_locals["value"]
            if isinstance(value, dict) and "agreement_id" in value:
                walked.append(value["seq"])

    sys.setprofile(count)
    try:
        queries._recording(state, events, None, follows=GENESIS, superseded=False)
    finally:
        sys.setprofile(None)
    assert walked == [event.seq for event in events] and len(events) > 1
