"""The report upward's CSV cells and the pages' pieces of typed text, pure: a cell never
holds more than a spreadsheet keeps (and the problems cell says what it left out), and a
text holding a bidi control is isolated when shown beside other words. Issue #11, attack18."""

from __future__ import annotations

from services.api.reporting.table import CELL_LIMIT, _within_a_cell, cell, units
from services.notifying.render import isolate


def test_a_cell_is_never_longer_than_a_spreadsheet_keeps_and_a_formula_stays_text() -> None:
    assert len(cell("W" * 50_000)) == CELL_LIMIT and cell("W" * 50_000).endswith("…")
    long_formula = cell("=" + "1+" * 20_000 + "1")
    assert long_formula.startswith("'=") and len(long_formula) == CELL_LIMIT
    assert cell("Kerja sama") == "Kerja sama" and cell("-5") == "'-5"


def test_a_cell_is_counted_as_a_spreadsheet_counts_it_in_utf16_units() -> None:
    """Fails on `8f344fa`: 20,000 emoji (40,000 units in Excel's count) passed as 20,000
    characters, and the spreadsheet cut the cell on opening, silently."""
    assert units("a😀b") == 4
    shown = cell("😀" * 20_000)
    assert units(shown) <= CELL_LIMIT and shown.endswith("…") and shown[:-1] == "😀" * len(shown[:-1])
    problems = _within_a_cell(["😀" * 10_000 + f" {i}" for i in range(5)])
    assert units(problems) <= CELL_LIMIT and problems.endswith("hold every one.")
    one = _within_a_cell(["😀" * 40_000])
    assert units(one) <= CELL_LIMIT


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
    for control in ("\u202a", "\u202b", "\u202d", "\u202e"):
        assert isolate(f"a{control}b") == f"\u2068a{control}b\u2069"
    # An isolate the text opens is closed before ours; a pop of none it opened is dropped.
    for control in ("\u2066", "\u2067", "\u2068"):
        assert isolate(f"a{control}b") == f"\u2068a{control}b\u2069\u2069"
    assert isolate("a\u2069b") == "\u2068ab\u2069"


def _closing_pop(line: str, opened: int) -> int | None:
    """Where the pop matching the isolate initiator at `opened` is (UAX #9's X6a: a pop
    closes the innermost isolate open), or None when the line leaves it open."""
    open_isolates = 0
    for at in range(opened, len(line)):
        if line[at] in "\u2066\u2067\u2068":
            open_isolates += 1
        elif line[at] == "\u2069" and open_isolates:
            open_isolates -= 1
            if not open_isolates:
                return at
    return None


def test_typed_text_cannot_close_the_isolate_around_it_early_or_leave_it_open() -> None:
    """Fails on `8f344fa`: "\u2069\u202e…" closed the isolate at its first character, and the
    override after it turned the rest of the line around (the closing pop, matching nothing
    then, did nothing); "\u2067…" left ours open to the end of the line."""
    for typed in (
        "\u2069\u202eevil",
        "x\u2069\u2069\u202ey",
        "\u2067open",
        "\u2066a\u2069\u2069\u202eb",
        "\u2068\u2068\u2069",
        "\u202e" * 200 + "\u2067" * 200,
    ):
        shown = isolate(typed)
        line = "Reason: " + shown + " — 1 July 2026"
        assert _closing_pop(line, len("Reason: ")) == len("Reason: ") + len(shown) - 1, repr(typed)
        assert shown.replace("\u2069", "") == "\u2068" + typed.replace("\u2069", "")  # nothing else taken
