"""The parties this API process knows an agreement to have (`KnownParties`), and the one way
the API reads an agreement's row (`read_row`), which keeps them as the row shows them."""

from __future__ import annotations

from collections import OrderedDict

from services.store import queries
from services.store.db import Unit
from workflows import lifecycle
from workflows import messages as m


async def read_row(session: Unit, agreement_id: str) -> queries.AgreementRecord | None:
    """The agreement's row, its parties noted (`KNOWN_PARTIES`): every read of a row by the
    API goes through here, so what is kept is never older than the last row read."""
    begun = KNOWN_PARTIES.moment()
    record = await queries.get_agreement(session, agreement_id=agreement_id)
    if record is not None:
        KNOWN_PARTIES.note(record.id, lifecycle.party_orgs(record.state), version=record.state.version, read_at=begun)
    return record


class KnownParties:
    """The parties' organisations of the agreements this process has read or started, the
    most recent `at_most`: what lets an action without an Idempotency-Key send its Update
    before the row is read (`actions._send_while_reading`) only for a caller the decider
    lets see the agreement, and read first for anyone else — so an outsider's action is
    answered with the read model's 404 and never reaches the workflow.

    What is kept only chooses the order of the two steps, never the answer: a caller it does
    not know is read first and refused by `can_see` on the recorded state; a party it knows
    is answered as before (the read model's refusal when both refuse). Parties change only
    by an edit of the draft (a party other than the initiator replaced): the process that
    carries the edit out keeps the parties it led to (`actions.perform`), so an organisation
    edited out is read first there at once. Another process still sends its first action
    with the row read beside it: the row shows it no party, the answer is the read model's
    404 (the workflow's validator refuses it too), and every read notes the parties afresh,
    so its next action is read first. One edited in is read first.
    Noted from every row the API reads (`read_row`), a caller's or not, and from every
    agreement this process starts, each with its version: an older one never replaces a
    newer one. An edit whose outcome this process does not know (it failed or timed out,
    and may have been carried out all the same) forgets them (`forget`): then a read begun
    before the forgetting is not noted, whatever version it read, for it may show the
    parties of before the edit; a read begun after it is, even at the version of before (an
    edit refused, or never carried out, leaves the row there)."""

    def __init__(self, at_most: int = 4096) -> None:
        # Each agreement's version (its state's, one more with every command), parties, and
        # — for parties forgotten — the moment they were (`_moments`; 0: noted, not forgotten).
        self._orgs: OrderedDict[str, tuple[int, tuple[str, ...], int]] = OrderedDict()
        self._moments = 0  # how many forgettings this process has done: a read's clock
        self._at_most = at_most

    def moment(self) -> int:
        """Now, as `note`'s `read_at` counts: taken before a read of rows begins."""
        return self._moments

    def note(self, agreement_id: str, orgs: list[str], *, version: int, read_at: int | None) -> None:
        """Keep `orgs` as the parties at `version`, unless a later version is kept already:
        a read that started before an edit and ends after it must not put the parties of
        before back (an organisation edited out would send its Update again). `read_at`: the
        `moment` the read of the row began; a read begun before the agreement's parties were
        forgotten (`forget`) is not noted at all. None for what no read brought — the
        workflow's own answer (an agreement started, an edit carried out)."""
        kept = self._orgs.get(agreement_id)
        if kept is not None:
            kept_version, _, forgotten_at = kept
            if version < kept_version or (read_at is not None and read_at < forgotten_at):
                self._orgs.move_to_end(agreement_id)
                return
        self._orgs[agreement_id] = (version, tuple(orgs), 0)
        self._orgs.move_to_end(agreement_id)
        while len(self._orgs) > self._at_most:
            self._orgs.popitem(last=False)

    def forget(self, agreement_id: str) -> None:
        """Know no parties of the agreement until a read begun from now notes them, or the
        workflow's answer does: an edit's outcome is not known here (refused, failed, timed
        out but carried out all the same, or a replayed answer). A read begun before may have
        fetched the row before the edit and end after it, with the parties of before, at
        the version kept here or any other (the row may have moved since this process last
        noted it): none of its versions tells, so no such read is noted. Kept: the version
        bound (the version kept here, below which nothing is noted) and the moment."""
        self._moments += 1
        kept = self._orgs.get(agreement_id)
        self._orgs[agreement_id] = (kept[0] if kept is not None else 0, (), self._moments)
        self._orgs.move_to_end(agreement_id)
        while len(self._orgs) > self._at_most:
            self._orgs.popitem(last=False)

    def sees(self, agreement_id: str, actor: m.Actor) -> bool:
        """True when `actor` surely sees the agreement: one who sees every agreement, or
        the people of a party this process knows it has (`sees_without_the_ministry_gate`,
        which implies `can_see`). False says nothing: read the row and ask `can_see`."""
        _, orgs, _ = self._orgs.get(agreement_id, (0, (), 0))
        return lifecycle.sees_without_the_ministry_gate(actor, list(orgs))


KNOWN_PARTIES = KnownParties()
