"""The handler of a region's settings reaching its agreements: `refresh_party_settings`.

The organisation's days off and time zone live in the register (its settings); an agreement
copies them into its party when it is created, and lives for years. When the organisation
changes them, the system sends this command to each of its open agreements
(`services/worker/activities/portfolio.py`), so the change is an event of each agreement's
history: the decider never reads the register. What is decided after — due dates,
reminders, openings, escalations and the mail's office hours — counts with the new days;
the running due dates counted in days of service are counted again from their start and
move later when the new days give one more (`deadline_recounted`, never earlier).

A new national calendar edition counts them again the same way (`recount_at_new_edition`),
at the first decision after it takes effect, whatever the command (`deciding.decided`).
"""

from __future__ import annotations

from datetime import date, datetime

from workflows import messages as m
from workflows import timeline as t
from workflows.lifecycle import events as ev
from workflows.lifecycle.emitter import Emitter
from workflows.lifecycle.errors import InvalidTransition, SettingsSuperseded, SettingsUnchanged
from workflows.lifecycle.reading import counted_with, open_evaluations, recounted_due, zone


def refresh_party_settings(e: Emitter, cmd: m.RefreshPartySettings) -> None:
    party = next((p for p in e.state.parties if p.org == cmd.org), None)
    if party is None:
        raise InvalidTransition(f"'{cmd.org}' is no party to this agreement.", org=cmd.org)
    taken = e.state.party_settings_as_of.get(cmd.org)
    if cmd.as_of is not None and taken is not None and cmd.as_of < taken:
        # Read from the register before the settings the party took: sent late by a sender
        # that read them before a change whose own sender came first.
        raise SettingsSuperseded(f"'{cmd.org}' already has newer settings from the register.", org=cmd.org)
    days_off, time_zone = _settings_sent(party, cmd)
    unchanged = set(days_off) == set(party.days_off) and time_zone == party.time_zone
    # A run recorded before the version alone was (`e.unchanged_settings_refused`) refused
    # equal values whatever their version, and replays so.
    if unchanged and (e.unchanged_settings_refused or not _newer(cmd.as_of, taken)):
        raise SettingsUnchanged(f"'{cmd.org}' already has these days off and this time zone.", org=cmd.org)
    # The register's version only when sent: the event records no key for it otherwise.
    as_of = {"as_of": cmd.as_of} if cmd.as_of is not None else {}
    # Unchanged values under a newer version are recorded too (the version alone moves): the
    # register went A → B → A while B never reached the party, and a sender that read B in
    # between (the night's page, a prompt of B on another worker) may still be on its way.
    # Its B is older than this A, so once A's version is recorded it is refused as
    # superseded; left at A's first version, B was newer and taken, and the party kept B
    # until the next night. Whatever order the senders arrive in, the party ends at the
    # register's last version: the last change's prompt reads it after its commit and sends
    # it to every party not yet at that version (`organisations._STALE_OF_ORG`), and every
    # send read before it is older. A version already taken, sent again, records nothing.
    e.emit(ev.PartySettingsChanged(org=cmd.org, days_off=days_off, time_zone=time_zone, **as_of))
    if cmd.recount and not unchanged:
        recount_due_dates(e, cmd.org)


def settings_version_alone(state: m.AgreementState, command: m.AnyCommand) -> bool:
    """Whether `command` brings a party the days off and time zone it has, under a newer
    version of the register than the one it took (or none taken): what has been recorded as
    the version alone since `trust17`, and refused as unchanged before (the workflow asks
    Temporal which rule its run was recorded with only then, `e.unchanged_settings_refused`)."""
    if command.type != "refresh_party_settings":
        return False
    party = next((p for p in state.parties if p.org == command.org), None)
    if party is None:
        return False
    days_off, time_zone = _settings_sent(party, command)
    unchanged = set(days_off) == set(party.days_off) and time_zone == party.time_zone
    return unchanged and _newer(command.as_of, state.party_settings_as_of.get(command.org))


def settings_version_alone_after_new_values(
    seen: m.AgreementState | None, state: m.AgreementState, command: m.AnyCommand
) -> bool:
    """Whether `command` is the version alone on `state` (`settings_version_alone`) but
    brought the party new values on `seen`, the state its validator decided on: the one
    refresh a run recorded before `trust17` can hold refused by its handler. Its validator
    refused equal values then, so a refresh reached the handler as the version alone only
    when the state changed in between (two prompts of one organisation in flight). A version
    alone whose validator saw it as such was refused by the validator before `trust17` (no
    history) and recorded since, by a handler that asked no patch: it is recorded on replay
    too, whatever the run's markers."""
    if seen is None or command.type != "refresh_party_settings" or not settings_version_alone(state, command):
        return False
    party = next((p for p in seen.parties if p.org == command.org), None)
    if party is None:
        return False
    days_off, time_zone = _settings_sent(party, command)
    return set(days_off) != set(party.days_off) or time_zone != party.time_zone


def _settings_sent(party: m.Party, cmd: m.RefreshPartySettings) -> tuple[list[date], str]:
    """The days off and zone `cmd` gives `party`. None: the register states nothing of it,
    and the party keeps what it has (a value a proposal gave, or the default)."""
    days_off = sorted(set(cmd.days_off)) if cmd.days_off is not None else list(party.days_off)
    time_zone = cmd.time_zone if cmd.time_zone is not None else party.time_zone
    return days_off, time_zone


def _newer(as_of: datetime | None, taken: datetime | None) -> bool:
    """A register version sent that is newer than the one the party took (None sent: a
    sender from before versions, never newer)."""
    return as_of is not None and (taken is None or as_of > taken)


def recount_due_dates(e: Emitter, org: str) -> None:
    """Count each running due date again with the days as they now stand
    (`reading.recounted_due`), and move it when it falls later: a day off added inside the
    window gives one more day of service, as the regulation counts. Never earlier: a day off
    taken back, or a zone with an earlier close, must not shorten the time people were
    told they have and planned on. A date already past stays (it lapsed and was escalated);
    so does one the count would carry beyond the last date an agreement may hold."""
    _recount(e, None, {"org": org})


def recount_at_new_edition(e: Emitter) -> None:
    """The first decision at or after a newer national edition's `effective_from` counts
    each running due date counted with an older one again, whole, with the edition in force
    now (a new year's collective leave, a holiday moved by decree): later only, as above.
    Prepended to whatever the decision is about, so its rules see the dates as counted now.
    A date that does not move records nothing (and is counted again at the next decision,
    to the same answer).

    "A date already past stays" means past when the edition took effect, not when the
    decision comes: a date that lapsed at or after `effective_from` with no decision since
    (`updated_at`, the last event's moment) was never decided on as it stood, so no
    escalation of it is recorded — an asleep agreement's timer at that very date, a command
    racing it, the night's prompt after a worker's outage. It is counted again too, so the
    decision at its date takes the day the edition gives instead of escalating a step the
    calendar in force still allows."""
    newest = t.edition_at(e.now)
    for key in running_count_keys(e.state):
        count = e.state.due_counts.get(key)
        if count is None or counted_with(count) is newest:
            continue
        _recount(e, newest, {"reason": "national_calendar", "edition": newest.number}, keys=[key])


def running_count_keys(state: m.AgreementState) -> list[str]:
    return ["step", *(f"evaluation:{x.number}" for x in open_evaluations(state))]


def _recount(e: Emitter, edition: t.Edition | None, why: dict[str, object], keys: list[str] | None = None) -> None:
    for key in keys if keys is not None else running_count_keys(e.state):
        due = recounted_due(e.state, key, edition)
        if due is None:
            continue
        recorded = e.state.due_counts[key].due
        if _lapsed_before_the_change(e, recorded, edition) or due <= recorded:
            continue
        if t.local_day(due, zone(e.state)) > m.LATEST_DATE:
            continue
        data: dict[str, object] = {"deadline": "step", **why}
        if key != "step":  # which evaluation's reports (unset for a step, as in `deadline_extended`)
            data.update(deadline="evaluation_report", evaluation=int(key.removeprefix("evaluation:")))
        data.update(due_at=due.isoformat(), previous_due_at=recorded.isoformat())
        e.emit(ev.DeadlineRecounted.model_validate(data))


def _lapsed_before_the_change(e: Emitter, recorded: datetime, edition: t.Edition | None) -> bool:
    """Whether the date `recorded` lapsed before the change that counts it again: a party's
    new days take effect now, so a date past now stays; a newer edition took effect at its
    `effective_from`, so a date that lapsed since, with no decision since
    (`e.state.updated_at`), counts with it too (`recount_at_new_edition`)."""
    if recorded > e.now:
        return False
    if edition is None:
        return True
    return recorded < edition.effective_from or recorded <= e.state.updated_at
