"""The SMTP sink of `pakta dev`: an aiosmtpd server on the loopback interface that keeps
every message it receives as an .eml file, so a newcomer sees the notification emails
(`GET /dev/mail`, or any mail client opening the files)."""

from __future__ import annotations

import asyncio
import time
import uuid
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path

from aiosmtpd.smtp import SMTP, Envelope, Session


class _Keep:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # aiosmtpd handler hook
        assert isinstance(envelope.content, bytes)  # SMTP without decode_data hands over bytes
        name = f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}.eml"
        (self.directory / name).write_bytes(envelope.content)
        return "250 Message kept"


async def start_mail_sink(directory: Path, port: int, host: str = "127.0.0.1") -> asyncio.Server:
    await asyncio.to_thread(directory.mkdir, parents=True, exist_ok=True)
    handler = _Keep(directory)
    loop = asyncio.get_running_loop()
    return await loop.create_server(lambda: SMTP(handler, hostname="pakta-dev"), host, port)


def caught(directory: Path, limit: int = 50) -> list[tuple[str, EmailMessage]]:
    """The newest kept messages, newest first: (file name, parsed message)."""
    if not directory.is_dir():
        return []
    files = sorted(directory.glob("*.eml"), key=lambda p: p.name, reverse=True)[:limit]
    return [(f.name, message_from_bytes(f.read_bytes(), policy=default_policy)) for f in files]
