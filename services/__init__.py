"""Pakta's services: the edges (API, worker), what they share, the entry points.

`workflows` is imported first: it pins where every process reads its time zones from
(`workflows.zones`), before any of them builds one."""

import workflows as _workflows  # noqa: F401
