"""README.md names every HTTP route, every web page and every `pakta` subcommand and option
the code has, with the paths as the app serves them.

A reader learns what Pakta offers from the README; a route or option added without a word
there is one nobody finds. No servers: the app is built, never served.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI

from services.api import imports
from services.api.app import create_app
from services.cli import build_parser
from services.settings import Settings

ROOT = Path(__file__).resolve().parents[2]

# What the pages load into themselves (htmx) or post their forms to: parts of a page the
# README describes with the page, never an address a reader opens.
FRAGMENTS_AND_FORMS = {
    "/ui/agreements/{id}/chain",  # the audit chain's verification, swapped into the agreement page
    "/ui/dashboard/oversight",  # the dashboard's link to the roll-up
    "/ui/known-organisations",  # the proposal form's list of organisations
    "/ui/proposal/rows",  # a removed row of the proposal form
    "/ui/proposal/rows/{group}",  # a new row of the proposal form
}
# Pages whose path has a parameter the README writes out, one path per value.
WRITTEN_OUT = {"/ui/agreements/{id}/plan/{form}": ("/ui/agreements/{id}/plan/edit", "/ui/agreements/{id}/plan/revise")}


@pytest.fixture(scope="module")
def readme() -> str:
    return (ROOT / "README.md").read_text()


@pytest.fixture(scope="module")
def app() -> FastAPI:
    return create_app(Settings())


def as_written(path: str) -> str:
    """A route's path as the README writes it: `{agreement_id}` and the like as `{id}`."""
    return re.sub(r"\{(agreement|webhook|contact|notification|feedback)_id\}", "{id}", path).replace("{version}", "{v}")


def served_routes(routes: list) -> Iterator[tuple[str, set[str]]]:
    """(path, methods) of every route, those of included routers one by one."""
    for route in routes:
        if hasattr(route, "effective_candidates"):  # FastAPI's included router
            yield from served_routes(route.effective_candidates())
        elif hasattr(route, "original_route"):
            yield route.path, set(route.methods or ())
        elif isinstance(getattr(route, "path", None), str) and getattr(route, "methods", None):
            yield route.path, set(route.methods)


def test_every_route_of_the_openapi_document_is_in_the_readme(app, readme):
    missing = [f"{method.upper()} {path}" for path, ops in app.openapi()["paths"].items() for method in ops]
    missing = [route for route in missing if as_written(route.split(" ", 1)[1]) not in readme]
    assert missing == [], "routes README.md does not name"


def test_every_web_page_is_in_the_readme(app, readme):
    pages = {
        as_written(path)
        for path, methods in served_routes(app.routes)
        if "GET" in methods and path.startswith(("/ui/", "/public/"))
    }
    assert pages, "no web pages found: has FastAPI changed how it keeps included routers?"
    written = {page for page in pages if all(p in readme for p in WRITTEN_OUT.get(page, (page,)))}
    assert sorted(pages - FRAGMENTS_AND_FORMS - written) == []
    assert pages >= FRAGMENTS_AND_FORMS, "a fragment listed here is gone: take it off the list"


def commands(parser: argparse.ArgumentParser, prefix: str = "pakta") -> Iterator[tuple[str, list[tuple[str, ...]]]]:
    """Every leaf command (`pakta db upgrade`) with its options (each as its spellings:
    `-m`, `--message`) and positional arguments."""
    subparsers = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subparsers:
        options = [
            tuple(a.option_strings) if a.option_strings else (a.metavar or a.dest,)
            for a in parser._actions
            if not isinstance(a, argparse._HelpAction)
        ]
        yield prefix, options
        return
    for name, sub in subparsers[0].choices.items():
        yield from commands(sub, f"{prefix} {name}")


def test_every_pakta_command_and_option_is_in_the_readme(readme):
    found = list(commands(build_parser()))
    assert len(found) > 8
    for command, options in found:
        assert command in readme, f"README.md does not name `{command}`"
        near = [readme[m.start() : m.start() + 600] for m in re.finditer(re.escape(command), readme)]
        for spellings in options:
            assert any(option in text for text in near for option in spellings), (
                f"README.md does not name {spellings[-1]} near `{command}`"
            )


def test_the_import_sheets_columns_are_the_readmes(readme):
    written = readme[readme.index("a CSV sheet with the columns") :]
    written = written[: written.index("(`name|target|unit;…`)")]
    columns = [c.strip(" `,\n") for c in re.findall(r"[a-z_]+[,\s]", written.replace("`", " "))]
    assert [c for c in columns if c in imports.CSV_COLUMNS] == list(imports.CSV_COLUMNS)
    for sheet in imports.SHEET_DESCRIPTIONS:
        assert f"`{sheet}`" in readme or sheet == "agreements"


def test_the_plan_sheets_columns_are_implementation_mds():
    """docs/implementation.md's table of the plan's sheets: every column, the required in bold."""
    text = (ROOT / "docs" / "implementation.md").read_text()
    for sheet, columns in imports.PLAN_SHEETS.items():
        row = next(line for line in text.splitlines() if line.startswith(f"| `{sheet}` |"))
        cells = row.split(" | ", 1)[1]
        named = [c for c in re.findall(r"`([a-z_]+)`", cells) if c in columns]
        required = re.findall(r"\*\*`([a-z_]+)`\*\*", cells)
        assert sorted(set(named)) == sorted(columns), sheet
        assert sorted(required) == sorted(imports.REQUIRED_PLAN[sheet]), sheet
