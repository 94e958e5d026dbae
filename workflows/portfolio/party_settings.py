"""PartySettingsWorkflow: brings one organisation's changed settings (its days off and time
zone) to the open agreements it is party to, as `party-settings-<org>`.

The API starts it, abandoned, once `PUT /organisations/{org}/settings` has committed; a newer
change replaces a run still going (the activity reads the settings afresh on every page, so
the newest are the ones sent either way). Each page is one activity (`refresh_party_settings`):
the agreements, after the last one done, whose party differs from the settings, each sent the
system's `refresh_party_settings` command. Their histories record the change; this workflow
records nothing of its own but its progress. A run that is lost (the API died after the
commit, or the activity ran out of retries) is made good by the nightly reconciliation,
which sends the same command to every open agreement that still differs.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.contracts import portfolio as c


@workflow.defn(name=c.PARTY_SETTINGS_WORKFLOW)
class PartySettingsWorkflow:
    @workflow.run
    async def run(self, input: c.PartySettingsInput) -> c.RefreshCounts:
        p = input.model_copy(deep=True)
        pages = 0
        while True:
            if pages >= p.pages_per_run or workflow.info().is_continue_as_new_suggested():
                workflow.continue_as_new(p)
            pages += 1
            page: c.RefreshPartySettingsResult = await workflow.execute_activity(
                c.REFRESH_PARTY_SETTINGS,
                c.RefreshPartySettingsInput(org=p.org, after_id=p.after_id, limit=p.page_size),
                result_type=c.RefreshPartySettingsResult,
                start_to_close_timeout=c.PORTFOLIO_PAGE_TIMEOUT,
                heartbeat_timeout=c.PORTFOLIO_HEARTBEAT,
                retry_policy=c.PORTFOLIO_RETRY,
            )
            t = p.totals
            t.sent, t.unchanged = t.sent + page.counts.sent, t.unchanged + page.counts.unchanged
            t.refused, t.failed = t.refused + page.counts.refused, t.failed + page.counts.failed
            p.after_id = page.after_id
            if page.after_id is None:
                workflow.logger.info(
                    "party settings of %s brought: sent=%d unchanged=%d refused=%d failed=%d",
                    *(p.org, t.sent, t.unchanged, t.refused, t.failed),
                )
                return p.totals
