"""A read model at scale: `load_agreements` writes N synthetic agreements straight into
the `agreements` table, without Temporal and without an audit trail, for measuring the
reads (`GET /agreements`, `GET /agreements/{id}`) as they answer with that many rows.

Each row is the projection (`services.store.queries.projection`) of a state the decider
really reached: a few agreements of each kind are driven along the happy path, every state
on the way is kept as a template, and each synthetic agreement is a template with its own
id, title, organisations and times. So stages, steps, deadlines and gates are as varied as
a real read model's, and every row reads back as a valid `AgreementState`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.settings import Settings
from services.store.db import create_engine, create_sessionmaker
from services.store.queries import AGREEMENTS, projection
from workflows import lifecycle as L
from workflows import messages as m

# The organisations the templates are written with; each row puts its own in their place.
_INITIATOR, _COUNTERPARTY = "tpl-initiator", "tpl-counterparty"
_TEMPLATE_ID = "tpl-agreement"
_TEMPLATE_NOW = datetime(2027, 1, 4, 2, tzinfo=UTC)
_SECTORS = {"ksdd": "government", "ksdpk": "academia"}
_WORDS = ["kesehatan", "pendidikan", "pariwisata", "air bersih", "transportasi", "pertanian", "digital"]
_BATCH = 1000


async def load_agreements(
    sessionmaker_or_dsn: async_sessionmaker[AsyncSession] | str,
    n: int,
    orgs: Sequence[str],
    *,
    id_prefix: str = "bench",
    now: datetime | None = None,
) -> list[str]:
    """Insert `n` agreements among `orgs` (each between two of them, the initiator first
    in turn) into the read model of `sessionmaker_or_dsn` (a sessionmaker, or a database
    URL as `PAKTA_DATABASE_URL` takes it); their ids are `<id_prefix>-000001`…, updated
    over the year before `now` (default: the current time). Returns the ids."""
    if len(orgs) < 2:
        raise ValueError("agreements are between at least two organisations")
    if isinstance(sessionmaker_or_dsn, str):
        engine = create_engine(Settings(database_url=sessionmaker_or_dsn))
        try:
            return await _load(create_sessionmaker(engine), n, orgs, id_prefix, now)
        finally:
            await engine.dispose()
    return await _load(sessionmaker_or_dsn, n, orgs, id_prefix, now)


async def _load(
    sessionmaker: async_sessionmaker[AsyncSession],
    n: int,
    orgs: Sequence[str],
    id_prefix: str,
    now: datetime | None,
) -> list[str]:
    templates = [json.dumps(state.model_dump(mode="json")) for state in _templates()]
    end = now or datetime.now(UTC)
    ids: list[str] = []
    rows: list[dict[str, Any]] = []
    for i in range(n):
        agreement_id = f"{id_prefix}-{i + 1:06d}"
        initiator = orgs[i % len(orgs)]
        counterparty = orgs[(i // len(orgs) + 1 + i) % len(orgs)]
        if counterparty == initiator:
            counterparty = orgs[(orgs.index(initiator) + 1) % len(orgs)]
        text = (
            templates[i % len(templates)]
            .replace(f'"{_INITIATOR}"', json.dumps(initiator))
            .replace(f'"{_COUNTERPARTY}"', json.dumps(counterparty))
            .replace(f'"{_TEMPLATE_ID}"', json.dumps(agreement_id))
        )
        data = json.loads(text)
        shift = (end - timedelta(minutes=(i * 5273) % (365 * 24 * 60))) - _TEMPLATE_NOW
        data["title"] = f"Kerja sama {_WORDS[i % len(_WORDS)]} {i + 1}"
        state = _shifted(m.AgreementState.model_validate(data), shift)
        rows.append(projection(state, "0" * 64))
        ids.append(agreement_id)
        if len(rows) == _BATCH:
            await _insert(sessionmaker, rows)
            rows = []
    if rows:
        await _insert(sessionmaker, rows)
    return ids


async def _insert(sessionmaker: async_sessionmaker[AsyncSession], rows: list[dict[str, Any]]) -> None:
    async with sessionmaker() as session, session.begin():
        await session.execute(insert(AGREEMENTS), rows)


def _shifted(state: m.AgreementState, shift: timedelta) -> m.AgreementState:
    """The template's times moved by `shift`, so rows spread over the year (and some of
    their deadlines have passed, some not)."""
    return state.model_copy(
        update={
            "created_at": state.created_at + shift,
            "updated_at": state.updated_at + shift,
            "deadlines": {name: at + shift for name, at in state.deadlines.items()},
        }
    )


def _templates() -> list[m.AgreementState]:
    """Every state a KSDD and a KSDPK pass through on the happy path, draft to
    implementation."""
    out: list[m.AgreementState] = []
    for kind, counterparty_sector in _SECTORS.items():
        proposal = m.Proposal(
            title="Template",
            kind=kind,  # type: ignore[arg-type]
            objectives="Pelayanan publik bersama",
            sector="kesehatan",
            start_date=_TEMPLATE_NOW.date(),
            duration_months=36,
            indicators=[m.Indicator(name="Layanan", target=10, unit="layanan")],
            parties=[
                m.Party(org=_INITIATOR, role="initiator", sector="government", signatory="Gubernur"),
                m.Party(org=_COUNTERPARTY, role="counterparty", sector=counterparty_sector, signatory="Pimpinan"),  # type: ignore[arg-type]
            ],
        )
        state: m.AgreementState | None = None
        for event in L.create(proposal, _staff(_INITIATOR), _TEMPLATE_NOW, _TEMPLATE_ID):
            state = L.evolve(state, event)
        assert state is not None
        out.append(state)
        while state.stage != "implementation":
            state = _happy_step(state)
            out.append(state)
    return out


def _staff(org: str) -> m.Actor:
    return m.Actor(sub=f"staff@{org}", org=org, roles=["staff"])


def _run(state: m.AgreementState, actor: m.Actor, command: Any) -> m.AgreementState:
    for event in L.decide(state, command, actor, _TEMPLATE_NOW):
        state = L.evolve(state, event)
    return state


def _happy_step(state: m.AgreementState) -> m.AgreementState:
    """One move along the happy path: submit, approve an open gate slot, agree on a
    draft, or sign."""
    lead = L.initiator(state).org
    current = L.phase(state)
    if current == "draft":
        return _run(state, _staff(lead), m.Submit())
    if current == "gate":
        slot = L.open_slots(state)[0]
        org = slot.org or "kemendagri"
        approver = m.Actor(sub=f"approver@{org}", org=org, roles=["approver"], gates=[slot.gate])
        return _run(state, approver, m.Decide(gate=slot.gate, outcome="approve"))
    if current == "negotiation":
        version = max((d.version for d in state.drafts), default=0) + 1
        state = _run(state, _staff(lead), m.SubmitDraft(document=f"{version:064x}"))
        for org in L.party_orgs(state):
            if org != lead and L.phase(state) == "negotiation":
                state = _run(state, _staff(org), m.AcceptDraft(version=version))
        return state
    if current == "signing":
        step = L.current_step(state)
        assert step is not None and step.document is not None
        agreed = L.agreed_draft(state, step.document)
        assert agreed is not None
        for org in L.party_orgs(state):
            if L.phase(state) == "signing" and not any(
                s.org == org and s.version == agreed.version for s in state.signatures
            ):
                signatory = m.Actor(sub=f"signatory@{org}", org=org, roles=["signatory"])
                state = _run(state, signatory, m.Sign(version=agreed.version, method="electronic"))
        return state
    raise AssertionError(f"no happy step from {current}")
