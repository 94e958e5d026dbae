"""Reports upward over the API (`GET /reports/upward`, `/reports/upward.csv`) on the real
PostgreSQL: agreements decided by the decider and recorded as the workflow records them,
then reported for a regency and a period — in force, new, ended by kind and partner sector,
evaluations, problems, foreign cooperation, the legal basis — and read only by the regency,
its province (by the register of organisations) and operators; and the province's roll-up
of every regency and city it oversees."""

from __future__ import annotations

import csv
import io
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest
import pytest_asyncio

from services.api.app import create_app
from services.auth import mint_token
from services.settings import Settings
from services.store import queries, register
from services.store.db import create_engine, create_sessionmaker, session_scope
from tests.builders import NOW, happy_step, partner, party, proposal, replay, run, staff
from tests.fixtures.api import app_client
from tests.provinces import unused_province
from workflows import lifecycle as L
from workflows import messages as m

pytestmark = pytest.mark.asyncio(loop_scope="session")
PERIOD = {"from": "2027-01-01", "to": "2027-06-30"}


@dataclass
class Region:
    regency: str
    province: str
    client: httpx.AsyncClient
    settings: Settings
    ids: dict[str, str]

    @property
    def tag(self) -> str:
        return self.regency.removeprefix("kab-")

    def token(self, org: str, *roles: str) -> dict[str, str]:
        token = mint_token(self.settings, sub=f"{roles[0]}@{org}", org=org, roles=roles, gates=())
        return {"Authorization": f"Bearer {token}"}

    async def report(self, reader: str, *roles: str, **params: str) -> httpx.Response:
        """The report as `reader`'s staff (or other roles) ask for it."""
        return await self.client.get("/reports/upward", params={**PERIOD, **params}, headers=self.token(reader, *roles))


def signed(prop: m.Proposal, agreement_id: str) -> tuple[m.AgreementState, list[m.Event]]:
    lead = next(p.org for p in prop.parties if p.role == "initiator")
    events = L.create(prop, staff(lead), NOW, agreement_id)
    state = replay(events)
    while state.stage != "implementation":
        state, more = happy_step(state, NOW)
        events += more
    return state, events


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def region(settings: Settings) -> AsyncIterator[Region]:
    """A regency overseen by its province, with four agreements of its own: a PKS with a
    university evaluated (its report late, the regency's missing), a KSDD with its province terminated, a
    cooperation with a foreign company, and a proposal never signed; one more of another
    organisation."""
    tag = uuid.uuid4().hex[:8]
    kab, prov = f"kab-{tag}", f"prov-{tag}"
    ids = {name: f"agr-{name}-{tag}" for name in ("academia", "province", "foreign", "draft", "other")}
    batches: list[tuple[m.AgreementState, list[m.Event]]] = []

    state, events = signed(
        proposal([party(kab, "initiator"), party(f"univ-{tag}", sector="academia")], "ksdpk"), ids["academia"]
    )
    state, opened = run(state, staff(kab), m.StartEvaluation(), NOW + timedelta(days=40))
    after_due = state.evaluations[0].due_at + timedelta(days=2)
    state, reported = run(
        state,
        partner(f"univ-{tag}"),
        m.SubmitEvaluationReport(evaluation=1, narrative="Terlambat", results=[]),
        after_due,
    )
    state, concluded = run(
        state,
        staff(kab),
        m.ConcludeEvaluation(evaluation=1, score=55, recommendation="expand", summary="Perluas ke puskesmas lain"),
        after_due,
    )
    opened += reported
    batches.append((state, events + opened + concluded))

    state, events = signed(proposal([party(kab, "initiator"), party(prov)], "ksdd"), ids["province"])
    ending = NOW + timedelta(days=60)
    state, terminating = run(state, staff(kab), m.Terminate(reason="Anggaran tidak tersedia"), ending)
    while state.stage != "terminated":
        state, more = happy_step(state, ending)
        terminating += more
    batches.append((state, events + terminating))

    batches.append(
        signed(
            proposal(
                [party(kab, "initiator"), party(f"corp-{tag}", sector="industry", foreign=True, signatory="CEO")],
                "ksdll",
            ),
            ids["foreign"],
        )
    )
    draft = L.create(
        proposal([party(kab, "initiator"), party(f"media-{tag}", sector="media")], "ksdpk"),
        staff(kab),
        NOW,
        ids["draft"],
    )
    batches.append((replay(draft), draft))
    batches.append(signed(proposal([party(f"kota-{tag}", "initiator"), party(prov)], "ksdd"), ids["other"]))

    code = unused_province()
    engine = create_engine(settings)
    async with session_scope(create_sessionmaker(engine)) as session:
        for state, events in batches:
            await queries.append_events(session, state=state, events=events)
        # Who oversees whom is the register's: the regency and the city are in the province.
        for entry in (
            register.Entry(org=prov, name_id=f"Pemerintah Provinsi {tag}", level="province", province_code=code),
            register.Entry(org=kab, name_id=f"Pemerintah Kabupaten {tag}", level="regency", province_code=code),
            register.Entry(org=f"kota-{tag}", name_id=f"Pemerintah Kota {tag}", level="city", province_code=code),
            register.Entry(org=f"bpk-{tag}", name_id="Badan Pengawas", level="agency"),
        ):
            await register.put(session, entry=entry, updated_by="operator@pakta")
    await engine.dispose()
    async with app_client(create_app(settings)) as client:
        yield Region(regency=kab, province=prov, client=client, settings=settings, ids=ids)


async def test_a_regency_reports_what_came_into_force_ended_and_went_wrong_in_the_period(region: Region):
    resp = await region.report(region.regency, "staff")
    assert resp.status_code == 200, resp.text
    report = resp.json()
    ids = region.ids
    # in the order they took effect (the same day here, then by id)
    assert [a["id"] for a in report["agreements"]] == [ids["academia"], ids["foreign"], ids["province"]]
    summary = report["summary"]
    assert summary["in_force"]["total"] == summary["new"]["total"] == 3
    assert summary["new"]["by_kind"] == {"ksdd": 1, "ksdpk": 1, "ksdpl": 0, "ksdll": 1}
    assert summary["new"]["by_partner_sector"] == {
        "government": 1,
        "industry": 1,
        "academia": 1,
        "community": 0,
        "media": 0,
    }
    assert summary["ended"]["total"] == 1 and summary["ended"]["by_partner_sector"]["government"] == 1
    ended = next(a for a in report["agreements"] if a["id"] == ids["province"])
    assert ended["ended_as"] == "terminated" and ended["termination_reason"] == "Anggaran tidak tersedia"
    assert ended["ended_on"] == (NOW + timedelta(days=60)).date().isoformat()

    [evaluation] = report["evaluations"]
    assert (evaluation["agreement_id"], evaluation["score"], evaluation["recommendation"]) == (
        ids["academia"],
        55,
        "expand",
    )
    assert evaluation["missing_reports"] == [region.regency]  # concluded without the regency's own
    assert evaluation["late_reports"] == [f"univ-{region.regency.removeprefix('kab-')}"]
    assert report["recommendations"] == {"continue": 0, "expand": 1, "stop": 0}
    kinds = {(p["agreement_id"], p["kind"]) for p in report["problems"]}
    assert {
        (ids["academia"], "evaluation_report_missing"),
        (ids["academia"], "evaluation_report_late"),
        (ids["province"], "termination_requested"),
        (ids["province"], "terminated"),
    } <= kinds
    assert report["foreign_cooperation"] == [ids["foreign"]]
    assert report["reports_to"] == {
        "org": region.province,
        "name": f"Pemerintah Provinsi {region.tag}",
        "office": "governor",
        "derived": True,
    }
    assert report["name"] == f"Pemerintah Kabupaten {region.tag}"
    bases = " ".join(b["basis"] for b in report["legal_basis"])
    assert "UU 23/2014 art. 368(1)" in bases and "PP 28/2018 art. 44(3)" in bases
    assert [b["topic"] for b in report["legal_basis"]][-1] == "format"  # said plainly: not fixed
    assert any(b["topic"] == "foreign_affairs" for b in report["legal_basis"])


async def test_a_period_before_anything_was_signed_reports_nothing(region: Region):
    resp = await region.report(region.regency, "admin", **{"from": "2025-01-01", "to": "2025-12-31"})
    assert resp.status_code == 200, resp.text
    report = resp.json()
    assert report["agreements"] == [] and report["summary"]["in_force"]["total"] == 0
    assert report["problems"] == [] and report["evaluations"] == []


async def test_the_year_after_the_termination_reports_only_what_stayed_in_force(region: Region):
    resp = await region.report(region.regency, "staff", **{"from": "2028-01-01", "to": "2028-12-31"})
    report = resp.json()
    assert {a["id"] for a in report["agreements"]} == {region.ids["academia"], region.ids["foreign"]}
    assert report["summary"]["new"]["total"] == report["summary"]["ended"]["total"] == 0


async def test_the_province_reads_its_regencys_report_and_reports_to_the_minister(region: Region):
    resp = await region.report(region.province, "staff", org=region.regency)
    assert resp.status_code == 200, resp.text
    own = (await region.report(region.province, "admin")).json()
    assert own["reports_to"]["org"] == "kemendagri"
    assert own["reports_to"]["office"] == "minister_of_home_affairs" and own["reports_to"]["derived"] is True
    assert {a["id"] for a in own["agreements"]} == {region.ids["province"], region.ids["other"]}
    assert (await region.report("kemendagri", "staff", org=region.province)).status_code == 200
    assert (await region.report("pakta", "operator", org=region.regency)).status_code == 200


async def test_nobody_else_reads_a_report_and_a_bad_period_is_refused_naming_the_field(region: Region):
    for reader, role in (("kemendagri", "staff"), (region.regency, "partner"), (region.regency, "auditor")):
        resp = await region.report(reader, role, org=region.regency)
        assert resp.status_code == 403, (reader, role, resp.text)
        assert resp.json()["error"]["code"] == "forbidden"
    backwards = await region.report(region.regency, "staff", **{"from": "2027-06-30", "to": "2027-01-01"})
    assert backwards.status_code == 422 and backwards.json()["error"]["field"] == "to"
    missing = await region.client.get("/reports/upward", headers=region.token(region.regency, "staff"))
    assert missing.status_code == 422 and set(missing.json()) == {"error"}
    not_a_date = await region.report(region.regency, "staff", **{"from": "2027-13-01"})
    assert not_a_date.status_code == 422


async def test_the_report_as_csv_has_a_row_per_agreement_reported_on(region: Region):
    resp = await region.client.get("/reports/upward.csv", params=PERIOD, headers=region.token(region.regency, "staff"))
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(resp.text)))
    assert [r["agreement_id"] for r in rows] == [region.ids["academia"], region.ids["foreign"], region.ids["province"]]
    terminated = rows[2]
    assert terminated["ended_as"] == "terminated" and terminated["new"] == "yes"
    assert "Agreement terminated: Reason: Anggaran tidak tersedia" in terminated["problems"]
    # The problems in English words, the regency by its name, the days as days: no ids, no ISO.
    evaluated = rows[0]["problems"]
    assert f"Evaluation 1 was concluded without the report of Pemerintah Kabupaten {region.tag}." in evaluated
    assert region.regency not in evaluated and "evaluation_report_missing" not in evaluated, evaluated
    assert not re.search(r"\d{4}-\d{2}-\d{2}", terminated["problems"] + evaluated)
    # The evaluation in English words, as the rest of the file (it read "#1 55 expand").
    assert rows[0]["evaluations"] == "Evaluation 1: score 55, recommended “expand”" and rows[1]["foreign"] == "yes"
    refused = await region.client.get(
        "/reports/upward.csv", params=PERIOD | {"org": region.regency}, headers=region.token("kemendagri", "staff")
    )
    assert refused.status_code == 403


async def test_a_problem_carries_its_facts_beside_its_deprecated_detail(region: Region):
    report = (await region.report(region.regency, "staff")).json()
    problems = {(p["agreement_id"], p["kind"]): p for p in report["problems"]}
    ids, university = region.ids, f"univ-{region.tag}"
    missing = problems[(ids["academia"], "evaluation_report_missing")]
    assert (missing["evaluation"], missing["orgs"]) == (1, [region.regency])
    assert missing["detail"] == f"evaluation 1: {region.regency}"  # kept for the API's older consumers
    late = problems[(ids["academia"], "evaluation_report_late")]
    assert (late["evaluation"], late["orgs"]) == (1, [university])
    asked = problems[(ids["province"], "termination_requested")]
    assert (asked["orgs"], asked["text"], asked["evaluation"]) == ([region.regency], "Anggaran tidak tersedia", None)
    assert problems[(ids["province"], "terminated")]["text"] == "Anggaran tidak tersedia"
    assert {"step", "deadline", "due_at", "escalated_to", "recommendation", "change", "late_items"} <= set(missing)


async def test_an_overseer_set_in_the_register_reads_the_report_instead_of_the_province(region: Region):
    overseer = f"bpk-{region.tag}"
    operator = region.token("pakta", "operator")
    entry = (await region.client.get(f"/organisations/{region.regency}", headers=operator)).json()
    body = {k: entry[k] for k in ("name_id", "level", "province_code")} | {"overseer": overseer}
    assert (await region.client.put(f"/organisations/{region.regency}", json=body, headers=operator)).status_code == 200
    try:
        report = (await region.report(overseer, "staff", org=region.regency)).json()
        assert report["reports_to"] == {"org": overseer, "name": "Badan Pengawas", "office": "other", "derived": False}
        assert not any(b["topic"] == "oversight" for b in report["legal_basis"])  # no law names this one
        assert (await region.report(region.province, "staff", org=region.regency)).status_code == 403
    finally:
        body["overseer"] = None
        await region.client.put(f"/organisations/{region.regency}", json=body, headers=operator)
    assert (await region.report(region.province, "staff", org=region.regency)).status_code == 200


async def test_the_province_rolls_up_the_reports_of_every_regency_and_city_it_oversees(region: Region):
    resp = await region.client.get("/reports/overseen", params=PERIOD, headers=region.token(region.province, "admin"))
    assert resp.status_code == 200, resp.text
    rollup = resp.json()
    lines = {line["org"]: line for line in rollup["organisations"]}
    assert set(lines) == {region.regency, f"kota-{region.tag}"}
    own = (await region.report(region.regency, "staff")).json()
    assert lines[region.regency]["summary"] == own["summary"]
    assert lines[region.regency]["problems"] == len(own["problems"]) and lines[region.regency]["evaluations"] == 1
    assert rollup["totals"]["in_force"]["total"] == 3 + lines[f"kota-{region.tag}"]["summary"]["in_force"]["total"]
    for reader, role in ((region.regency, "staff"), (region.province, "partner")):
        refused = await region.client.get(
            "/reports/overseen", params=PERIOD | {"org": region.province}, headers=region.token(reader, role)
        )
        assert refused.status_code == 403 and set(refused.json()) == {"error"}
