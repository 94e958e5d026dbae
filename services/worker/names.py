"""The names a worker's mails give organisations, read once for a claim and kept a minute.

A mail names organisations by their ids in its notice's data (`services.notifying.names`);
the dispatcher reads their names — the agreement's recorded party names and the register's
— in one statement for every mail of a claim it does not know the names of yet, before the
claim's sends start (`read`), and each send takes them from here (`of`). A name is kept
`KEPT_SECONDS`: a register rename reaches the mails within that, and a burst of mails about
the same agreements (one transition's readers, the next transition's) reads nothing again.
A read that fails leaves the names out (the caller logs it): the mail goes, naming
organisations by id, rather than wait for the database."""

from __future__ import annotations

import time
from collections.abc import Iterable

from services.notifying import names as naming
from services.store import register
from services.store.db import Unit
from workflows.notify.rules import Notification

KEPT_SECONDS = 60.0
KEPT_AT_MOST = 4096  # (agreement, organisation) pairs: the parties of the agreements in the news


class MailNames:
    def __init__(self) -> None:
        self._kept: dict[tuple[str, str], tuple[float, tuple[str | None, str | None, str | None]]] = {}

    def unknown(self, notes: Iterable[Notification]) -> set[tuple[str, str]]:
        """What `notes` name that is not kept, or kept too long: the pairs to read."""
        now = time.monotonic()
        return {
            pair
            for pair in naming.pairs_of(notes)
            if (kept := self._kept.get(pair)) is None or now - kept[0] >= KEPT_SECONDS
        }

    async def read(self, unit: Unit, pairs: set[tuple[str, str]]) -> None:
        """Read the names of `pairs` (`unknown`'s) in one statement, and keep them."""
        found = await register.mail_names(unit, pairs=pairs)
        now = time.monotonic()
        for pair in pairs:
            self._kept.pop(pair, None)  # put back last: the dict stays oldest first
            self._kept[pair] = (now, found.get(pair, (None, None, None)))
        while len(self._kept) > KEPT_AT_MOST:
            del self._kept[next(iter(self._kept))]

    def of(self, note: Notification, lang: str) -> dict[str, str]:
        """The names `note`'s wording gives its organisations, for a reader in `lang`, from
        what was read (an organisation not read keeps its id)."""
        found = {pair: kept[1] for pair in naming.pairs_of((note,)) if (kept := self._kept.get(pair)) is not None}
        return naming.names_for(note, found, lang)
