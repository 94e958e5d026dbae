"""`GET /inbox`: what awaits the caller now (`services.api.inbox_items`: the decider's own
`owed_actions`, so the inbox never disagrees with what the API would accept)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from services.api.commands import now_utc
from services.api.deps import PrincipalDep, SessionDep
from services.api.inbox_items import InboxItem, inbox_items

router = APIRouter(prefix="/inbox", tags=["notifications"])


class Inbox(BaseModel):
    items: list[InboxItem]
    count: int


@router.get("", response_model=Inbox, summary="The actions awaiting the caller now")
async def inbox(
    session: SessionDep, principal: PrincipalDep, limit: Annotated[int, Query(ge=1, le=500)] = 200
) -> Inbox:
    items = await inbox_items(session, principal, now_utc())
    return Inbox(items=items[:limit], count=len(items))
