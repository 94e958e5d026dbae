"""The search attributes of agreement workflows, so an operator filters them in the
Temporal UI and CLI (`temporal workflow list --query "PaktaStage='signing'"`).

The namespace must have them registered: `pakta dev` passes them to its dev server, the
tests' servers register them, and a cluster needs `temporal operator search-attribute
create` once (README, "Search attributes"). The API starts an agreement workflow with them
(unless `PAKTA_TEMPORAL_SEARCH_ATTRIBUTES` is off); the workflow upserts them only when one
changes (each upsert is a history event), and never on a run started without them — so a
namespace without them, or an agreement started before them, works as before.
"""

from __future__ import annotations

from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes

from workflows import lifecycle
from workflows.messages import AgreementState

ORGS = SearchAttributeKey.for_keyword_list("PaktaOrgs")  # the party organisations
KIND = SearchAttributeKey.for_keyword("PaktaKind")
STAGE = SearchAttributeKey.for_keyword("PaktaStage")
STEP = SearchAttributeKey.for_keyword("PaktaStep")  # the current step's key; "" between steps
KEYS = (ORGS, KIND, STAGE, STEP)


def attributes_of(state: AgreementState) -> TypedSearchAttributes:
    step = lifecycle.current_step(state)
    return TypedSearchAttributes(
        [
            SearchAttributePair(ORGS, sorted(set(lifecycle.party_orgs(state)))),
            SearchAttributePair(KIND, state.kind),
            SearchAttributePair(STAGE, state.stage),
            SearchAttributePair(STEP, step.key if step is not None else ""),
        ]
    )


def dev_server_flags() -> list[str]:
    """`--search-attribute` arguments registering them on `temporal server start-dev`."""
    flags: list[str] = []
    for key in KEYS:
        flags += ["--search-attribute", f"{key.name}={CLI_TYPES[key.name]}"]
    return flags


# Their types as the `temporal` CLI names them (`--search-attribute`, `--type`).
CLI_TYPES = {ORGS.name: "KeywordList", KIND.name: "Keyword", STAGE.name: "Keyword", STEP.name: "Keyword"}
