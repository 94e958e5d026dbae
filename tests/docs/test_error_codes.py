"""docs/errors.md's table holds every error code the API answers, each once, and none that
the code no longer gives. A client acts on the code: one it cannot look up is one it cannot
handle. No servers: the codes are read from the source, where they are literals.
"""

from __future__ import annotations

import re
from http import HTTPStatus
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Where refusals are made: the API and what it shares, and the decider's refusals (its
# other modules use `code` for health reasons, which are no error).
SOURCES = [
    *sorted((ROOT / "services").rglob("*.py")),
    ROOT / "workflows" / "lifecycle" / "errors.py",
    ROOT / "workflows" / "lifecycle" / "bounds.py",
]
PATTERNS = (
    r'\bcode(?:, message)? = (?:\d{3}, )?"([a-z_]+)"',  # an error class's own
    r'\bcode="([a-z_]+)"',  # one raised with its code
    r'\bcode = "[a-z_]+" if .+ else "([a-z_]+)"',  # the other of two
    r'error_response\(\s*\d{3},\s*"([a-z_]+)"',  # answered before the app's handlers
)
# Codes made from the HTTP status's phrase (services/api/errors.py's http_error) for the
# statuses FastAPI and Starlette raise themselves.
FROM_THE_PHRASE = {400}


def codes_in_the_code() -> set[str]:
    codes: set[str] = set()
    for path in SOURCES:
        text = path.read_text()
        for pattern in PATTERNS:
            codes |= set(re.findall(pattern, text))
        if mapping := re.search(r"_HTTP_CODES = \{([^}]*)\}", text):
            codes |= set(re.findall(r'"([a-z_]+)"', mapping.group(1)))
    codes |= {HTTPStatus(status).phrase.lower().replace(" ", "_") for status in FROM_THE_PHRASE}
    return codes


def table() -> list[tuple[int, str]]:
    text = (ROOT / "docs" / "errors.md").read_text()
    return [(int(status), code) for status, code in re.findall(r"^\| (\d{3}) \| `([a-z_]+)` \|", text, re.MULTILINE)]


def test_every_code_the_api_answers_is_in_the_table_once():
    documented = [code for _, code in table()]
    assert len(documented) == len(set(documented)), "a code has two rows"
    found = codes_in_the_code()
    assert len(found) > 30, "few codes found: has the way errors are raised changed?"
    assert sorted(found - set(documented)) == [], "codes docs/errors.md does not explain"
    assert sorted(set(documented) - found) == [], "codes docs/errors.md explains that the code no longer gives"
