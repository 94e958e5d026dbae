"""Every install of one commit takes the exact versions in constraints.txt (the Makefile's
installs, `make lock`, the Docker image): a library's release between two installs must not
change what a running agreement replays, nor what CI checks."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^(?P<name>[A-Za-z0-9._-]+)==(?P<version>\S+)$")


def pins() -> dict[str, str]:
    found: dict[str, str] = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        matched = PIN.match(line.strip())
        assert matched, f"constraints.txt: {line!r} is not `name==version`"
        found[canonicalize_name(matched["name"])] = matched["version"]
    return found


def declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    return [Requirement(text) for text in [*project["dependencies"], *extras["embedded"], *extras["test"]]]


def test_every_library_installed_is_the_version_constraints_txt_pins() -> None:
    wrong = {}
    for name, version in pins().items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            wrong[name] = (version, None)
            continue
        if installed != version:
            wrong[name] = (version, installed)
    assert not wrong, f"pinned vs installed (run `make install-test`, or `make lock`): {wrong}"


def test_every_dependency_pyproject_declares_is_pinned_within_its_range() -> None:
    pinned = pins()
    for requirement in declared():
        name = canonicalize_name(requirement.name)
        if name == "pakta":  # the test extra names the embedded one
            continue
        assert name in pinned, f"{requirement.name} is declared in pyproject.toml but not pinned: run `make lock`"
        assert requirement.specifier.contains(pinned[name], prereleases=True), (
            f"{requirement.name}=={pinned[name]} is outside pyproject.toml's {requirement.specifier}: run `make lock`"
        )
