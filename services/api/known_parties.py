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
    record = await queries.get_agreement(session, agreement_id=agreement_id)
    if record is not None:
        KNOWN_PARTIES.note(record.id, lifecycle.party_orgs(record.state), version=record.state.version)
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
    newer one."""

    def __init__(self, at_most: int = 4096) -> None:
        # Each agreement's version (its state's, one more with every command) and parties.
        self._orgs: OrderedDict[str, tuple[int, tuple[str, ...]]] = OrderedDict()
        self._at_most = at_most

    def note(self, agreement_id: str, orgs: list[str], *, version: int) -> None:
        """Keep `orgs` as the parties at `version`, unless a later version is kept already:
        a read that started before an edit and ends after it must not put the parties of
        before back (an organisation edited out would send its Update again)."""
        kept = self._orgs.get(agreement_id)
        if kept is None or kept[0] <= version:
            self._orgs[agreement_id] = (version, tuple(orgs))
        self._orgs.move_to_end(agreement_id)
        while len(self._orgs) > self._at_most:
            self._orgs.popitem(last=False)

    def forget(self, agreement_id: str) -> None:
        self._orgs.pop(agreement_id, None)

    def sees(self, agreement_id: str, actor: m.Actor) -> bool:
        """True when `actor` surely sees the agreement: one who sees every agreement, or
        the people of a party this process knows it has (`sees_without_the_ministry_gate`,
        which implies `can_see`). False says nothing: read the row and ask `can_see`."""
        _, orgs = self._orgs.get(agreement_id, (0, ()))
        return lifecycle.sees_without_the_ministry_gate(actor, list(orgs))


KNOWN_PARTIES = KnownParties()
