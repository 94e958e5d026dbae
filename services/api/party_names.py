"""A party's name as people read it, on every page, PDF and report that names the parties.

Since a proposal's unnamed party is recorded with its register name
(`services.store.organisations.apply_defaults`), new agreements carry the official name. An
agreement recorded before that keeps the organisation's id as its party's name, or no name
at all (and a proposal may have given the id as the name). The recorded events never change
(they are the audit trail and Temporal's history), so the name is filled in when it is
shown: where the recorded name is missing or is the organisation's id, the register's.

One register read per page, for every party it shows that needs one, and none at all when
every party is named (every agreement recorded since). The API's JSON keeps the parties as
recorded (`parties[].name`): the OpenAPI promises the recorded party, and a client has the
register (`GET /organisations/{org}`) for the official name."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol, TypeVar

from services.store import register
from services.store.db import Unit
from workflows import messages as m


class Named(Protocol):
    """A party as a page holds it: the agreement's `Party`, a report's `Partner`."""

    @property
    def org(self) -> str: ...

    @property
    def name(self) -> str | None: ...


P = TypeVar("P", bound=m.Party)
Names = dict[str, str]


def unnamed(party: Named) -> bool:
    """Whether the recorded name says nothing the id does not: missing, blank, or the id."""
    name = (party.name or "").strip()
    return not name or name == party.org


async def register_names(unit: Unit, parties: Iterable[Named], lang: str) -> Names:
    """The register's names, in `lang` (English where the register has it, else
    Indonesian), of the `parties` that need one. No statement when none does."""
    return await org_names(unit, {p.org for p in parties if unnamed(p)}, lang)


async def org_names(unit: Unit, orgs: Iterable[str], lang: str) -> Names:
    """The register's names of `orgs`, in `lang`: for a list, which holds its agreements'
    organisations by id only — one statement for the page, none when it has no row."""
    found = await register.names_of(unit, orgs=orgs)
    return {org: (name_en if lang == "en" and name_en else name_id) for org, (name_id, name_en) in found.items()}


def name_of(party: Named, names: Names) -> str | None:
    """The name to show: the recorded one unless it is missing or the id, then the
    register's if it has one (None: the page shows the id)."""
    return names.get(party.org, party.name) if unnamed(party) else party.name


def with_names(parties: Sequence[P], names: Names) -> list[P]:
    """`parties` (copies, never the recorded ones) with the names to show."""
    return [p.model_copy(update={"name": names[p.org]}) if unnamed(p) and p.org in names else p for p in parties]


def named_state(state: m.AgreementState, names: Names) -> m.AgreementState:
    """A copy of `state` for a page to show, its parties named (`name_of`); the state
    itself, untouched, when no party needs a name."""
    if not any(unnamed(p) and p.org in names for p in state.parties):
        return state
    return state.model_copy(update={"parties": with_names(state.parties, names)})


async def named_states(unit: Unit, states: Sequence[m.AgreementState], lang: str) -> list[m.AgreementState]:
    """`states` for pages to show, every party named: one register read for all of them."""
    names = await register_names(unit, (p for s in states for p in s.parties), lang)
    return [named_state(s, names) for s in states] if names else list(states)
