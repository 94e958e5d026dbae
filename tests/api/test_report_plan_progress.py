"""The action plan section of a report upward reads an agreement's recorded state JSON in the
shape the decider records plans (issue #13: `activities`, `obligations`, `action_items`) and
tolerates states recorded before plans existed. Pure: no servers."""

from __future__ import annotations

from datetime import date

from services.api.reporting.plan_progress import plan_progress

AS_OF = date(2027, 7, 1)


def activity(id: str, ends_on: str, *percents: int | None) -> dict[str, object]:
    progress = [
        {"org": "kab", "percent": p, "reported_by": "staff@kab", "at": "2027-03-01T02:00:00Z"} for p in percents
    ]
    return {
        "id": id,
        "name": id,
        "party": "kab",
        "responsible": "Dinas",
        "starts_on": "2027-01-01",
        "ends_on": ends_on,
        "progress": progress,
    }


def test_a_state_recorded_before_action_plans_has_no_plan_to_report():
    assert plan_progress({"id": "agr-1", "stage": "implementation"}, as_of=AS_OF) is None
    assert plan_progress({"activities": [], "obligations": [], "action_items": []}, as_of=AS_OF) is None


def test_progress_counts_the_latest_percentage_and_names_what_is_past_its_date():
    state = {
        "activities": [
            activity("A1", "2027-06-30", 40, 100),
            activity("A2", "2027-06-30", 60, None),  # a milestone report without a percentage keeps 60
            activity("A3", "2027-12-31"),
        ],
        "obligations": [
            {"id": "O1", "party": "univ", "kind": "funds", "due_on": "2027-03-31", "status": "fulfilled"},
            {"id": "O2", "party": "univ", "kind": "staff", "due_on": "2027-05-31", "status": "open"},
            {"id": "O3", "party": "kab", "kind": "data", "due_on": "2027-04-30", "status": "missed"},
        ],
        "action_items": [
            {"id": "M1-1", "meeting": 1, "text": "Data", "party": "kab", "due_on": "2027-06-01", "done_at": None},
            {
                "id": "M1-2",
                "meeting": 1,
                "text": "Rapat",
                "party": "univ",
                "due_on": "2027-06-01",
                "done_at": "2027-05-30T03:00:00Z",
            },
        ],
    }
    progress = plan_progress(state, as_of=AS_OF)
    assert progress is not None
    assert (progress.activities, progress.activities_completed, progress.mean_percent) == (3, 1, 53)
    assert (progress.obligations, progress.obligations_fulfilled, progress.obligations_missed) == (3, 1, 1)
    assert (progress.action_items, progress.action_items_done) == (2, 1)
    assert [(i.kind, i.id, i.party) for i in progress.late] == [
        ("obligation", "O2", "univ"),
        ("action_item", "M1-1", "kab"),
        ("activity", "A2", "kab"),
    ]


def test_malformed_entries_are_skipped_rather_than_failing_the_report():
    state = {"activities": ["A1", {"id": "A2", "ends_on": "not a date", "progress": "none"}], "obligations": None}
    progress = plan_progress(state, as_of=AS_OF)
    assert progress is not None and progress.activities == 1 and progress.late == []
