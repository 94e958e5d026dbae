"""The plan's recipients a worker has read, kept for its next recordings.

A plain recording read its plan's recipients — the audiences' contacts, the parties' webhook
endpoints — in a round trip of its own before its one statement, though they change only
when someone edits a contact or an endpoint. The worker keeps what it read, with the
version it was read at (`notification_recipients_version`: a random stamp each change
draws anew, by triggers in the changing transaction, so it never comes back to one it had,
even after a restore); the recording's statement writes only while the version is still
that one (`queries.append_at_once`), so a plan is never made from
recipients older than the statement's snapshot — as when they were read just before it.
When the version has moved, the statement writes nothing, the recording takes its careful
path (which reads them afresh) and the worker forgets what it kept.

Kept per audience and template (the contacts it reaches) and per organisation (its enabled
endpoints), so agreements between other parties reuse what they share; all of one version.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from services.store import notifications as store
from services.store.db import Unit
from workflows.notify.rules import Audience

# Enough for every audience and party of a large deployment; past it, start again. The
# records too: an audience of a whole ministry's staff is one entry of thousands of contacts.
KEPT_AT_MOST = 4096
RECORDS_AT_MOST = 20_000
# Writes that skip triggers (logical replication, `pg_restore --disable-triggers`) draw no
# new version: what was kept before them would be used for ever. Read afresh at least this
# often, so such a write reaches the plans within minutes without a restart — one round
# trip per worker every few minutes.
KEPT_FOR_AT_MOST_SECONDS = 300.0


class KnownRecipients:
    """`store.recipients_read`, answered from what this worker read before while it is of
    one version; a round trip only for what it has not read yet."""

    def __init__(
        self,
        *,
        kept_at_most: int = KEPT_AT_MOST,
        records_at_most: int = RECORDS_AT_MOST,
        kept_for_at_most: float = KEPT_FOR_AT_MOST_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.kept_at_most, self.records_at_most = kept_at_most, records_at_most
        self.kept_for_at_most, self.clock = kept_for_at_most, clock
        self.records = 0  # the contacts and endpoints kept, each as often as it is kept
        self.version: int | None = None
        self.read_at = 0.0  # when the version kept was read (`clock`)
        self._reached: dict[tuple[str, str], list[store.ContactRecord]] = {}
        self._endpoints: dict[str, list[store.EndpointRecord]] = {}

    def forget(self) -> None:
        """A recording found the version moved: read everything again next time."""
        self.version = None
        self.records = 0
        self._reached.clear()
        self._endpoints.clear()

    async def read(
        self, unit: Unit, *, asked: Iterable[tuple[Audience, str]], orgs: Iterable[str]
    ) -> store.RecipientsRead:
        asked, orgs = list(asked), list(dict.fromkeys(orgs))
        if (
            len(self._reached) + len(self._endpoints) > self.kept_at_most
            or self.records > self.records_at_most
            or self.clock() - self.read_at > self.kept_for_at_most
        ):
            self.forget()
        known = self._known(asked, orgs)
        if known is not None:
            return known
        missing_pairs = [(a, t) for a, t in asked if (a.key, t) not in self._reached]
        missing_orgs = [org for org in orgs if org not in self._endpoints]
        read = await store.recipients_read(unit, asked=missing_pairs, orgs=missing_orgs)
        if read.version is None:
            return read  # nothing asked
        if read.version == self.version:
            self._keep(read, missing_orgs)
            known = self._known(asked, orgs)
            if known is not None:
                return known
        # The first read, or the version moved (found here, or by another recording while
        # this one read): everything asked, of one version, in place of what was kept.
        if len(missing_pairs) < len(asked) or len(missing_orgs) < len(orgs):
            read = await store.recipients_read(unit, asked=asked, orgs=orgs)
        self.forget()
        self.version, self.read_at = read.version, self.clock()
        self._keep(read, orgs)
        return read

    def _keep(self, read: store.RecipientsRead, orgs: list[str]) -> None:
        self._reached.update(read.reached)
        self.records += sum(len(contacts) for contacts in read.reached.values())
        for org in orgs:
            self._endpoints[org] = [e for e in read.endpoints if e.org == org]
            self.records += len(self._endpoints[org])

    def _known(self, asked: list[tuple[Audience, str]], orgs: list[str]) -> store.RecipientsRead | None:
        """What was asked, all of it kept, or None."""
        if self.version is None:
            return None
        try:
            reached = {(a.key, t): self._reached[(a.key, t)] for a, t in asked}
            kept = [self._endpoints[org] for org in orgs]
        except KeyError:
            return None
        endpoints = sorted((e for of_org in kept for e in of_org), key=lambda e: (e.created_at, e.id))
        return store.RecipientsRead(reached, endpoints, self.version)
