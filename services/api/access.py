"""Organisation-level permissions of the API: who may manage what belongs to an
organisation as a whole (its contacts, webhook endpoints and settings), as opposed to
the agreement-level rules, which are the decider's."""

from __future__ import annotations

from services.auth import Principal


def may_manage(principal: Principal, org: str) -> bool:
    """An administrator, or staff of `org` itself."""
    return principal.has_role("admin") or (principal.has_role("staff") and principal.org == org)
