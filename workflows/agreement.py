"""AgreementWorkflow: the durable shell around the decider, one per agreement.

Commands arrive through the `act` Update. Its validator runs `decide`, so a refused command
never reaches history and the API can answer at once; the handler decides again under a
lock (another update may have landed in between), records the events through the
`record_events` local activity — which also plans their notifications in the same
transaction (inbox rows, and an outbox of email and webhook deliveries the worker's
dispatcher sends) — and returns a small `Receipt`: the API reads its own write from the read
model and builds the caller's snapshot there. One Update, one record, one notification plan
per transition: no child workflow per command, and the timer of the next wake-up is kept
while a command leaves it where it was. The workflow continues as new when Temporal suggests
it, carrying the state, so an agreement that lives ten years keeps a short history.

Runs started before these changes replay as they ran, behind one
`workflow.patched("notify-outbox")` (each patch costs its run a marker and an upsert of
TemporalChangeVersion): before it, a NotifyWorkflow child per recorded batch and the timer
restarted after every command. Evaluation periods on the effective date's day of the month
came behind `workflow.patched("evaluation-periods-anchored")`, asked only by agreements in
force from the 29th-31st (the only ones whose periods it changes); expiry reminders that fell
before the amendment or renewal setting the end date left out, behind
`workflow.patched("expiry-reminders-after-the-change")`, asked once an end date has moved.
Running due dates counted again when a newer national calendar edition takes effect came
behind `workflow.patched("deadlines-follow-national-editions")`, asked only by a decision
that finds one counted with an older edition. One due date's extensions bounded in number
came behind `workflow.patched("extensions-bounded")`, asked only by a handler deciding an
extension of a date that holds as many as the bound. A party's settings version recorded
alone (values it has, under a newer version of the register) came behind
`workflow.patched("settings-version-alone")`, asked only by a handler deciding such a refresh.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date, datetime, timedelta

from pydantic import BaseModel, ConfigDict
from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    # The decider computes office hours in each party's zone: it needs the real ZoneInfo,
    # which the sandbox otherwise hands out as a restricted proxy.
    import zoneinfo  # noqa: F401

    # Messages first, by full name, so the host's module is passed through (a `from
    # workflows import x` of a module not loaded yet gets a fresh sandbox copy): the
    # decider below and the contracts then share the host's message classes.
    import workflows.messages as m
    from workflows import lifecycle
    from workflows.contracts import notify as notify_contract
    from workflows.contracts import records, search

# Notifications are planned by the recording, in its transaction, instead of by a child
# NotifyWorkflow per batch; and a command that leaves the next wake-up in place keeps its timer.
NOTIFY_OUTBOX = "notify-outbox"

# Evaluation periods on the effective date's day of the month (`timeline.add_period`): runs
# that ticked before it stepped each period from the last, clamped, and replay so.
PERIODS_ANCHORED = "evaluation-periods-anchored"
# Reminders of an end date that fell before the amendment or renewal setting it are moot
# (`lifecycle.end_date_set_at`): runs that moved an end date before it sent them, and replay so.
EXPIRY_REMINDERS_AFTER_CHANGE = "expiry-reminders-after-the-change"
# A running due date counted with an older national edition than the one in force is counted
# again at the first decision after the newer one takes effect (`lifecycle.decided`'s
# `recount_editions`). A patch rather than a field the sender sets: ticks are this
# workflow's own, and any public command may be the first decision after the edition. Runs
# that decided past an edition without it (none in production: an edition takes effect a
# week after the release that carries it) replay without the recount.
DEADLINES_FOLLOW_EDITIONS = "deadlines-follow-national-editions"
# One more extension of a due date that holds `EXTENSIONS_PER_DUE_DATE` is refused
# (`lifecycle.extensions_at_bound`). Runs recorded before the bound may hold more, each
# accepted then: replayed, each is taken again, or the run records nothing where its history
# holds a recording — a nondeterminism error that stops the agreement. Only the update's
# handler asks, at the bound: the validator refuses there for every run (a refusal records
# nothing), so a live handler reaches the bound only when another command came in between.
EXTENSIONS_BOUNDED = "extensions-bounded"
# A refresh bringing a party the values it has under a newer register version records the
# version alone (`lifecycle.settings_version_alone`); before, it was refused as unchanged
# whatever its version. The validator refused it then too, so it reached a handler only when
# the state changed in between (two prompts of one organisation in flight, the register
# going Z → X → Y → X: both validated on Z, the second handled after the first recorded X),
# and such a run holds a failed update and no recording. Replayed without this patch, the
# handler would record the version alone there: a nondeterminism error that stops the
# agreement. Only the update's handler asks, and only for such a refresh; its answer counts
# only where the validator saw new values (`lifecycle.settings_version_alone_after_new_values`):
# a version alone its validator saw as such was recorded, with no marker, by every run since
# `trust17` — refused for want of a marker, those runs would replay to the same error
# (review18). The validator decides with today's rule (it records nothing, and never runs
# on replay).
SETTINGS_VERSION_ALONE = "settings-version-alone"

# How much of a chain hash a receipt carries as `follows`: enough to tell the one state the
# API read from any other, at 17 bytes of history per command instead of 65.
FOLLOWS_DIGITS = 16


class AgreementInput(BaseModel):
    """Start a new agreement from a proposal, or carry `state` across continue-as-new."""

    model_config = ConfigDict(extra="forbid")

    agreement_id: str
    proposal: m.Proposal | None = None
    imported: m.ImportRecord | None = None  # an agreement signed before Pakta
    actor: m.Actor | None = None
    fingerprint: str | None = None
    state: m.AgreementState | None = None
    # When the API accepted the request. The decider's clock for the creation, so that a
    # workflow task retried after a crash computes the very same events (see `ActInput.at`).
    requested_at: datetime | None = None
    # The audit trail's hash after each recorded batch (last seq -> hash), as the recording
    # returned it: carried across continue-as-new, it anchors the trail outside the database.
    heads: dict[int, str] | None = None
    # Continue as new after this many commands in one run, besides Temporal's suggestion
    # (which comes at thousands of events); small values let tests exercise the hand-over.
    commands_per_run: int | None = None


class ActInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    command: m.AnyCommand
    actor: m.Actor
    expected_version: int | None = None
    # When the API received the command: the decider's `now` for it. A workflow task that is
    # retried (a worker died after recording, before completing the task) then decides the
    # same events with the same times, and recording them again is a no-op — with
    # `workflow.now()` the retry would stamp new times and conflict with what was recorded.
    at: datetime | None = None


class Receipt(BaseModel):
    """What `act`, `ready` and `resync` return: which recorded state the caller's command
    led to. The API builds the caller's snapshot itself (or from its read model: the
    recording committed before the Update completed), so history keeps a few bytes, not
    the snapshot. Extra fields are ignored: a snapshot from a worker of before reads as a
    receipt."""

    model_config = ConfigDict(extra="ignore")

    id: str  # the agreement's
    version: int
    seq: int = 0
    # `act` only: the audit trail's hash (its first 16 hex digits) after the state the
    # command was decided on. The API read that state's row (`head_hash`) before sending the
    # command; when the two agree, the workflow decided on exactly the state the API holds,
    # so the API's own decision of the same request — the decider is pure — gives the
    # events just recorded, and the new state without reading it back. None: a worker of
    # before, or a state whose hash this run does not know.
    follows: str | None = None


def workflow_id(agreement_id: str) -> str:
    return f"agreement-{agreement_id}"


def domain_failure(error: lifecycle.DomainError, version: int | None = None) -> ApplicationError:
    """The one way a refusal leaves the workflow: an ApplicationError whose type is the
    error code and whose first detail carries the HTTP status and the explanation — and the
    agreement's version as the workflow knows it (the API compares it with its read model)."""
    details = {"status": error.status, "code": error.code, "message": error.message, **error.details}
    if version is not None:
        details.setdefault("version", version)
    return ApplicationError(
        error.message,
        details,
        type=error.code,
        non_retryable=True,
    )


def recording_failure(error: ActivityError | ApplicationError) -> ApplicationError:
    """A batch the database refused for good, as the caller's error: a value it cannot
    store (422), or an audit trail that disagrees with this history (409). (A local
    activity's failure arrives as the activity's own ApplicationError, a remote one's as
    an ActivityError around it.)"""
    cause = error.cause if isinstance(error, ActivityError) else error
    refused_value = isinstance(cause, ApplicationError) and cause.type == "recording_refused"
    status, code, message = (
        (422, "unrecordable", "A value of this command cannot be stored; nothing was changed.")
        if refused_value
        else (409, "record_conflict", "The command could not be recorded; nothing was changed.")
    )
    return ApplicationError(
        message, {"status": status, "code": code, "message": message}, type=code, non_retryable=True
    )


@workflow.defn(name="AgreementWorkflow")
class AgreementWorkflow:
    @workflow.init
    def __init__(self, input: AgreementInput) -> None:
        self._state: m.AgreementState | None = input.state
        self._lock = asyncio.Lock()
        self._commands = 0
        self._notifications: list[asyncio.Task[object]] = []
        self._commands_per_run = input.commands_per_run
        self._heads: dict[int, str] = dict(input.heads or {})
        self._wakeup: tuple[int, datetime | None] | None = None  # (seq, next wake-up) cache
        # Whether this run sends the expiry reminders of a moved end date as runs of before
        # did; asked of Temporal once an end date has moved (`_ask_once_the_end_moved`).
        self._legacy_expiry_reminders = False
        self._asked_expiry_reminders = False
        # Whether this run recounts due dates at a new national edition: Temporal's answer
        # to DEADLINES_FOLLOW_EDITIONS, once asked (`_recounts_editions`).
        self._follows_editions: bool | None = None
        # Whether this run takes extensions past the bound, as runs recorded before it did:
        # Temporal's answer to EXTENSIONS_BOUNDED, negated, once asked (`_extensions_unbounded`).
        self._unbounded_extensions: bool | None = None
        # Whether this run refuses a party's settings version alone, as runs recorded before
        # it did: Temporal's answer to SETTINGS_VERSION_ALONE, negated, once asked
        # (`_unchanged_settings_refused`).
        self._refuses_version_alone: bool | None = None
        # What the validator decided for the request it accepted, as (request, state, now,
        # recount_editions, decision): the handler that runs right after it takes the
        # decision instead of deciding again (`_decided`).
        self._validated: tuple[ActInput, m.AgreementState, datetime, bool, lifecycle.Decision] | None = None

    @workflow.run
    async def run(self, input: AgreementInput) -> m.AgreementState:
        if self._state is None:
            assert input.actor is not None
            try:
                if input.imported is not None:
                    record = input.imported
                    effective = max(record.proposal.start_date, record.signed_on)
                    events = lifecycle.import_agreement(
                        record,
                        input.actor,
                        input.requested_at or workflow.now(),
                        input.agreement_id,
                        input.fingerprint,
                        legacy_periods=not self._periods_anchored(effective),
                    )
                else:
                    assert input.proposal is not None
                    events = lifecycle.create(
                        input.proposal,
                        input.actor,
                        input.requested_at or workflow.now(),
                        input.agreement_id,
                        input.fingerprint,
                    )
            except lifecycle.DomainError as error:
                raise domain_failure(error) from None
            async with self._lock:
                await self._record(events)
        self._ask_once_the_end_moved()
        while not (self._closed() or self._should_continue_as_new()):
            await self._wait_for_time_or_change()
        while True:
            await workflow.wait_condition(lambda: workflow.all_handlers_finished() and not self._lock.locked())
            # Deliveries are child workflows that outlive this run; only their start must
            # land. Waiting for it yields, and an update may slip in: check both again.
            starting = [task for task in self._notifications if not task.done()]
            if not starting:
                break
            await asyncio.gather(*starting)
        assert self._state is not None
        if not self._closed():
            workflow.continue_as_new(
                AgreementInput(
                    agreement_id=self._state.id,
                    state=self._state,
                    commands_per_run=self._commands_per_run,
                    heads=self._heads,
                )
            )
        return self._state

    # ------------------------------------------------------------ time

    async def _wait_for_time_or_change(self) -> None:
        if workflow.patched(NOTIFY_OUTBOX):
            await self._wait_for_time_or_new_wakeup()
        else:
            await self._wait_for_time_or_any_change()

    async def _wait_for_time_or_new_wakeup(self) -> None:
        """Sleep until the decider's next notice falls due, or until a recording moves it.
        A command that leaves it where it was keeps the same timer (a cancelled and restarted
        timer is three history events per command). Timers are durable: a worker restart or
        a continue-as-new loses none of them, as the next wake-up is recomputed from state."""
        wake = self._next_wakeup()

        def moved() -> bool:
            return self._closed() or self._should_continue_as_new() or self._next_wakeup() != wake

        await self._sleep_until(wake, moved)

    async def _wait_for_time_or_any_change(self) -> None:
        """As runs before "notify-outbox" waited: until the next notice, or any new state."""
        state = self._require_state()
        legacy = self._legacy_expiry_reminders
        version, wake = state.version, lifecycle.next_wakeup(state, legacy_expiry_reminders=legacy)

        def changed() -> bool:
            return self._closed() or self._should_continue_as_new() or self._require_state().version != version

        await self._sleep_until(wake, changed)

    async def _sleep_until(self, wake: datetime | None, changed: Callable[[], bool]) -> None:
        if wake is None:
            await workflow.wait_condition(changed)
            return
        delay = (wake - workflow.now()).total_seconds()
        if delay > 0:
            try:
                await workflow.wait_condition(changed, timeout=timedelta(seconds=delay))
                return
            except TimeoutError:
                pass
        if not await self._tick(wake):
            # The decider and its wake-up disagree: wait for the next command rather than
            # spin (a spinning workflow task would fail and be retried forever).
            workflow.logger.warning("Nothing due at the planned wake-up %s", wake)
            await workflow.wait_condition(changed)

    def _next_wakeup(self) -> datetime | None:
        """The decider's next wake-up for the current state, computed once per recording."""
        state = self._require_state()
        if self._wakeup is None or self._wakeup[0] != state.seq:
            legacy = self._legacy_expiry_reminders
            self._wakeup = (state.seq, lifecycle.next_wakeup(state, legacy_expiry_reminders=legacy))
        return self._wakeup[1]

    def _ask_once_the_end_moved(self) -> None:
        """Once an amendment or renewal has moved the end date, ask whether this run keeps
        the expiry reminders that fell before the change moot — a run that moved it before
        sent them, and must replay so. Asked only then, so other runs record no marker."""
        state = self._state
        if self._asked_expiry_reminders or state is None or lifecycle.end_date_set_at(state) is None:
            return
        self._asked_expiry_reminders = True
        self._legacy_expiry_reminders = not workflow.patched(EXPIRY_REMINDERS_AFTER_CHANGE)

    def _recounts_editions(self, state: m.AgreementState, now: datetime, *, validating: bool = False) -> bool:
        """Whether a decision at `now` counts running due dates again at a newer national
        edition. Asked of Temporal only when one was counted with an older edition than the
        one in force at `now`, so other runs record no marker. A validator may not ask (it
        records nothing, and never runs on replay): it takes the answer this run already
        has, or the one a first ask gives outside a replay — yes."""
        if not lifecycle.counts_behind_edition(state, now):
            return False
        if self._follows_editions is None:
            if validating:
                return True
            self._follows_editions = workflow.patched(DEADLINES_FOLLOW_EDITIONS)
        return self._follows_editions

    def _extensions_unbounded(self, state: m.AgreementState, command: m.AnyCommand) -> bool:
        """Whether the handler deciding `command` on `state` takes an extension past the
        bound (EXTENSIONS_BOUNDED): asked of Temporal only for an extension of a date at the
        bound, so other runs record no marker; on replay of a run recorded before the bound,
        no marker — yes."""
        if command.type != "extend_deadline" or not lifecycle.extensions_at_bound(state):
            return False
        if self._unbounded_extensions is None:
            self._unbounded_extensions = not workflow.patched(EXTENSIONS_BOUNDED)
        return self._unbounded_extensions

    def _unchanged_settings_refused(
        self, validated_on: m.AgreementState | None, state: m.AgreementState, command: m.AnyCommand
    ) -> bool:
        """Whether the handler deciding `command` on `state` refuses a party's settings
        version alone (SETTINGS_VERSION_ALONE): asked of Temporal only for a refresh that
        brings the party its own values under a newer version, so other runs record no
        marker; on replay of a run recorded before the version alone, no marker — yes, but
        only where its validator, on `validated_on`, saw new values. A version alone its validator
        saw as such is recorded whatever the answer: every run since `trust17` recorded it
        with no marker. The question is still asked there: a run recorded by the code that
        asked at every version alone holds a marker at it, and a marker no code asks for
        at its place is a nondeterminism error too."""
        if not lifecycle.settings_version_alone(state, command):
            return False
        if self._refuses_version_alone is None:
            self._refuses_version_alone = not workflow.patched(SETTINGS_VERSION_ALONE)
        if not lifecycle.settings_version_alone_after_new_values(validated_on, state, command):
            return False
        return self._refuses_version_alone

    def _periods_anchored(self, effective: date) -> bool:
        """Whether evaluation periods fall on the effective date's day of the month. Asked
        of Temporal only where the answer matters — an effective date after the 28th, the
        only ones a short month clamps — so other runs record no patch marker for it."""
        return effective.day <= 28 or workflow.patched(PERIODS_ANCHORED)

    async def _tick(self, wake: datetime) -> bool:
        """Time has reached `wake`: decide what is due as of then. The planned wake-up, not
        the clock, is the tick's time, so a retried task decides the same events."""
        async with self._lock:
            try:
                state = self._require_state()
                legacy = state.effective_date is not None and not self._periods_anchored(state.effective_date)
                tick = m.Tick(legacy_periods=legacy, legacy_expiry_reminders=self._legacy_expiry_reminders)
                now = self._clock(wake)
                recount = self._recounts_editions(state, now)
                decision = lifecycle.decided(state, tick, m.SYSTEM, now, recount_editions=recount)
            except lifecycle.DomainError:
                return False
            try:
                await self._record(*decision)
            except ApplicationError as error:
                workflow.logger.error("Time's events could not be recorded: %s", error.message)
                return False
            return True

    # ------------------------------------------------------------ commands

    @workflow.update
    async def act(self, request: ActInput) -> Receipt:
        # The state the validator decided on, read again on replay where no validator runs:
        # a handler starts in the activation its validator ran in, before any other task's
        # recording resumes (each sets the state only after its local activity returns).
        validated_on = self._state
        async with self._lock:
            state = self._require_state()
            now = self._clock(request.at or workflow.now())
            try:
                decision = self._decided(request, state, now, validated_on)
            except lifecycle.DomainError as error:
                raise domain_failure(error, state.version) from None
            follows = self._heads.get(state.seq)
            await self._record(*decision)
            self._commands += 1
            return self._receipt().model_copy(update={"follows": follows[:FOLLOWS_DIGITS] if follows else None})

    def _decided(
        self, request: ActInput, state: m.AgreementState, now: datetime, validated_on: m.AgreementState | None
    ) -> lifecycle.Decision:
        """`lifecycle.decided` of the request, or what the validator decided of an equal
        request (the SDK decodes the handler's arguments afresh), the same state and time —
        the decider is pure, so the events and the state after them are the same ones. On
        replay no validator runs and the handler decides, to the same events."""
        validated, self._validated = self._validated, None
        recount = self._recounts_editions(state, now)
        # The validator decided with the bound (it refuses at it): a decision it accepted on
        # this state never reached the bound, so this asks nothing then.
        unbounded = self._extensions_unbounded(state, request.command)
        # The validator decided with today's rule: what it took as new values and the handler
        # finds the version alone is recorded so only if the run records it so.
        refused = self._unchanged_settings_refused(validated_on, state, request.command)
        if validated is not None and not unbounded and not refused:
            seen, seen_state, seen_now, seen_recount, decision = validated
            if seen_state is state and seen_now == now and seen == request and seen_recount == recount:
                return decision
        command, actor, expected = request.command, request.actor, request.expected_version
        return lifecycle.decided(
            state,
            command,
            actor,
            now,
            expected,
            recount_editions=recount,
            extensions_unbounded=unbounded,
            unchanged_settings_refused=refused,
        )

    @act.validator
    def validate_act(self, request: ActInput) -> None:
        self._validated = None
        if self._state is None:
            raise ApplicationError("The agreement is still being created.", type="not_ready")
        if not lifecycle.can_see(self._state, request.actor):
            raise ApplicationError(
                "Agreement not found.",
                {"status": 404, "code": "not_found", "message": "Agreement not found."},
                type="not_found",
                non_retryable=True,
            )
        now = self._clock(request.at or workflow.now())
        recount = self._recounts_editions(self._state, now, validating=True)
        command, actor, expected = request.command, request.actor, request.expected_version
        try:
            decision = lifecycle.decided(self._state, command, actor, now, expected, recount_editions=recount)
        except lifecycle.DomainError as error:
            raise domain_failure(error, self._state.version) from None
        self._validated = (request, self._state, now, recount, decision)

    @workflow.update
    async def resync(self, actor: m.Actor) -> Receipt:
        """Record nothing new, but bring the read model and audit trail back to this history:
        rows a task wrote that history does not hold (the stack died between recording and
        completing the task, or Temporal lost its last writes) are superseded and the state is
        projected again. The API asks for it when its read model is ahead of the workflow."""
        async with self._lock:
            await self._record([])
            return self._receipt()

    @resync.validator
    def validate_resync(self, actor: m.Actor) -> None:
        if self._state is None or not lifecycle.can_see(self._state, actor):
            raise ApplicationError(
                "Agreement not found.",
                {"status": 404, "code": "not_found", "message": "Agreement not found."},
                type="not_found",
                non_retryable=True,
            )

    @workflow.update
    async def ready(self, actor: m.Actor) -> Receipt:
        """Returns once the creation is recorded: `POST /agreements` answers with it."""
        await workflow.wait_condition(lambda: self._state is not None and not self._lock.locked())
        return self._receipt()

    # ------------------------------------------------------------ queries

    @workflow.query
    def state(self) -> m.AgreementState | None:
        return self._state

    @workflow.query
    def heads(self) -> dict[int, str]:
        """The audit trail's hash after each batch this workflow recorded (last seq -> hash):
        Temporal's history witnesses them, whatever the database says later."""
        return self._heads

    @workflow.query
    def snapshot(self, actor: m.Actor) -> m.Snapshot | None:
        if self._state is None:
            return None
        return lifecycle.snapshot(self._state, actor, workflow.now())

    # ------------------------------------------------------------ helpers

    def _recorder(self) -> records.Recorder:
        """Who records: this run at its current history length, in the task started at
        `workflow.now()`. A later task records as newer: a longer history, or — when the task
        before left no trace in history (lost with the server, or a retried failing task) —
        the same length but a later start."""
        info = workflow.info()
        return records.Recorder(
            run_id=info.run_id,
            history_length=info.get_current_history_length(),
            continued_run_id=info.continued_run_id,
            task_started_at=workflow.now(),
        )

    def _receipt(self) -> Receipt:
        state = self._require_state()
        return Receipt(id=state.id, version=state.version, seq=state.seq)

    def _require_state(self) -> m.AgreementState:
        assert self._state is not None
        return self._state

    def _clock(self, moment: datetime) -> datetime:
        """Time never runs backwards in an agreement's history, whatever the request says."""
        return max(moment, self._require_state().updated_at)

    def _should_continue_as_new(self) -> bool:
        limit = self._commands_per_run
        return workflow.info().is_continue_as_new_suggested() or (limit is not None and self._commands >= limit)

    def _follows(self, events: list[m.Event]) -> str | None:
        """The audit-trail hash `events` follow, if this run knows it: its last recording's
        head, or — for the agreement's very first events — the start of a trail."""
        if self._state is not None:
            return self._heads.get(self._state.seq)
        return records.CHAIN_START if events and events[0].seq == 1 else None

    def _closed(self) -> bool:
        return self._state is not None and self._state.stage in m.TERMINAL_STAGES

    async def _record(self, events: list[m.Event], after: m.AgreementState | None = None) -> None:
        """Evolve, then persist before anyone can see the new state: the read model, the
        audit chain and the workflow never disagree about what was accepted. `after`: the
        state the decider already reached by evolving these very events from the current
        state (`lifecycle.decided`), so they are not applied twice."""
        state = after
        if state is None:
            state = self._state
            for event in events:
                state = lifecycle.evolve(state, event)
        assert state is not None
        # Asked once per run (Temporal remembers the answer): runs that started children
        # before the outbox keep doing so until they continue as new.
        outbox = bool(events) and workflow.patched(NOTIFY_OUTBOX)
        try:
            recorded = await workflow.execute_local_activity(
                records.RECORD_EVENTS,
                records.RecordEventsInput(
                    state=state,
                    events=events,
                    recorder=self._recorder(),
                    plan_notifications=outbox,
                    # Not part of the history's commands (a local activity's input is not
                    # compared on replay): no patch needed, and a wrong head only costs the
                    # recording its longer path.
                    follows=self._follows(events),
                ),
                result_type=records.RecordEventsResult,
                start_to_close_timeout=records.RECORD_EVENTS_TIMEOUT,
                retry_policy=records.RECORD_EVENTS_RETRY,
            )
        except (ActivityError, ApplicationError) as error:
            # Only a refusal for good reaches here (a lost database is retried until it is
            # back). The state is left as it was and the lock is released on the way out,
            # so the agreement takes its next command; the caller is told this one failed.
            raise recording_failure(error) from None
        self._state = state
        self._ask_once_the_end_moved()
        self._heads[state.seq] = recorded.head
        self._notifications = [task for task in self._notifications if not task.done()]
        if events and not outbox:
            self._notifications.append(asyncio.create_task(self._notify(events, state)))
        self._index(state)

    def _index(self, state: m.AgreementState) -> None:
        """Keep the search attributes the run started with (if any) true to the state; an
        upsert only when one of them changed, since each is a history event."""
        current = workflow.info().typed_search_attributes
        if current.get(search.STAGE) is None:
            return  # started without them: the namespace may not know them
        wanted = search.attributes_of(state)
        changed = [pair.key.value_set(pair.value) for pair in wanted if current.get(pair.key) != pair.value]
        if changed:
            workflow.upsert_search_attributes(changed)

    async def _notify(self, events: list[m.Event], state: m.AgreementState) -> object:
        return await workflow.start_child_workflow(
            notify_contract.NOTIFY_WORKFLOW,
            notify_contract.NotifyInput(agreement_id=state.id, events=events, state=state),
            id=notify_contract.notify_workflow_id(state.id, events[0].seq),
            parent_close_policy=ParentClosePolicy.ABANDON,
        )
