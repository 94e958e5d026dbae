"""Every refusal an action or a form on the agreement's pages can meet is worded by its code in
Indonesian and English (`services.api.web.refusal_words`, issue #11, branch left18): the codes
walked from the decider's refusals, the API's kinds of error and the codes the action's path
gives where it raises one. No server: the words and the translator only."""

from __future__ import annotations

import ast
import inspect
import string
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest
from temporalio.exceptions import ApplicationError

import services.api.app  # noqa: F401  (every module of the API, so every kind of error it raises)
from services.api import actions, commands, document_access, idempotency, proposals
from services.api.web import refusal_words
from services.api.web.i18n import Translator
from services.errors import PaktaError
from workflows import agreement, lifecycle  # noqa: F401  (the decider's refusals)
from workflows.lifecycle.errors import DomainError

# The modules an action or a form of the agreement's pages goes through, which give a code
# where they raise (`code="…"`) rather than by a kind of error.
ON_THE_WAY: tuple[ModuleType, ...] = (actions, commands, document_access, idempotency, proposals)


def _kinds(root: type) -> Iterator[type]:
    yield root
    for kind in root.__subclasses__():
        yield from _kinds(kind)


def _codes_given(module: ModuleType) -> set[str]:
    tree = ast.parse(inspect.getsource(module))
    return {
        node.value.value
        for node in ast.walk(tree)
        if isinstance(node, ast.keyword)
        and node.arg == "code"
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    }


def codes_an_agreement_form_can_meet() -> set[str]:
    codes = {kind.code for kind in _kinds(PaktaError)} | {kind.code for kind in _kinds(DomainError)}
    for module in ON_THE_WAY:
        codes |= _codes_given(module)
    # The workflow's refusals of a recording (its codes are chosen, not given by keyword).
    for cause in ("recording_refused", "anything_else"):
        refused = agreement.recording_failure(ApplicationError("refused", type=cause))
        codes.add(str(refused.type))
    return codes


CODES = sorted(codes_an_agreement_form_can_meet())


def test_the_walk_finds_the_decider_s_the_workflow_s_and_the_api_s_codes():
    for code in ("invalid_transition", "too_many_extensions", "agreement_too_large", "stale_version"):
        assert code in CODES
    for code in ("unrecordable", "record_conflict", "command_failed", "temporal_unavailable", "unknown_document"):
        assert code in CODES
    for code in ("not_found", "precondition_failed", "idempotency_key_reused", "invalid_if_match"):
        assert code in CODES


@pytest.mark.parametrize("code", CODES)
def test_every_code_an_agreement_form_can_meet_has_indonesian_and_english_words(code: str):
    words = refusal_words.REFUSALS.get(code)
    assert words is not None, f"{code}: no words in services/api/web/refusal_words.py"
    assert words["id"].strip() and words["en"].strip()
    assert words["id"] != words["en"], code
    fields = [{name for _, name, _, _ in string.Formatter().parse(words[lang]) if name} for lang in ("id", "en")]
    assert fields[0] == fields[1], code  # the same figures in both


def test_the_words_hold_no_code_nothing_raises():
    assert set(refusal_words.REFUSALS) <= set(CODES)


def _refusal(code: str, message: str = "The rule's own English words.", **details: Any) -> PaktaError:
    refused = PaktaError(message, code=code, status=409, details=details)
    refused.message = message  # as given, even empty (the constructor puts its kind's default)
    return refused


@pytest.mark.parametrize("code", CODES)
def test_the_indonesian_page_reads_each_code_in_indonesian_and_the_english_page_its_english_words(code: str):
    indonesian, english = Translator("id", "Asia/Jakarta"), Translator("en", "Asia/Jakarta")
    refused = _refusal(code, stage="draft")
    shown = indonesian.refusal(refused)
    sentence = refusal_words.REFUSALS[code]["id"]
    figured = "{" in sentence
    if figured:  # worded from figures the details lack: as the rule broken it is
        sentence = refusal_words.REFUSALS["invalid_proposal"]["id"]
    assert shown.startswith(sentence), shown
    assert shown != refused.message
    if code in refusal_words.NAMES_ITS_RULE:  # the particulars kept, marked as the rule's English
        assert shown.endswith("Rincian aturan (dalam bahasa Inggris): “The rule's own English words.”"), shown
        assert "Tahap perjanjian saat ini: Draf." in shown
    elif not figured:
        assert "The rule's own English words." not in shown
    if code in refusal_words.NAMES_ITS_RULE or figured:  # the rule's own words, as the Indonesian quotes them
        assert english.refusal(refused) == refused.message
    else:  # the sentence the Indonesian page translates, not a message that may say less
        assert english.refusal(refused) == refusal_words.REFUSALS[code]["en"]
    without_message = english.refusal(_refusal(code, message=""))  # a replayed refusal's may be empty
    assert without_message == refusal_words.REFUSALS["invalid_proposal" if figured else code]["en"]


def test_a_refusal_worded_from_its_figures_reads_them_in_either_language_without_the_api_s_message():
    too_large = _refusal(
        "agreement_too_large",
        message="This would make the agreement's record 530 KB ...",
        size=530 * 1024,
        limit=512 * 1024,
        largest=[{"field": "measurements", "bytes": 400 * 1024}, {"field": "meetings", "bytes": 100 * 1024 + 1}],
    )
    assert (
        Translator("id", "UTC")
        .refusal(too_large)
        .startswith(
            "Tindakan ini akan membuat catatan perjanjian menjadi 530 KB, melebihi batasnya 512 KB; tidak ada yang "
            "diubah. Bagian terbesarnya: measurements (400 KB), meetings (101 KB)."
        )
    )
    assert (
        Translator("en", "UTC")
        .refusal(too_large)
        .startswith(
            "This would make the agreement's record 530 KB, over its limit of 512 KB; nothing was changed. "
            "Its largest parts: measurements (400 KB), meetings (101 KB)."
        )
    )
    extended = _refusal("too_many_extensions", message="This due date has been extended 60 times ...", limit=60)
    assert Translator("id", "UTC").refusal(extended) == (
        "Tenggat ini sudah diperpanjang 60 kali, batas untuk satu tenggat; tidak ada yang diubah."
    )


def test_the_english_page_warns_as_the_indonesian_does_that_an_action_may_have_been_recorded():
    """Fails on `8f344fa`: the English page read the API's message ("The workflow service is
    unavailable; try again."), the Indonesian its sentence — which alone said to reload first,
    for the action may have been recorded: an English reader retried it blindly."""
    refused = PaktaError("The workflow service is unavailable; try again.", code="temporal_unavailable", status=503)
    english = Translator("en", "Asia/Jakarta").refusal(refused)
    indonesian = Translator("id", "Asia/Jakarta").refusal(refused)
    assert "may have been recorded" in english and "mungkin sudah tercatat" in indonesian
