"""README.md's "Configuration" table says every setting's variable and default as
`services/settings.py` has them, and nothing the code no longer reads.

The table is what an operator configures a deployment from: a default changed in the code
but not there (or a variable renamed) is a deployment configured wrong. No servers.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from services.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
ROW = re.compile(r"^\| `(PAKTA_[A-Z0-9_]+)` \| ([^|]+) \| (.+) \|$")

# Defaults the table describes in words rather than prints: the dev secret is not a value
# anyone should copy, and the discovery URL's default is derived from another setting.
DESCRIBED = {
    "PAKTA_JWT_SECRET": "a dev-only string",
    "PAKTA_OIDC_DISCOVERY_URL": "`{PAKTA_OIDC_ISSUER}/.well-known/openid-configuration`",
}


def configuration_table() -> dict[str, tuple[str, str]]:
    """The table's rows: variable → (default as written, meaning)."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Configuration") : readme.index("## Using it")]
    rows: dict[str, tuple[str, str]] = {}
    for line in section.splitlines():
        if match := ROW.match(line):
            name, default, meaning = match.groups()
            assert name not in rows, f"{name} has two rows"
            rows[name] = (default.strip(), meaning.strip())
    return rows


def as_written(value: object) -> str:
    """A default as the table writes it: in backticks, `—` for none."""
    if value is None or value == []:
        return "—"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, float) and value.is_integer():
        return f"`{int(value)}`"
    if isinstance(value, list):
        return f"`{','.join(str(item) for item in value)}`"
    return f"`{value}`"


def settings_defaults() -> dict[str, object]:
    return {
        f"PAKTA_{name.upper()}": field.get_default(call_default_factory=True)
        for name, field in Settings.model_fields.items()
    }


def test_every_setting_has_a_row_and_every_row_a_setting():
    documented, fields = set(configuration_table()), set(settings_defaults())
    assert fields - documented == set(), "settings missing from README.md's Configuration table"
    assert documented - fields == set(), "README.md documents variables the code no longer reads"


@pytest.mark.parametrize("name", sorted(settings_defaults()))
def test_the_table_gives_each_setting_its_default_and_a_meaning(name):
    default, meaning = configuration_table()[name]
    expected = DESCRIBED.get(name) or as_written(settings_defaults()[name])
    assert default == expected, f"README.md says {name} defaults to {default}, the code to {expected}"
    assert len(meaning) > 10, f"{name} has no meaning in README.md"
