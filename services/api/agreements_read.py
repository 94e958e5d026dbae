"""Loading an agreement for a caller: the recorded state, if the caller may see it."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.api import commands
from services.auth import Principal
from services.errors import NotFound
from services.store import queries
from workflows import lifecycle
from workflows import messages as m


async def load_visible(session: AsyncSession, agreement_id: str, principal: Principal) -> m.AgreementState:
    """The agreement's recorded state, or 404 when it is unknown or not the caller's to see
    (an outsider cannot tell the two apart)."""
    record = await queries.get_agreement(session, agreement_id=agreement_id)
    if record is None or not lifecycle.can_see(record.state, commands.actor_of(principal)):
        raise NotFound("Agreement not found.", agreement_id=agreement_id)
    return record.state
