"""The agreement page's indicator chart: achievement at each evaluation, and the parties'
measurements between evaluations, against the indicator's target."""

from __future__ import annotations

import re
from datetime import timedelta

from services.api.web.i18n import Translator
from services.api.web.svg import MEASUREMENTS_SHOWN, achievement_svg
from tests import builders as b
from workflows import messages as m

INDICATOR = "Puskesmas terhubung"  # target 100 puskesmas


def measured(state: m.AgreementState, value: float, day: str) -> m.AgreementState:
    command = m.RecordMeasurement(indicator=INDICATOR, value=value, measured_on=day, source="Dinkes")
    state, _ = b.run(state, b.staff(), command, b.NOW + timedelta(days=30))
    return state


def bars(svg: str, kind: str) -> list[str]:
    return re.findall(rf'<rect class="{kind}"[^>]*><title>([^<]*)</title>', svg)


def test_measurements_are_plotted_against_the_target_before_any_evaluation() -> None:
    state = b.implemented(b.planned_proposal())
    assert achievement_svg(state, Translator("en", "Asia/Jakarta")) is None
    state = measured(measured(state, 60, "2027-01-20"), 35, "2027-01-10")
    svg = achievement_svg(state, Translator("en", "Asia/Jakarta"))
    assert svg is not None and bars(svg, "evaluation") == []
    assert bars(svg, "measurement") == [  # by the day measured, as a share of the target
        "10 January 2027: 35 % (35 puskesmas)",
        "20 January 2027: 60 % (60 puskesmas)",
    ]
    assert "100 % Target" in svg


def test_a_long_term_shows_the_latest_measurements_and_the_evaluations_beside_them() -> None:
    state = b.implemented(b.planned_proposal())
    for number in range(MEASUREMENTS_SHOWN + 2):
        state = measured(state, 10 * number, f"2027-01-{number + 5:02d}")
    state = state.model_copy(
        update={
            "evaluations": [
                m.Evaluation(
                    number=1,
                    opened_at=b.NOW,
                    opened_by="x",
                    due_at=b.NOW,
                    reports=[
                        m.EvaluationReport.model_validate(
                            {
                                "org": b.INITIATOR,
                                "narrative": "Baik.",
                                "results": [{"indicator": INDICATOR, "achieved": 80}],
                                "submitted_by": "x",
                                "at": b.NOW,
                            }
                        )
                    ],
                )
            ]
        }
    )
    svg = achievement_svg(state, Translator("id", "Asia/Jakarta"))
    assert svg is not None
    assert bars(svg, "evaluation") == ["#1: 80 % (80 puskesmas)"]
    shown = bars(svg, "measurement")
    assert len(shown) == MEASUREMENTS_SHOWN and shown[-1].startswith("12 Januari 2027: 70 %")
