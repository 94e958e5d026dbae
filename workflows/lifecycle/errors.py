"""The refusals of the decider.

A command the lifecycle refuses raises a `DomainError`; its `status` and `code` follow the
API's error contract, so the API and the workflow translate refusals without knowing the
rule that refused. `details` say where the agreement stands and what the caller may do
instead (`decide` adds the stage and the caller's allowed actions to every refusal).
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A command the lifecycle refuses. `status` follows the API's contract."""

    status = 409
    code = "invalid_transition"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidTransition(DomainError):
    """Not possible in the agreement's current state (409)."""

    status, code = 409, "invalid_transition"


class NotAllowed(DomainError):
    """Possible now, but not for this caller (403)."""

    status, code = 403, "forbidden"


class StaleVersion(DomainError):
    """The caller decided on an older version of the agreement (412)."""

    status, code = 412, "stale_version"


class InvalidProposal(DomainError):
    """The content of the command breaks a rule of the regulations (422)."""

    status, code = 422, "invalid_proposal"


class NothingDue(InvalidTransition):
    """A tick came before anything was due."""

    code = "nothing_due"


class SettingsUnchanged(InvalidTransition):
    """A party already has the settings a refresh brings: nothing to record (the same
    settings sent again, by the prompt and the nightly reconciliation alike)."""

    code = "settings_unchanged"


class SettingsSuperseded(InvalidTransition):
    """A refresh read from the register before the one the party already took (a night's
    page read just before a change whose prompt came first): nothing to record, the newer
    settings stand."""

    code = "settings_superseded"
