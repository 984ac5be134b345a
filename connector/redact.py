"""Secrets out of logs and messages: OAuth codes, tokens, client secrets and passwords.

The HTTP libraries log every request line at DEBUG (``arconnect -v``), and an OAuth redirect
carries its authorization code in the query (``/callback/xero?code=…&state=…``, see
https://developer.xero.com/documentation/guides/oauth2/auth-flow/ section 2). This module owns
the masking: :class:`RedactSecrets` on the CLI's log handler masks every record, and
:func:`mask_url` hides the password of a database URL shown in an error.
"""

from __future__ import annotations

import logging
import re

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

MASK = "***"

# Query parameters and form fields whose value is a credential (or, for ``state``, binds one).
_SECRET_NAMES = (
    "code", "state", "code_verifier", "access_token", "refresh_token", "id_token",
    "client_secret", "token", "password", "assertion",
)
_QUERY = re.compile(r"(?i)(?<![\w-])((?:" + "|".join(_SECRET_NAMES) + r")=)[^&\s\"'#]+")
# JSON or repr of a token response: "refresh_token": "…".
_FIELD = re.compile(
    r"(?i)([\"'](?:access_token|refresh_token|id_token|client_secret|password)[\"']\s*:\s*)"
    r"[\"'][^\"']*[\"']"
)
_BEARER = re.compile(r"(?i)\b((?:Bearer|Basic)\s+)[A-Za-z0-9\-._~+/]+=*")
# scheme://user:password@host
_URL_PASSWORD = re.compile(r"(?i)(\b[a-z][a-z0-9+.\-]*://[^/\s:@]*:)[^@\s/]+(@)")


def redact(text: str) -> str:
    """``text`` with every credential it carries replaced by ``***``."""
    text = _QUERY.sub(rf"\g<1>{MASK}", text)
    text = _FIELD.sub(rf'\g<1>"{MASK}"', text)
    text = _BEARER.sub(rf"\g<1>{MASK}", text)
    return _URL_PASSWORD.sub(rf"\g<1>{MASK}\g<2>", text)


def mask_url(url: str) -> str:
    """A database URL fit to show: its password replaced by ``***`` (as SQLAlchemy's
    ``URL.render_as_string(hide_password=True)`` does), also when the URL does not parse."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return redact(url)


class RedactSecrets(logging.Filter):
    """A log filter that masks credentials in every record's message (and its traceback)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's message with :func:`redact`; never drops a record.

        A traceback is folded into the message as masked text (an exception's message can
        quote a URL or a response body), so no handler renders the raw one.
        """
        message = record.getMessage()
        if record.exc_info:
            trace = record.exc_text or logging.Formatter().formatException(record.exc_info)
            message = f"{message}\n{trace}"
            record.exc_info, record.exc_text = None, None
        clean = redact(message)
        if clean != record.msg or record.args:
            record.msg, record.args = clean, None
        return True
