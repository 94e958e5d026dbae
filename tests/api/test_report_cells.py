"""The report upward's CSV cells and the pages' pieces of typed text, pure: a cell never
holds more than a spreadsheet keeps (and the problems cell says what it left out), and a
text holding a bidi control is isolated when shown beside other words. Issue #11, attack18."""

from __future__ import annotations

from services.api.reporting.table import CELL_LIMIT, _within_a_cell, cell
from services.notifying.render import isolate


def test_a_cell_is_never_longer_than_a_spreadsheet_keeps_and_a_formula_stays_text() -> None:
    assert len(cell("W" * 50_000)) == CELL_LIMIT and cell("W" * 50_000).endswith("…")
    long_formula = cell("=" + "1+" * 20_000 + "1")
    assert long_formula.startswith("'=") and len(long_formula) == CELL_LIMIT
    assert cell("Kerja sama") == "Kerja sama" and cell("-5") == "'-5"


def test_the_problems_cell_keeps_the_lines_that_fit_and_says_how_many_it_left_out() -> None:
    lines = [f"1 July 2026 Agreement terminated: Reason: {'Ж' * 1000} {i}" for i in range(100)]
    joined = _within_a_cell(lines)
    assert len(joined) <= CELL_LIMIT
    kept = joined.count("; ")
    assert 0 < kept < 100 and joined.split("; ")[:kept] == lines[:kept]
    assert joined.endswith(f"; … and {100 - kept} more problems: the report's page and its JSON hold every one.")
    assert _within_a_cell(lines[:3]) == "; ".join(lines[:3])
    one = _within_a_cell(["X" * 40_000, "Y"])
    assert len(one) <= CELL_LIMIT and one.endswith(
        "… and 1 more problem: the report's page and its JSON hold every one."
    )


def test_typed_text_is_isolated_only_when_it_holds_a_bidi_control() -> None:
    assert isolate("Pemerintah Kota Bandung") == "Pemerintah Kota Bandung"
    assert isolate("مدينة") == "مدينة"  # right-to-left letters need no isolate of their own
    for control in ("\u202a", "\u202b", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069"):
        assert isolate(f"a{control}b") == f"\u2068a{control}b\u2069"
