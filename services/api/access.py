"""Organisation-level permissions of the API: who may manage (and list) what belongs to an
organisation as a whole (its contacts, webhook endpoints and settings), as opposed to
the agreement-level rules, which are the decider's."""

from __future__ import annotations

from services.auth import Principal
from services.errors import Forbidden


def may_manage(principal: Principal, org: str) -> bool:
    """An administrator, or staff of `org` itself."""
    return principal.has_role("admin") or (principal.has_role("staff") and principal.org == org)


def managed_scope(principal: Principal, requested: str | None, refusal: str) -> str | None:
    """Which organisation's items a listing shows: `requested` for an administrator (None:
    every organisation's), their own for staff; anyone else is refused with `refusal`."""
    if principal.has_role("admin"):
        return requested
    if principal.has_role("staff"):
        return principal.org
    raise Forbidden(refusal)
