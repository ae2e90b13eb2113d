"""Secrets never leave the process: the one place that hides them in text meant for people.

Everything the platform shows (asset metadata, log lines, `Failure` descriptions, the demo's
output, CLI errors) passes a URI or a setting through `redact` first. It hides

- the password of any URI with credentials (``postgresql+psycopg2://user:secret@host/db``,
  ``http://user:secret@mlflow:5000``, ``gs://…`` never carries one), keeping the user so a
  person can still tell which account is meant: ``postgresql://user:***@host/db``;
- the values of the known secret variables (`SECRET_VARIABLES`) wherever they occur, given the
  environment that holds them (`secret_values`).

No imports beyond the standard library: every layer may use it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

MASK = "***"

# Environment variables whose whole value is a secret (a URI's password is found in any URI).
SECRET_VARIABLES = (
    "DAGSTER_PG_PASSWORD",
    "MLFLOW_TRACKING_PASSWORD",
    "MLFLOW_TRACKING_TOKEN",
    "DATABRICKS_TOKEN",
    "PGPASSWORD",
    "AWS_SECRET_ACCESS_KEY",
)
# A secret shorter than this is not searched for inside text: replacing every "a" would maim
# the message and hide nothing (a one-letter password is no secret).
MIN_SECRET_LENGTH = 4

# scheme://user:password@ : a scheme as RFC 3986 has it (sqlalchemy's `+driver` included), then
# userinfo up to the last '@' before the host. The password may hold ':' and, unescaped, '@'.
_CREDENTIALS = re.compile(
    r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.\-]*://)"
    r"(?P<user>[^:/?#@\s]*):(?P<password>[^/?#\s]*)@(?=[^@/?#\s]*(?:[/?#\s]|$))"
)


def redact(text: object, secrets: Iterable[str] = ()) -> str:
    """`text` (any object, as str) with every URI password masked and every value of `secrets`
    replaced by ``***``.

    >>> redact("postgresql+psycopg2://app:s3cr3t@db:5432/mlflow")
    'postgresql+psycopg2://app:***@db:5432/mlflow'
    """
    shown = str(text)
    shown = _CREDENTIALS.sub(
        lambda m: f"{m['scheme']}{m['user']}:{MASK}@" if m["password"] else m[0], shown
    )
    for secret in sorted(
        {s for s in secrets if len(s) >= MIN_SECRET_LENGTH}, key=len, reverse=True
    ):
        shown = shown.replace(secret, MASK)
    return shown


def secret_values(environ: Mapping[str, str]) -> tuple[str, ...]:
    """The values of the known secret variables set in `environ`, and the passwords of its
    URI-valued variables (for text that shows a password without its URI, e.g. a driver error)."""
    values = [environ[name] for name in SECRET_VARIABLES if environ.get(name)]
    for value in environ.values():
        for match in _CREDENTIALS.finditer(value):
            if match["password"]:
                values.append(match["password"])
    return tuple(v for v in values if len(v) >= MIN_SECRET_LENGTH)


def without_credentials(url: str) -> str:
    """`url` with no user or password at all: for a link a browser opens (it asks for them
    itself; a masked password would be sent as the password).

    >>> without_credentials("http://user:secret@mlflow:5000/#/runs/1")
    'http://mlflow:5000/#/runs/1'
    """
    return _CREDENTIALS.sub(lambda m: m["scheme"], url)
