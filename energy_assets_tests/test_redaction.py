"""`redaction.redact`: the one function every shown URI or setting passes through."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from energy_assets.redaction import redact, secret_values, without_credentials


@pytest.mark.parametrize(
    ("shown", "expected"),
    [
        ("postgresql://user:secret@host/db", "postgresql://user:***@host/db"),
        (
            "postgresql+psycopg2://app:s3cr3t@db:5432/mlflow",
            "postgresql+psycopg2://app:***@db:5432/mlflow",
        ),
        ("http://user:secret@127.0.0.1:5000", "http://user:***@127.0.0.1:5000"),
        (
            "https://u:p4ss@mlflow.example/#/experiments/1",
            "https://u:***@mlflow.example/#/experiments/1",
        ),
        # A password holding '@' and ':' unescaped; the host is what follows the last '@'.
        ("mysql://u:pa@ss:wo@rd@h:3306/x", "mysql://u:***@h:3306/x"),
        (
            "No champion in 'postgresql://u:hunter22@h/db': run it; see http://a:b1b2@x/y.",
            "No champion in 'postgresql://u:***@h/db': run it; see http://a:***@x/y.",
        ),
        # Nothing to hide: left exactly as it was.
        ("sqlite:////tmp/mlflow.db", "sqlite:////tmp/mlflow.db"),
        ("http://127.0.0.1:5000/path?q=a:b@c", "http://127.0.0.1:5000/path?q=a:b@c"),
        ("gs://bucket/prefix", "gs://bucket/prefix"),
        ("postgresql://user@host/db", "postgresql://user@host/db"),
        ("user:secret@host, no scheme", "user:secret@host, no scheme"),
    ],
)
def test_uri_passwords_are_masked(shown, expected):
    assert redact(shown) == expected


def test_known_secret_values_are_masked_wherever_they_occur():
    environ = {
        "DAGSTER_PG_PASSWORD": "pg-secret-1",
        "ENERGY_OPTUNA_STORAGE": "postgresql://opt:optuna-pw@h/db",
        "ENERGIDATA_API_URL": "http://127.0.0.1:1",
        "PGPASSWORD": "abc",  # too short to search for without maiming the text
    }
    secrets = secret_values(environ)
    assert set(secrets) == {"pg-secret-1", "optuna-pw"}
    text = "FATAL: password pg-secret-1 rejected; optuna-pw too; abc stays"
    assert redact(text, secrets) == "FATAL: password *** rejected; *** too; abc stays"


@given(
    scheme=st.sampled_from(["postgresql", "postgresql+psycopg2", "http", "https", "mysql+pymysql"]),
    user=st.text(alphabet="abcdefghij_-.", min_size=1, max_size=10),
    password=st.text(
        alphabet=st.characters(
            blacklist_characters="/?#@ \t\n\r", blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp")
        ),
        min_size=1,
        max_size=20,
    ),
    host=st.from_regex(r"[a-z][a-z0-9.-]{0,15}(:[0-9]{2,5})?", fullmatch=True),
    around=st.sampled_from(["{}", "'{}'", "at {}: refused", "({})", "{}\nnext line"]),
)
def test_no_password_survives_in_any_uri(scheme, user, password, host, around):
    # A password of asterisks is indistinguishable from the mask itself: nothing to show.
    assume(password.strip("*") != "")
    uri = f"{scheme}://{user}:{password}@{host}/db"
    shown = redact(around.format(uri))
    assert f":{password}@" not in shown
    assert f"{scheme}://{user}:***@{host}/db" in shown


def test_a_link_drops_the_credentials_a_browser_would_send():
    assert (
        without_credentials("http://user:secret@mlflow:5000/#/experiments/1/runs/ab")
        == "http://mlflow:5000/#/experiments/1/runs/ab"
    )
    assert without_credentials("http://mlflow:5000/") == "http://mlflow:5000/"
