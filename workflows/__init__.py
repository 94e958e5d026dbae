"""Pakta's workflows: the decider, its vocabulary and the durable shell (docs/architecture.md).

Importing the package pins where time zones come from (`workflows.zones`): every process
imports it before it builds a zone."""

from workflows.zones import pin_zone_data

pin_zone_data()
