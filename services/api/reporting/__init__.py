"""Reports upward (issue #13, docs/reports.md): `report` assembles an organisation's report
for a period from the read model, `basis` names the legal basis it follows, `plan_progress`
reads the progress of action plans from an agreement's recorded state, `table` writes the
report as CSV. The routes (`services.api.routes.reports`) and the web page
(`services.api.web.reports`) only call these."""
