"""Every Pakta process reads its time zones from the pinned `tzdata` package, never from the
host's zone files (issue #11, branch zones15; `workflows.zones`). A host whose zone data
differs (another Debian tzdata, an `apt upgrade` on a worker) must not change a due date the
decider computes, nor what a saved history replays: the decider runs again on every replay.

Each test runs a process of its own whose host zone path (`PYTHONTZPATH`) holds a doctored
zone file for each Indonesian zone: Tokyo's rules (UTC+9) under Jakarta's, Makassar's and
Jayapura's names. Zones it lacks come from `tzdata` either way. That `tzdata` is the release
constraints.txt pins is tests/stack/test_constraints.py's."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from importlib import resources
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from temporalio.worker import Worker

from services.api.commands import execute_act
from services.store import queries
from services.worker.registry import WORKFLOWS, activities, workflow_runner
from tests.workflows.test_agreement_workflow import STAFF, ksdpk
from workflows import messages as m
from workflows import timeline as t
from workflows.agreement import ActInput, AgreementInput, AgreementWorkflow, workflow_id

ROOT = Path(__file__).resolve().parents[2]
INDONESIAN = ("Asia/Jakarta", "Asia/Pontianak", "Asia/Makassar", "Asia/Ujung_Pandang", "Asia/Jayapura")


@pytest.fixture
def doctored_host(tmp_path: Path) -> dict[str, str]:
    """The environment of a process whose host zone files give Indonesia Tokyo's rules."""
    tokyo = resources.files("tzdata.zoneinfo").joinpath("Asia/Tokyo").read_bytes()
    for name in INDONESIAN:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(tokyo)
    return {**os.environ, "PYTHONTZPATH": str(tmp_path)}


def run(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


# 09:00 on 1 March 2027 in each zone, as the decider counts it: WIB, WITA, WIT.
ASKED = """
from datetime import date
from workflows import timeline as t
for zone in ("Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura"):
    print(t.office_time(date(2027, 3, 1), zone).isoformat())
"""


@pytest.mark.parametrize(
    "entry",
    ["services.cli", "services.api.app", "services.worker.main", "workflows.lifecycle", "bench.run"],
)
def test_a_host_with_other_zone_files_does_not_move_the_deciders_office_hours(
    doctored_host: dict[str, str], entry: str
) -> None:
    """Whichever entry a process starts from (the `pakta` command, the API, the worker and
    dispatcher, the decider alone as the decider's tests use it, the benchmark)."""
    done = run(doctored_host, "-c", f"import {entry}\n{ASKED}")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [
        "2027-03-01T02:00:00+00:00",
        "2027-03-01T01:00:00+00:00",
        "2027-03-01T00:00:00+00:00",
    ]


def test_the_doctored_zone_files_are_what_an_unpinned_process_reads(doctored_host: dict[str, str]) -> None:
    """The fixture does doctor what `zoneinfo` reads when nothing pins it (else the test
    above would pass for nothing)."""
    done = run(
        doctored_host,
        "-c",
        "from datetime import datetime; from zoneinfo import ZoneInfo as Z\n"
        "print(datetime(2027, 3, 1, 9, tzinfo=Z('Asia/Jakarta')).utcoffset())",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "9:00:00"


def test_saved_histories_replay_the_same_events_on_a_host_with_other_zone_files(doctored_host: dict[str, str]) -> None:
    """The workflows run in the worker's sandbox (`services.worker.registry.workflow_runner`),
    which passes `zoneinfo` through: the replays that compare each recording's events with
    what the old code recorded pass on such a host too."""
    done = run(
        doctored_host,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "tests/workflows/test_agreement_before_the_patches.py",
        "tests/workflows/test_agreement_workflow.py::test_saved_histories_replay_on_current_code",
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


GONE = "Asia/Atlantis"  # spelled as a zone, known to no tzdata release


@pytest.mark.asyncio(loop_scope="session")
async def test_an_agreement_recorded_with_a_zone_no_longer_known_takes_commands_on_a_real_worker(
    time_skipping_env, settings, sessionmaker, task_queue
):
    """Its parties' zone (one a later tzdata dropped, say) is read from the workflow's input
    and its events without the edge's check, the decider counts its due date as Jakarta's,
    and the read model holds the zone as recorded. Before: the worker could not read the
    input, and the workflow task failed and was retried without end."""
    proposal = ksdpk()
    proposal = proposal.model_copy(
        update={"parties": [p.model_copy(update={"time_zone": GONE}) for p in proposal.parties]}
    )
    agreement_id = str(uuid.uuid4())
    async with Worker(
        time_skipping_env.client,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        workflow_runner=workflow_runner(),
        activities=activities(settings, sessionmaker),
    ):
        client = time_skipping_env.client
        await client.start_workflow(
            AgreementWorkflow.run,
            AgreementInput(agreement_id=agreement_id, proposal=proposal, actor=STAFF),
            id=workflow_id(agreement_id),
            task_queue=task_queue,
        )
        handle = client.get_workflow_handle(workflow_id(agreement_id))
        async with asyncio.timeout(60):
            await handle.execute_update(AgreementWorkflow.ready, STAFF)
            receipt = await execute_act(client, agreement_id, ActInput(command=m.Submit(), actor=STAFF))
            snapshot = await handle.query(AgreementWorkflow.snapshot, STAFF)
    assert (snapshot.version, receipt.version) == (2, 2) and snapshot.stage == "review"
    due = snapshot.deadlines["step"]
    assert due.astimezone(ZoneInfo("Asia/Jakarta")).time() == t.OFFICE_CLOSE  # the end of a WIB office day
    async with sessionmaker() as session:
        record = await queries.get_agreement(session, agreement_id=agreement_id)
    assert record is not None and record.state.deadlines == {"step": due}
    assert {p.time_zone for p in record.state.parties} == {GONE}
