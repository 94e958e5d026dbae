"""Handlers of negotiation and signing: submitting and accepting versions of the step's
document, and signing the agreed version. A step completes when every party has accepted
(or signed) the same version."""

from __future__ import annotations

from workflows import messages as m
from workflows.lifecycle import events as ev
from workflows.lifecycle.access import acting_party
from workflows.lifecycle.emitter import Emitter
from workflows.lifecycle.errors import InvalidProposal, InvalidTransition
from workflows.lifecycle.plan import negotiated_plan_hash
from workflows.lifecycle.reading import agreed_draft, current_step, latest_draft, party_orgs, scope_of
from workflows.procedures import Step


def submit_draft(e: Emitter, cmd: m.SubmitDraft) -> None:
    party = acting_party(e.state, e.actor)
    step = current_step(e.state)
    assert step is not None and step.document is not None
    scope = scope_of(e.state)
    latest = latest_draft(e.state, step.document)
    if latest is not None and latest.document == cmd.document:
        raise InvalidTransition(
            f"Version {latest.version} already holds this document.", stage=e.state.stage, version=latest.version
        )
    version = max((d.version for d in e.state.drafts), default=0) + 1
    # Submitting a version is the submitting party's acceptance of it.
    submitted = ev.DraftSubmitted(
        version=version,
        kind=step.document,  # type: ignore[arg-type]
        document=cmd.document,
        note=cmd.note,
        org=party.org,
        scope=scope,
    )
    bound = negotiated_plan_hash(e.state)
    if bound is not None:  # the version binds the action plan: accepting it accepts the plan (#13)
        submitted.plan_hash = bound
    e.emit(submitted)
    _complete_negotiation_if_agreed(e, step)


def accept_draft(e: Emitter, cmd: m.AcceptDraft) -> None:
    party = acting_party(e.state, e.actor)
    step = current_step(e.state)
    assert step is not None and step.document is not None
    latest = latest_draft(e.state, step.document)
    if latest is None or latest.version != cmd.version:
        raise InvalidTransition(
            f"Only the latest {step.document.upper()} version can be accepted"
            + (f" (version {latest.version})." if latest else "; none was submitted yet."),
            stage=e.state.stage,
            latest_version=latest.version if latest else None,
        )
    if party.org in latest.accepted_by:
        raise InvalidTransition(f"{party.org} has already accepted version {latest.version}.", stage=e.state.stage)
    check_plan_bound(e, latest)
    e.emit(ev.DraftAccepted(version=latest.version, org=party.org))
    _complete_negotiation_if_agreed(e, step)


def check_plan_bound(e: Emitter, draft: m.Draft) -> None:
    """A version commits to the action plan it was submitted with (#13): once the plan has
    changed, that version is submitted anew before anyone accepts or signs it."""
    if draft.plan_hash != negotiated_plan_hash(e.state):
        raise InvalidTransition(
            f"The action plan changed after version {draft.version} was submitted: submit the text again "
            "so that the version binds the plan.",
            stage=e.state.stage,
            version=draft.version,
        )


def _complete_negotiation_if_agreed(e: Emitter, step: Step) -> None:
    assert step.document is not None
    draft = agreed_draft(e.state, step.document)
    if draft is not None:
        e.complete_step_and_enter_next(step.key, version=draft.version)


def sign(e: Emitter, cmd: m.Sign) -> None:
    party = acting_party(e.state, e.actor)
    step = current_step(e.state)
    assert step is not None and step.document is not None
    draft = agreed_draft(e.state, step.document)
    if draft is None or draft.version != cmd.version:
        raise InvalidTransition(
            f"Version {cmd.version} is not the agreed {step.document.upper()}"
            + (f"; sign version {draft.version}." if draft else "."),
            stage=e.state.stage,
            agreed_version=draft.version if draft else None,
        )
    if any(s.org == party.org and s.version == draft.version and s.scope == draft.scope for s in e.state.signatures):
        raise InvalidTransition(f"{party.org} has already signed version {draft.version}.", stage=e.state.stage)
    check_plan_bound(e, draft)
    if cmd.method == "wet_ink" and not cmd.evidence:
        raise InvalidProposal("A wet-ink signature needs the scanned copy as evidence (its sha256).")
    signed_by = cmd.signed_by or party.signatory
    if cmd.delegation is None:
        e.emit(
            ev.DocumentSigned(
                org=party.org,
                version=draft.version,
                kind=draft.kind,
                document=draft.document,
                signed_by=signed_by,
                method=cmd.method,
                evidence=cmd.evidence,
                scope=scope_of(e.state),
            )
        )
    else:  # signed by the official the head delegated to (surat kuasa), letter on record
        e.emit(
            ev.DocumentSigned(
                org=party.org,
                version=draft.version,
                kind=draft.kind,
                document=draft.document,
                signed_by=cmd.delegation.official,
                method=cmd.method,
                evidence=cmd.evidence,
                scope=scope_of(e.state),
                delegation=cmd.delegation,
            )
        )
    signed = {s.org for s in e.state.signatures if s.version == draft.version}
    if set(party_orgs(e.state)) <= signed:
        e.complete_step_and_enter_next(step.key, version=draft.version)
