"""docs/lifecycle.md lists every event type the decider emits, and README.md's tour names
every command `POST /agreements/{id}/actions` takes: what a webhook receiver or an API
client reads about them is all there is. No servers.
"""

from __future__ import annotations

import re
import typing
from pathlib import Path

from workflows import messages as m
from workflows.lifecycle.events import EVENT_PAYLOADS

ROOT = Path(__file__).resolve().parents[2]


def test_the_events_section_lists_every_event_type():
    text = (ROOT / "docs" / "lifecycle.md").read_text()
    section = text[text.index("## Events") :]
    listed = section[: section.index("\n\nSince issue #10")]
    names = set(re.findall(r"^- [^:]+: (.*?)(?=^- |\Z)", listed, flags=re.MULTILINE | re.DOTALL))
    events = {event for part in names for event in re.findall(r"`([a-z_]+)`", part)}
    assert events == set(EVENT_PAYLOADS)


def public_command_types() -> set[str]:
    union = typing.get_args(typing.get_args(m.Command)[0])
    return {typing.get_args(model.model_fields["type"].annotation)[0] for model in union}


def test_the_tour_names_every_command_the_api_takes():
    readme = (ROOT / "README.md").read_text()
    tour = readme[readme.index("POST /agreements/{id}/actions") : readme.index("GET  /agreements/{id}/action-plan")]
    words = set(re.findall(r"[a-z_]+", tour.replace("propose/accept/withdraw_plan_revision", "")))
    words |= {f"{verb}_plan_revision" for verb in ("propose", "accept", "withdraw")}
    commands = public_command_types()
    assert len(commands) > 20
    assert commands - words == set()
    assert {"tick", "refresh_party_settings"} & words == set(), "system commands are not the API's"
