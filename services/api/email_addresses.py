"""The one rule for an email address the API takes: a contact's (mailed) and an
organisation's register entry (shown, and written to by people who read it).

The address as people write it (RFC 5321's dot-atom local part, a host name's labels) in
ASCII: it goes into the mails' envelope and To header, which carry neither a control
character nor, without SMTPUTF8, anything beyond ASCII (an internationalised domain is
written in its xn-- form). Printable ASCII alone let through what no relay takes in
`RCPT TO` — a comment `(c)a@b.id`, a quoted local part, `<`, `>` or `,` — stored, then
failing at every notification; the rare quoted or bracketed forms RFC 5321 allows are not
taken either."""

from __future__ import annotations

import re

_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
EMAIL_ADDRESS = re.compile(rf"^(?=[^@]{{1,64}}@){_ATOM}(?:\.{_ATOM})*@{_LABEL}(?:\.{_LABEL})+$")
REFUSAL = "not an email address as name@domain in ASCII (a domain beyond ASCII in its xn-- form)"


def email_address(value: str) -> str:
    """`value` as stored (trimmed, lower case), or ValueError for a pydantic validator."""
    value = value.strip()
    if not EMAIL_ADDRESS.match(value):
        raise ValueError(REFUSAL)
    return value.lower()
