"""The handler of a region's settings reaching its agreements: `refresh_party_settings`.

The organisation's days off and time zone live in the register (its settings); an agreement
copies them into its party when it is created, and lives for years. When the organisation
changes them, the system sends this command to each of its open agreements
(`services/worker/activities/portfolio.py`), so the change is an event of each agreement's
history: the decider never reads the register. Due dates already recorded stay; what is
decided after — due dates, reminders, openings, escalations and the mail's office hours —
counts with the new days.
"""

from __future__ import annotations

from workflows import messages as m
from workflows.lifecycle import events as ev
from workflows.lifecycle.emitter import Emitter
from workflows.lifecycle.errors import InvalidTransition, SettingsSuperseded, SettingsUnchanged


def refresh_party_settings(e: Emitter, cmd: m.RefreshPartySettings) -> None:
    party = next((p for p in e.state.parties if p.org == cmd.org), None)
    if party is None:
        raise InvalidTransition(f"'{cmd.org}' is no party to this agreement.", org=cmd.org)
    taken = e.state.party_settings_as_of.get(cmd.org)
    if cmd.as_of is not None and taken is not None and cmd.as_of < taken:
        # Read from the register before the settings the party took: sent late by a sender
        # that read them before a change whose own sender came first.
        raise SettingsSuperseded(f"'{cmd.org}' already has newer settings from the register.", org=cmd.org)
    # None: the register states nothing of it, and the party keeps what it has (a value a
    # proposal gave, or the default).
    days_off = sorted(set(cmd.days_off)) if cmd.days_off is not None else list(party.days_off)
    time_zone = cmd.time_zone if cmd.time_zone is not None else party.time_zone
    if set(days_off) == set(party.days_off) and time_zone == party.time_zone:
        raise SettingsUnchanged(f"'{cmd.org}' already has these days off and this time zone.", org=cmd.org)
    # The register's version only when sent: the event records no key for it otherwise.
    as_of = {"as_of": cmd.as_of} if cmd.as_of is not None else {}
    e.emit(ev.PartySettingsChanged(org=cmd.org, days_off=days_off, time_zone=time_zone, **as_of))
