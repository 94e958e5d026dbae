"""Handlers of coordination meetings: scheduling one with the parties invited and an
agenda, recording its minutes (notulen) with the decisions that become action items, and
completing an action item. docs/implementation.md."""

from __future__ import annotations

from workflows import messages as m
from workflows.lifecycle import events as ev
from workflows.lifecycle import plan as p
from workflows.lifecycle.access import acting_party
from workflows.lifecycle.bounds import next_number
from workflows.lifecycle.emitter import Emitter
from workflows.lifecycle.errors import InvalidProposal, InvalidTransition, NotAllowed
from workflows.lifecycle.reading import party_orgs


def schedule_meeting(e: Emitter, cmd: m.ScheduleMeeting) -> None:
    party = acting_party(e.state, e.actor)
    strangers = sorted(set(cmd.participants) - set(party_orgs(e.state)))
    if strangers:
        raise InvalidProposal(
            f"Only the parties are invited to a coordination meeting; not: {', '.join(strangers)}.",
            field="participants",
        )
    if cmd.at <= e.now:
        raise InvalidProposal("A meeting is scheduled ahead of time.", field="at")
    participants = list(dict.fromkeys(cmd.participants))
    e.emit(
        ev.MeetingScheduled(
            number=next_number(e.state.meetings),
            title=cmd.title,
            at=cmd.at.isoformat(),
            place=cmd.place,
            participants=participants,
            agenda=list(cmd.agenda),
            org=party.org,
        )
    )


def record_minutes(e: Emitter, cmd: m.RecordMinutes) -> None:
    """The minutes of a meeting held, by a party that took part (or organised it); each
    decision becomes an action item of its owner party, due within the term."""
    party = acting_party(e.state, e.actor)
    meeting = next((x for x in e.state.meetings if x.number == cmd.meeting), None)
    if meeting is None:
        raise InvalidProposal(f"There is no meeting {cmd.meeting}.", field="meeting")
    if party.org not in meeting.participants and party.org != meeting.org:
        raise NotAllowed(f"Only a party that took part in meeting {meeting.number} records its minutes.")
    if meeting.at > e.now:
        raise InvalidTransition(f"Meeting {meeting.number} has not been held yet.", at=meeting.at.isoformat())
    if meeting.minutes is not None:
        raise InvalidTransition(f"The minutes of meeting {meeting.number} are on record already.")
    term = p.term_of(e.state)
    items = []
    for i, decision in enumerate(cmd.decisions):
        if decision.party not in party_orgs(e.state):
            raise InvalidProposal(f"{decision.party} is no party.", field=f"decisions.{i}.party")
        if not term[0] <= decision.due_on <= term[1]:
            raise InvalidProposal("An action item is due within the agreement's term.", field=f"decisions.{i}.due_on")
        items.append(
            m.ActionItem(
                id=f"M{meeting.number}-{i + 1}",
                meeting=meeting.number,
                text=decision.text,
                party=decision.party,
                due_on=decision.due_on,
            )
        )
    e.emit(ev.MinutesRecorded(meeting=meeting.number, document=cmd.document, org=party.org, action_items=items))


def complete_action_item(e: Emitter, cmd: m.CompleteActionItem) -> None:
    party = acting_party(e.state, e.actor)
    item = next((x for x in e.state.action_items if x.id == cmd.item), None)
    if item is None:
        raise InvalidProposal(f"There is no action item {cmd.item}.", field="item")
    if party.org != item.party:
        raise NotAllowed(f"Only staff or partners of {item.party}, its owner, complete action item {item.id}.")
    if item.done_at is not None:
        raise InvalidTransition(f"Action item {item.id} is done already.")
    e.emit(ev.ActionItemCompleted(item=item.id, note=cmd.note, evidence=list(cmd.evidence), org=party.org))
