"""Organisation-level permissions of the API: who may manage (and list) what belongs to an
organisation as a whole (its contacts, webhook endpoints and settings), as opposed to
the agreement-level rules, which are the decider's."""

from __future__ import annotations

from services.auth import Principal
from services.errors import Forbidden


def may_manage(principal: Principal, org: str) -> bool:
    """Staff or the administrator of `org` itself. An administrator is its own
    organisation's, and no one changes another organisation's contacts, webhook endpoints
    (and their secrets) or settings — not even the platform's operators."""
    return principal.org == org and principal.has_role("admin", "staff")


def may_read(principal: Principal, org: str) -> bool:
    """Who may see what belongs to `org`: those who manage it, and the platform's operators
    (support)."""
    return may_manage(principal, org) or principal.has_role("operator")


def managed_scope(principal: Principal, requested: str | None, refusal: str) -> str | None:
    """Which organisation's items a listing shows: for an operator, `requested` (None: every
    organisation's); for staff and administrators, their own; anyone else is refused."""
    if principal.has_role("operator"):
        return requested
    if principal.has_role("admin", "staff"):
        return principal.org
    raise Forbidden(refusal)
