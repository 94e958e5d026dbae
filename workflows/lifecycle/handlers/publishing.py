"""Handlers of the public portal's decisions (#12): a party publishes the signed agreement,
marking which of its signed documents are public, or takes its publication back.

Which phases accept them is `TRANSITIONS`' (the agreement is signed: implementation, a
running amendment or renewal, a pending termination); who may send them is `PERMISSIONS`'
(staff of a party's organisation, for that party). What stays private never depends on
this decision: `services/api/web/public.py` shows public fields only.
"""

from __future__ import annotations

from workflows import messages as m
from workflows.lifecycle import events as ev
from workflows.lifecycle.access import publishing_party
from workflows.lifecycle.emitter import Emitter
from workflows.lifecycle.errors import InvalidProposal, InvalidTransition
from workflows.lifecycle.reading import publication_of, signed_documents


def publish(e: Emitter, cmd: m.Publish) -> None:
    org = publishing_party(e.state, e.actor).org
    documents = list(dict.fromkeys(cmd.documents))  # in the order given, once each
    unknown = [sha for sha in documents if sha not in signed_documents(e.state, org)]
    if unknown:
        raise InvalidProposal(
            "Only the agreement's signed texts and your organisation's own signing evidence can be made public.",
            field="documents",
            documents=unknown,
        )
    earlier = publication_of(e.state, org)
    if earlier is not None and earlier.documents == documents:
        raise InvalidTransition("Your organisation already publishes this agreement with these documents.")
    e.emit(ev.AgreementPublished(org=org, documents=documents))


def unpublish(e: Emitter, cmd: m.Unpublish) -> None:
    org = publishing_party(e.state, e.actor).org
    if publication_of(e.state, org) is None:
        raise InvalidTransition("Your organisation does not publish this agreement.")
    if cmd.reason is None:
        e.emit(ev.AgreementUnpublished(org=org))
    else:
        e.emit(ev.AgreementUnpublished(org=org, reason=cmd.reason))
