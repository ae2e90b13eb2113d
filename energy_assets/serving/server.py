"""`energy-assets serve`: the forecast API and dashboard on uvicorn.

Binds to 127.0.0.1 by default. Any other address needs tokens (ENERGY_API_TOKENS or
ENERGY_API_TOKEN_FILE): the service refuses to start without them, before it listens. Tokens are
never printed or logged (uvicorn's access log, off by default here, logs paths, never headers).
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import TYPE_CHECKING

from energy_assets.contracts import InputError

if TYPE_CHECKING:
    from energy_assets.serving.app import ServeConfig
    from energy_assets.settings import Settings

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
LOCAL_NAMES = frozenset({"localhost", "ip6-localhost"})


def read_tokens(tokens: str | None, token_file: str | None) -> frozenset[str]:
    """The accepted tokens: comma-separated `tokens` plus `token_file`'s lines (blank lines and
    lines starting with # skipped). InputError when the file cannot be read."""
    found = {t.strip() for t in (tokens or "").split(",") if t.strip()}
    if token_file:
        try:
            lines = Path(token_file).expanduser().read_text().splitlines()
        except OSError as error:
            raise InputError(
                f"ENERGY_API_TOKEN_FILE={token_file!r} cannot be read: {error.strerror}"
            ) from None
        found |= {line.strip() for line in lines if line.strip() and not line.startswith("#")}
    return frozenset(found)


def is_local(host: str) -> bool:
    """Whether `host` is a loopback address (127.0.0.0/8, ::1) or localhost."""
    if host.lower() in LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, tokens: frozenset[str]) -> None:
    """InputError unless `host` is local or tokens are configured."""
    if not is_local(host) and not tokens:
        raise InputError(
            f"refusing to listen on {host} without tokens: set ENERGY_API_TOKENS (comma "
            "separated) or ENERGY_API_TOKEN_FILE, or bind to 127.0.0.1"
        )


def config_from_settings(settings: Settings, tokens: frozenset[str]) -> ServeConfig:
    """The service's configuration from the platform settings (opens the storage read-only)."""
    from energy_assets.forecasting.read import open_store
    from energy_assets.serving.app import ServeConfig

    return ServeConfig(
        store=open_store(settings.storage_url, settings.gcp_project),
        dataset=settings.dataset,
        tokens=tokens,
        max_forecast_age_seconds=settings.api_max_forecast_age_seconds,
        cache_seconds=settings.api_cache_seconds,
    )


def serve(settings: Settings, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> None:
    """Check the bind, build the app, and serve until interrupted."""
    tokens = read_tokens(settings.api_tokens, settings.api_token_file)
    check_bind(host, tokens)
    import uvicorn

    from energy_assets.serving.app import create_app

    app = create_app(config_from_settings(settings, tokens))
    shown = f"[{host}]" if ":" in host else host
    print(
        f"serving forecasts from {settings.storage_url} at http://{shown}:{port}/ "
        f"(API docs /docs; {'bearer tokens required' if tokens else 'no tokens: local only'}; "
        "Ctrl-C stops)",
        flush=True,
    )
    # uvicorn's own logging config with every logger at WARNING: no access lines (requests carry
    # tokens in their headers; none are logged either way) and no INFO chatter.
    import copy

    from uvicorn.config import LOGGING_CONFIG

    quiet = copy.deepcopy(LOGGING_CONFIG)
    for logger in quiet["loggers"].values():
        logger["level"] = "WARNING"
    uvicorn.run(app, host=host, port=port, access_log=False, log_config=quiet)
