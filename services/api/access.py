"""Organisation-level permissions of the API: who may manage (and list) what belongs to an
organisation as a whole (its contacts, webhook endpoints and settings, its entry in the
register), as opposed to the agreement-level rules, which are the decider's."""

from __future__ import annotations

from services.auth import Principal
from services.errors import Forbidden
from services.store.register import SELF_KEPT, Entry


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


# The register of organisations (`services.store.register`): its entries are the platform's
# master data, kept by operators; an organisation's administrator keeps its own names and
# contacts, never its level, province, foreignness or overseer (who oversees an organisation
# is not the organisation's to choose).
PLATFORM_KEPT = ("level", "foreign", "province_code", "overseer")


def register_fields(principal: Principal, org: str, current: Entry | None) -> tuple[str, ...]:
    """The fields of `org`'s register entry (`current`; None: not registered yet) that
    `principal` may set: all of them for an operator, the names and contacts for the
    organisation's own administrator once it is registered, none for anyone else."""
    if principal.has_role("operator"):
        return (*SELF_KEPT, *PLATFORM_KEPT)
    if principal.org == org and principal.has_role("admin") and current is not None:
        return SELF_KEPT
    return ()


def check_register_edit(principal: Principal, org: str, current: Entry | None, wanted: Entry) -> None:
    """Refuse (403, naming the field where one is at fault) an edit of `org`'s register
    entry from `current` (None: not registered yet) to `wanted` that `principal` may not make."""
    allowed = register_fields(principal, org, current)
    if not allowed:
        if principal.org == org and principal.has_role("admin"):
            raise Forbidden(
                "An operator registers an organisation; its administrator then keeps its names and contacts."
            )
        raise Forbidden(
            "The register is kept by operators; an organisation's administrator keeps its own names and contacts."
        )
    for field in PLATFORM_KEPT:
        if field not in allowed and getattr(current, field) != getattr(wanted, field):
            raise Forbidden(
                f"An organisation's administrator changes its names and contacts, not its {field}: operators keep it.",
                field=field,
            )
