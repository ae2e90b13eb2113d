"""Failures for people: a service that is down is named as such, and no password reaches the
event log.

Dagster stores a failed step's exception, with its whole cause chain, in the event log and
shows it in the UI. MLflow's own messages quote the tracking URI, password included, so every
step that talks to MLflow or Optuna runs inside `services_reachable`, which re-raises

- a connection failure as a `Failure` naming the service, its address without password and
  what to do (`training.reachability`), with no cause attached;
- any other error whose text holds a password as the same error type's name and its redacted
  text, keeping the traceback (file names and code lines, never values).
"""

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg

from energy_assets.redaction import redact, secret_values
from energy_assets.training.reachability import RETRAIN_NEXT, exception_chain


class RedactedError(Exception):
    """An error whose message held a secret, re-raised with the secret masked."""


@contextmanager
def services_reachable(
    mlflow_uri: str, optuna_url: str | None = None, then: str = RETRAIN_NEXT
) -> Iterator[None]:
    """Turn "MLflow / Optuna database unreachable" into a failure that says which service,
    where (no password) and what to do; other errors pass through, with secrets masked."""
    try:
        yield
    except dg.Failure as failure:
        if failure.description and redact(failure.description) != failure.description:
            raise dg.Failure(description=redact(failure.description)) from None
        raise
    except Exception as error:
        from energy_assets.training.reachability import unreachable_service_message

        message = unreachable_service_message(
            error, mlflow_uri=mlflow_uri, optuna_url=optuna_url, then=then
        )
        if message is not None:
            # The cause would carry MLflow's message with the password: its first line,
            # redacted, is in `message` already.
            raise dg.Failure(description=message) from None
        secrets = secret_values({"mlflow": mlflow_uri, "optuna": optuna_url or ""})
        chain = exception_chain(error)
        texts = [str(item) for item in chain]
        if any(redact(text, secrets) != text for text in texts):
            shown = " <- ".join(
                f"{type(item).__name__}: {redact(text, secrets)}"
                for item, text in zip(chain, texts, strict=True)
            )
            raise RedactedError(shown).with_traceback(error.__traceback__) from None
        raise
