"""The command handlers, one module per family of phases.

A handler gets the `Emitter` (state, actor, time) and its command, after `decide` has
checked that the phase accepts the command and that the caller may send it
(`workflows.lifecycle.access`). It checks the rules that depend on the state and the
command's content, raising a `DomainError`, and emits the events that follow.

- `drafting`: the proposal in draft — edit, submit, withdraw — and comments;
- `gates`: gate decisions, returning for changes, termination;
- `negotiation`: drafts, acceptances and signatures;
- `implementation`: evaluations and what their recommendations open, deadline extensions;
- `changes`: amendments and renewals — opening, editing an addendum, withdrawing one;
- `publishing`: a party publishing the signed agreement on the public portal, or taking it back;
- `party_settings`: a region's days off and time zone, changed in the register, reaching the agreement.

`set_dprd_requirement` (a government party's DPRD facts) lives with `drafting`.

The `tick` handler lives with the other time rules in `workflows.lifecycle.schedule`.
"""
