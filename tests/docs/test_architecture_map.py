"""docs/architecture.md is the map of the code: every module in its packages table, the
import contracts as pyproject.toml has them, the workflow patches as the workflows ask them;
and no page of the docs names a module file that is gone. No servers.
"""

from __future__ import annotations

import importlib
import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARCHITECTURE = (ROOT / "docs" / "architecture.md").read_text()
# The performance pages are the log of what was (branch by branch): they name modules that
# have since moved, on purpose.
DOCS = [ROOT / "README.md", ROOT / "tests" / "README.md"] + [
    page for page in sorted((ROOT / "docs").glob("*.md")) if not page.name.startswith("performance")
]


# A file of the repository named by its path from the root: a module, a test, a template.
FILE = r"(?<![\w/.-])((?:services|workflows|tests|bench)/[\w/.-]+\.(?:py|json|txt|html|md))\b"


def section(title: str) -> str:
    start = ARCHITECTURE.index(f"## {title}")
    end = ARCHITECTURE.find("\n## ", start + 1)
    return ARCHITECTURE[start : end if end > 0 else None]


def table_rows(text: str) -> dict[str, str]:
    """First cell (without backticks) → the whole row."""
    rows = {}
    for line in text.splitlines():
        if line.startswith("| ") and not line.startswith("|---"):
            rows[line.split(" | ")[0].strip("| `")] = line
    return rows


def modules() -> list[Path]:
    found = []
    for package in ("workflows", "services"):
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT)
            if path.name == "__init__.py" or "migrations" in relative.parts:
                continue
            found.append(relative)
    return found


@pytest.mark.parametrize("module", modules(), ids=str)
def test_every_module_is_in_the_packages_table(module):
    packages = section("The packages, one line each")
    if str(module) in packages:
        return
    rows = table_rows(packages)
    # The row of the nearest package listed holds the module by its name.
    for depth in range(len(module.parts) - 1, 0, -1):
        package = "/".join(module.parts[:depth]) + "/"
        if row := rows.get(package):
            stem = module.stem
            if not (f"`{stem}`" in row or f"`{stem} " in row or f"{stem}.py" in row):
                pytest.fail(f"docs/architecture.md's row of {package} does not name {stem}")
            return
        if package in ("workflows/lifecycle/handlers/", "services/api/reporting/"):
            # Described in their parent's row, after `handlers/` and `reporting/`.
            parent = rows["/".join(module.parts[: depth - 1]) + "/"]
            if f"`{module.stem}`" not in parent:
                pytest.fail(f"docs/architecture.md does not name {module}")
            return
    pytest.fail(f"docs/architecture.md has no row for {module}")


def test_every_module_file_the_docs_name_exists():
    """A path is from the repository's root, or (tests/README.md's) from the page's folder."""
    named = {(page, path) for page in DOCS for path in re.findall(FILE, page.read_text())}
    assert named, "no files named: has the pattern gone stale?"
    gone = [
        f"{page.relative_to(ROOT)}: {path}"
        for page, path in named
        if not (ROOT / path).exists() and not (page.parent / path).exists()
    ]
    assert sorted(gone) == []


def contracts() -> list[dict]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]


@pytest.mark.parametrize("contract", contracts(), ids=lambda c: c["name"][:40])
def test_the_contracts_table_says_each_contract_as_pyproject_has_it(contract):
    rows = table_rows(section("The import contracts"))
    row = rows.get(contract["name"])
    assert row, f"docs/architecture.md lacks the contract {contract['name']!r}"
    assert row.split(" | ")[1].startswith(contract["type"])
    assert ("exhaustive" in row.split(" | ")[1]) == bool(contract.get("exhaustive"))
    named = [*contract.get("source_modules", []), *contract.get("forbidden_modules", [])]
    named += [m for layer in contract.get("layers", []) for m in re.split(r"[:|]", layer)]
    named += contract.get("modules", [])
    what = row.split(" | ")[2]
    for module in (m.strip() for m in named):
        short = module.removeprefix("services.api.routes.").removesuffix(".*")
        if f"`{module}`" not in what and f"`{short}`" not in what and short not in what:
            pytest.fail(f"docs/architecture.md's contract {contract['name']!r} does not name {module}")


def patches_in_the_code() -> set[str]:
    found = set()
    for path in (ROOT / "workflows").rglob("*.py"):
        text = path.read_text()
        constants = dict(re.findall(r'^([A-Z_]+) = "([a-z0-9-]+)"$', text, flags=re.MULTILINE))
        for name in re.findall(r"workflow\.patched\(\s*([A-Z_]+|\"[a-z0-9-]+\")\s*\)", text):
            found.add(name.strip('"') if name.startswith('"') else constants[name])
    return found


def test_the_patches_listed_are_the_patches_asked():
    listed = set(re.findall(r"^\| `([a-z0-9-]+)` \| `workflows/", ARCHITECTURE, flags=re.MULTILINE))
    asked = patches_in_the_code()
    assert asked, "no workflow.patched found: has the pattern gone stale?"
    assert asked == listed


def resolves(name: str) -> bool:
    """`services.api.actions.perform` names a module, or an attribute of one, that exists."""
    parts = name.split(".")
    for depth in range(len(parts), 0, -1):
        try:
            found: object = importlib.import_module(".".join(parts[:depth]))
        except ImportError:
            continue
        for attribute in parts[depth:]:
            if not hasattr(found, attribute):
                return False
            found = getattr(found, attribute)
        return True
    return False


def test_every_dotted_module_name_the_docs_give_exists():
    named = {
        (page.relative_to(ROOT), name)
        for page in DOCS
        for name in re.findall(r"(?<![\w/.])((?:services|workflows)\.[a-z_][\w.]*\w)(?!…)", page.read_text())
    }
    assert named, "no dotted names found: has the pattern gone stale?"
    assert sorted(f"{page}: {name}" for page, name in named if not resolves(name)) == []
