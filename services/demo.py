"""`pakta dev --demo`: example agreements at different points of their lives, created
through the same workflow commands the API sends (so they are real, audited agreements).
Seeding is idempotent: each agreement is created with a fixed idempotency key. And, for
every `pakta dev`, the demo organisations in the register of organisations."""

from __future__ import annotations

from datetime import date
from typing import Any, cast

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from services.api import commands
from services.auth import Principal
from services.demo_people import DEMO_ORGANISATIONS
from services.errors import PaktaError
from services.settings import Settings
from services.store import register
from services.store.db import create_engine, create_sessionmaker, session_scope
from workflows import messages as m

log = structlog.get_logger(__name__)

JABAR_STAFF = Principal(sub="demo-staff", org="jabar", roles=["staff"])


def _party(org: str, role: m.PartyRole, sector: m.Sector, signatory: str, **kw: Any) -> m.Party:
    return m.Party(org=org, role=role, sector=sector, signatory=signatory, **kw)


PROPOSALS: dict[str, m.Proposal] = {
    "demo-ksdd": m.Proposal(
        title="Pengelolaan sampah regional Jawa Barat – Jawa Tengah",
        kind="ksdd",
        objectives="Pengelolaan TPPAS regional dan pengangkutan sampah lintas batas.",
        sector="environment",
        parties=[
            _party("jabar", "initiator", "government", "Gubernur Jawa Barat"),
            _party("jateng", "counterparty", "government", "Gubernur Jawa Tengah", requires_dprd_approval=True),
        ],
        start_date=date(2027, 1, 1),
        duration_months=60,
        indicators=[m.Indicator(name="Sampah terolah", target=1200, unit="ton/hari")],
        value=25_000_000_000,
    ),
    "demo-ksdpk": m.Proposal(
        title="Riset ketahanan pangan bersama Universitas Padjadjaran",
        kind="ksdpk",
        objectives="Riset varietas padi tahan kekeringan dan pendampingan petani.",
        sector="agriculture",
        parties=[
            _party("jabar", "initiator", "government", "Gubernur Jawa Barat"),
            _party("unpad", "counterparty", "academia", "Rektor Universitas Padjadjaran"),
        ],
        start_date=date(2027, 3, 1),
        duration_months=36,
        indicators=[m.Indicator(name="Petani didampingi", target=500, unit="orang")],
    ),
    "demo-ksdpl": m.Proposal(
        title="Sister province Jawa Barat – Western Australia: kesehatan",
        kind="ksdpl",
        objectives="Pertukaran tenaga kesehatan dan surveilans penyakit menular.",
        sector="health",
        parties=[
            _party("jabar", "initiator", "government", "Gubernur Jawa Barat", requires_dprd_approval=True),
            _party("wa-gov", "counterparty", "government", "Premier of Western Australia", foreign=True),
        ],
        start_date=date(2027, 6, 1),
        duration_months=48,
    ),
}


async def seed(settings: Settings, client: Client) -> list[str]:
    engine = create_engine(settings)
    try:
        return await _seed(settings, client, create_sessionmaker(engine))
    finally:
        await engine.dispose()


async def _seed(settings: Settings, client: Client, sessionmaker: async_sessionmaker[AsyncSession]) -> list[str]:
    ids = []
    for key, proposal in PROPOSALS.items():
        try:
            async with session_scope(sessionmaker) as session:
                snapshot, created = await commands.start_agreement(
                    client,
                    session,
                    task_queue=settings.temporal_task_queue,
                    proposal=proposal,
                    principal=JABAR_STAFF,
                    idempotency_key=key,
                    search_attributes=settings.temporal_search_attributes,
                )
        except PaktaError as error:
            log.warning("demo.seed_failed", key=key, error=error.message)
            continue
        if created and key != "demo-ksdpl":
            await commands.send_command(
                client,
                agreement_id=snapshot.id,
                command=m.Submit(),
                principal=JABAR_STAFF,
                expected_version=None,
                idempotency_key=f"{key}-submit",
            )
        ids.append(snapshot.id)
        log.info("demo.seeded", key=key, agreement_id=snapshot.id, created=created)
    return ids


async def register_organisations(settings: Settings) -> list[str]:
    """Put the demo organisations (`DEMO_ORGANISATIONS`) in the register, each unless it is
    there already: what someone changed since stays. Returns those added."""
    engine = create_engine(settings)
    added = []
    try:
        async with session_scope(create_sessionmaker(engine)) as session:
            for demo in DEMO_ORGANISATIONS:
                entry = register.Entry(
                    org=demo.org,
                    name_id=demo.name_id,
                    name_en=demo.name_en,
                    level=cast(register.Level, demo.level),
                    province_code=demo.province_code,
                    foreign=demo.foreign,
                )
                if await register.add_if_absent(session, entry=entry, updated_by="pakta dev"):
                    added.append(demo.org)
    finally:
        await engine.dispose()
    return added
