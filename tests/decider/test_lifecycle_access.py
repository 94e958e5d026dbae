"""Who may do what (`workflows.lifecycle.access`): one permission per command, checked by
`decide` before the handler — except a gate decision, which first says whether the gate
is open at all — with the refusal messages callers have always seen; who sees every
agreement; the version and import checks; and the actions owed (an inbox)."""

from __future__ import annotations

from typing import Any

import pytest

from tests import builders as b
from workflows import lifecycle as L
from workflows import messages as m

STAFF = "Only staff of the initiating organisation"


def refusal(state: m.AgreementState, actor: m.Actor, command: Any) -> L.DomainError:
    with pytest.raises(L.DomainError) as info:
        L.decide(state, command, actor, b.NOW)
    return info.value


def test_every_command_declares_who_may_send_it() -> None:
    assert set(L.PERMISSIONS) == set(m.COMMAND_TYPES)
    assert [t for t, p in L.PERMISSIONS.items() if p.checked_by_handler] == ["decide"]


@pytest.mark.parametrize(
    "stage,command,message",
    [
        ("draft", m.Edit(title="Judul lain"), f"{STAFF} edit the proposal."),
        ("draft", m.Submit(), f"{STAFF} submit the proposal."),
        ("draft", m.Withdraw(reason="x"), f"{STAFF} withdraw the agreement."),
        (
            "penyusunan_ksb",
            m.SubmitDraft(document=b.doc("x")),
            "Only staff or partners of a party's organisation negotiate drafts.",
        ),
        ("penyusunan_ksb", m.AcceptDraft(version=1), "Only staff or partners of a party's organisation accept drafts."),
        (
            "penandatanganan_ksb",
            m.Sign(version=1, method="electronic"),
            "Only a signatory of a party's organisation signs for it.",
        ),
        ("implementation", m.Terminate(reason="x"), "Only staff of a government party propose a termination."),
        ("implementation", m.StartEvaluation(), f"{STAFF} or its scheduler open an evaluation."),
        ("implementation", m.ProposeAmendment(summary="x"), f"{STAFF} propose an amendment."),
        ("implementation", m.Renew(duration_months=12), f"{STAFF} renew an agreement."),
        ("implementation", m.ExtendDeadline(days=1, reason="x"), f"{STAFF} extend deadlines."),
        ("implementation", m.Tick(), "Only the agreement's own timer sends ticks."),
    ],
)
def test_refusals_say_who_may_send_the_command(stage: str, command: Any, message: str) -> None:
    state = b.advance(b.created(), stage)
    # a party's signatory does not negotiate; a party's staff does not sign
    actor = {
        "submit_draft": b.signatory(b.REGION),
        "accept_draft": b.signatory(b.REGION),
        "sign": b.staff(b.REGION),
    }.get(command.type, b.partner(b.REGION))
    error = refusal(state, actor, command)
    assert (type(error), error.message) == (L.NotAllowed, message)
    assert error.details == {"stage": state.stage, "allowed_actions": L.allowed_actions(state, actor, b.NOW)}


def test_comment_report_and_conclusion_refusals() -> None:
    assert refusal(b.created(), b.staff(b.OUTSIDER), m.Comment(text="x")).message == (
        "Only the parties comment on an agreement."
    )
    state, _ = b.run(b.implemented(), b.staff(), m.StartEvaluation())
    assert refusal(state, b.signatory(b.REGION), m.SubmitEvaluationReport(evaluation=1, narrative="x")).message == (
        "Only staff or partners of a party's organisation report on an evaluation."
    )
    assert (
        refusal(
            state, b.partner(b.REGION), m.ConcludeEvaluation(evaluation=1, score=1, recommendation="continue")
        ).message
        == f"{STAFF} conclude an evaluation."
    )


def test_a_gate_says_it_is_not_open_before_who_may_decide_it() -> None:
    state = b.advance(b.created(), "persiapan")
    not_open = refusal(state, b.staff(b.OUTSIDER), m.Decide(gate="legal", outcome="approve"))
    assert (type(not_open), not_open.message) == (L.InvalidTransition, "No 'legal' decision is awaited now.")
    no_holder = refusal(state, b.staff(b.INITIATOR), m.Decide(gate="review", outcome="approve"))
    assert (type(no_holder), no_holder.message) == (
        L.NotAllowed,
        "Deciding the 'review' gate needs an approver holding that gate.",
    )
    other = refusal(state, b.approver(b.OUTSIDER, "review"), m.Decide(gate="review", outcome="approve"))
    assert type(other) is L.NotAllowed and other.message.endswith(", not outsider.")


def test_administrators_auditors_and_the_system_see_every_agreement() -> None:
    """(Issue #9: the platform-wide role is `operator`; an `admin` administers its own
    organisation only.)"""
    assert all(L.sees_every_agreement(a) for a in (b.operator(), b.auditor(), m.SYSTEM))
    assert not any(L.sees_every_agreement(a) for a in (b.staff(), b.approver(b.MINISTRY, "ministry"), b.admin()))
    assert L.can_see(b.created(), b.auditor()) and not L.can_see(b.created(), b.staff(b.OUTSIDER))


def test_a_page_s_agreements_are_judged_each_as_one_agreement_alone_would_be() -> None:
    parties: list[list[str] | None] = [[b.INITIATOR, b.REGION], [b.REGION], [], None, [b.OUTSIDER]]
    actors = (b.staff(), b.staff(b.REGION), b.staff(b.OUTSIDER), b.auditor(), b.operator(), m.SYSTEM, b.admin())
    actors += (b.approver(b.MINISTRY, "ministry"),)
    for actor in actors:
        alone = [L.sees_without_the_ministry_gate(actor, orgs or []) for orgs in parties]
        assert L.seen_without_the_ministry_gate(actor, parties) == alone, actor
    assert L.seen_without_the_ministry_gate(b.staff(), []) == []


def test_only_administrators_import() -> None:
    """Operators import for any organisation; an admin for its own only."""
    L.check_importer(b.operator())
    L.check_importer(b.admin(b.INITIATOR), b.ksdd_proposal())
    for actor in (b.staff(), b.admin(), b.admin(b.REGION)):
        with pytest.raises(L.NotAllowed, match=r"^Only operators, or the initiating organisation's administrator"):
            L.check_importer(actor, b.ksdd_proposal())


def test_a_stale_version_is_refused_with_where_the_agreement_stands() -> None:
    state = b.created()
    L.check_version(state, None, b.staff(), b.NOW)
    L.check_version(state, state.version, b.staff(), b.NOW)
    with pytest.raises(L.StaleVersion) as info:
        L.check_version(state, state.version + 1, b.staff(), b.NOW)
    assert info.value.message == f"The agreement is at version {state.version}, not {state.version + 1}."
    assert info.value.details == {
        "version": state.version,
        "stage": "draft",
        "allowed_actions": ["edit", "submit", "withdraw", "comment", "set_dprd_requirement"],
    }


def test_owed_actions_are_the_allowed_ones_the_agreement_waits_for() -> None:
    assert (
        set(m.COMMAND_TYPES)
        - {
            "comment",
            "edit",
            "withdraw",
            "terminate",
            "extend_deadline",
            "propose_amendment",
            "renew",
            "start_evaluation",
            "tick",
            "edit_change",
            "withdraw_change",
            "set_dprd_requirement",
            # implementation (#13): options, not owed
            "edit_plan",
            "report_progress",
            "record_measurement",
            "settle_obligation",
            "propose_plan_revision",
            "withdraw_plan_revision",
            "schedule_meeting",
            "record_minutes",
            "publish",
            "unpublish",
            "refresh_party_settings",  # the system's
        }
        == L.OWED
    )
    draft = b.created()
    assert L.allowed_actions(draft, b.staff(), b.NOW) == [
        "edit",
        "submit",
        "withdraw",
        "comment",
        "set_dprd_requirement",
    ]
    assert L.owed_actions(draft, b.staff(), b.NOW) == ["submit"]
    assert L.owed_actions(draft, b.partner(b.REGION), b.NOW) == []
    state = b.advance(b.created(), "persiapan")
    slot = L.open_slots(state)[0]
    assert L.owed_actions(state, b.gate_actor(slot), b.NOW) == ["decide"]
    state, _ = b.run(b.implemented(), b.staff(), m.StartEvaluation())
    assert L.owed_actions(state, b.staff(), b.NOW) == ["submit_evaluation_report"]
