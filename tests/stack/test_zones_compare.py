"""`pakta zones compare`: what a reviewer checks before merging a `tzdata` bump (or before
pinning, against the host's zone files): the zones whose UTC offsets differ between the
installed release and another's zone files, from when to when, and the zones only one of
them knows (issue #11, branch zones15; docs/lifecycle.md, "Zone data")."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from services.cli import main


def zone_files(directory: Path, **zones: str) -> Path:
    """`directory` holding, under each name, the installed release's file of another zone."""
    for name, source in zones.items():
        path = directory / name.replace("__", "/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(resources.files("tzdata.zoneinfo").joinpath(source).read_bytes())
    return directory


def test_a_zone_with_other_rules_and_one_dropped_are_named_with_their_dates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = zone_files(tmp_path, Asia__Jakarta="Asia/Tokyo", Asia__Makassar="Asia/Makassar")
    asked = ["zones", "compare", str(directory), "--years", "2027-2028", "--zones"]
    assert main([*asked, "Asia/Jakarta,Asia/Makassar,Asia/Jayapura"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "only in the installed tzdata: Asia/Jayapura",
        "Asia/Jakarta: 1 span(s) from 2027-01-01T00:00Z to 2029-01-01T00:00Z",
        "  2027-01-01T00:00Z to 2029-01-01T00:00Z: installed UTC+07:00, DIR UTC+09:00",
        "1 zone(s) with other offsets in 2027-2028, of 2 compared",
    ]


def test_a_transition_an_hour_apart_is_found_to_the_quarter_hour(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # In 2019 Havana moved its clocks at 00:00 and 01:00 local time, New York at 02:00: the
    # same offsets but for an hour or two twice a year, which a daily look alone would miss.
    directory = zone_files(tmp_path, America__Havana="America/New_York")
    assert main(["zones", "compare", str(directory), "--years", "2019-2019", "--zones", "America/Havana"]) == 1
    assert capsys.readouterr().out.splitlines() == [
        "America/Havana: 2 span(s) from 2019-03-10T05:00Z to 2019-11-03T06:00Z",
        "  2019-03-10T05:00Z to 2019-03-10T07:00Z: installed UTC-04:00, DIR UTC-05:00",
        "  2019-11-03T05:00Z to 2019-11-03T06:00Z: installed UTC-05:00, DIR UTC-04:00",
        "1 zone(s) with other offsets in 2019-2019, of 1 compared",
    ]


def test_the_same_rules_in_other_files_are_no_difference(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    directory = zone_files(tmp_path, Asia__Jakarta="Asia/Jakarta", Asia__Jayapura="Asia/Jayapura")
    assert main(["zones", "compare", str(directory), "--zones", "Asia/Jakarta,Asia/Jayapura"]) == 0
    assert capsys.readouterr().out == "0 zone(s) with other offsets in 2000-2100, of 2 compared\n"


def test_a_directory_or_zone_that_is_not_there_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["zones", "compare", str(tmp_path / "none")]) == 2
    assert main(["zones", "compare", str(tmp_path), "--zones", "Mars/Olympus"]) == 2
    assert "Mars/Olympus" in capsys.readouterr().err
