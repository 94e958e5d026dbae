"""`GET /dev/mail`: the emails `pakta dev`'s SMTP sink caught. Only in the dev environment
and only when a sink directory is configured; elsewhere the route answers 404."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from services.api.deps import SettingsDep
from services.errors import NotFound

router = APIRouter(prefix="/dev", tags=["dev"], include_in_schema=False)


class CaughtMail(BaseModel):
    file: str
    message_id: str | None
    sender: str | None
    to: str | None
    subject: str | None
    date: str | None
    language: str | None
    text: str | None


@router.get("/mail", response_model=list[CaughtMail])
async def dev_mail(settings: SettingsDep, limit: Annotated[int, Query(ge=1, le=500)] = 50) -> list[CaughtMail]:
    if settings.env != "dev" or not settings.dev_mail_dir:
        raise NotFound("Not found.")
    from services.embedded.mailsink import caught  # aiosmtpd is a dev dependency

    out = []
    for name, message in caught(Path(settings.dev_mail_dir), limit):
        body = message.get_body(("plain",))
        out.append(
            CaughtMail(
                file=name,
                message_id=message["Message-ID"],
                sender=message["From"],
                to=message["To"],
                subject=message["Subject"],
                date=message["Date"],
                language=message["Content-Language"],
                text=body.get_content() if body is not None else None,
            )
        )
    return out
