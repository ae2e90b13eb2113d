"""The `energy-assets` console script: replay-api, synth, backtest, demo, forecasts, reports.

The settings are read from the environment here, once, and passed to each command. Every
command imports what it needs when it runs, so `energy-assets --help` stays quick.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from energy_assets.settings import Settings


def build_parser(settings: Settings) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="energy-assets", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    from energy_assets.devtools import replay_api, synth

    replay_api.add_arguments(
        commands.add_parser(
            "replay-api", help="serve a CSV/parquet file as the Energi Data Service API"
        ),
        settings,
    )
    synth.add_arguments(
        commands.add_parser("synth", help="write a seeded synthetic DE35-like dataset")
    )
    add_backtest_arguments(
        commands.add_parser(
            "backtest", help="train up to a cutoff and score daily origins after it"
        )
    )

    from energy_assets.devtools import demo

    demo.add_arguments(commands.add_parser("demo", help="run the whole loop headless"))
    add_forecasts_arguments(
        commands.add_parser("forecasts", help="print published forecasts from the storage")
    )
    add_reports_arguments(
        commands.add_parser("reports", help="serve the stored HTML reports to a browser")
    )
    return parser


def add_backtest_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, help="CSV / CSV.gz / parquet in the API's columns")
    parser.add_argument("--cutoff", required=True, help="last training hour, ISO (UTC)")
    parser.add_argument("--origins", type=int, required=True, help="number of daily origins")
    parser.add_argument("--horizon", type=int, default=24, help="hours ahead (default 24)")
    parser.add_argument("--trials", type=int, default=0, help="Optuna trials before training")
    parser.add_argument("--json", required=True, help="where to write predictions + metrics")
    parser.set_defaults(run=run_backtest)


def run_backtest(args: argparse.Namespace, settings: Settings) -> int:
    """Train up to the cutoff (tuning first with --trials), score the origins, write the JSON."""
    from energy_assets.features.engineering import read_consumption_file
    from energy_assets.training.backtest import summary_table
    from energy_assets.training.tracking import MlflowSettings
    from energy_assets.training.train import TuningPlan, train_candidate

    consumption = read_consumption_file(args.data)
    plan = (
        TuningPlan(n_trials=args.trials, storage_url=settings.optuna_storage_url)
        if args.trials
        else None
    )
    candidate = train_candidate(
        consumption,
        args.cutoff,
        args.origins,
        horizon_hours=args.horizon,
        tuning_plan=plan,
        tracking=MlflowSettings(settings.mlflow_tracking_uri),
        fit_final=False,
    )
    result = candidate.scored
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(result.to_json())
    print(summary_table(result))
    print(f"wrote {len(result.predictions)} predictions to {out}")
    return 0


def add_forecasts_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--area", help="price area, e.g. DK1 (default: every area)")
    parser.add_argument(
        "--consumer-type", type=int, help="DE35 consumer type, e.g. 111 (default: every type)"
    )
    parser.add_argument(
        "--origin",
        default="latest",
        help="'latest' (default) or the origin hour, ISO UTC: 2023-01-16T05:00Z",
    )
    parser.add_argument(
        "--format", choices=("table", "csv", "json"), default="table", help="default: table"
    )
    parser.set_defaults(run=run_forecasts)


def run_forecasts(args: argparse.Namespace, settings: Settings) -> int:
    """Print one origin's forecasts from the configured storage (ENERGY_STORAGE_URL)."""
    from energy_assets.forecasting.read import (
        ForecastReadError,
        open_store,
        read_forecasts,
        render,
    )

    try:
        store = open_store(settings.storage_url, settings.gcp_project)
        forecasts = read_forecasts(store, args.origin, args.area, args.consumer_type)
    except ForecastReadError as error:
        print(f"energy-assets forecasts: {error}", file=sys.stderr)
        return 2
    try:
        print(render(forecasts, args.format), flush=True)
    except BrokenPipeError:
        # Piped into `head`: the reader has what it wanted; no traceback at exit either.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def add_reports_arguments(parser: argparse.ArgumentParser) -> None:
    from energy_assets.reporting.links import DEFAULT_REPORTS_HOST, DEFAULT_REPORTS_PORT

    actions = parser.add_subparsers(dest="action", required=True)
    serve = actions.add_parser(
        "serve", help="serve the storage's .html reports (the UI's drift report links)"
    )
    serve.add_argument(
        "--host", default=None, help=f"default: ENERGY_REPORTS_URL's, else {DEFAULT_REPORTS_HOST}"
    )
    serve.add_argument(
        "--port",
        type=int,
        default=None,
        help=f"default: ENERGY_REPORTS_URL's, else {DEFAULT_REPORTS_PORT}",
    )
    serve.set_defaults(run=run_reports_serve)


def run_reports_serve(args: argparse.Namespace, settings: Settings) -> int:
    """Serve the stored reports until interrupted, where the UI's links point."""
    from urllib.parse import urlsplit

    from energy_assets.forecasting.read import ForecastReadError, open_store
    from energy_assets.reporting.links import (
        DEFAULT_REPORTS_HOST,
        DEFAULT_REPORTS_PORT,
        DEFAULT_REPORTS_URL,
    )
    from energy_assets.reporting.serve import ReportServer

    where = urlsplit(settings.reports_url or DEFAULT_REPORTS_URL)
    # Listen where the links point when they point at this machine; behind a proxy (a public
    # ENERGY_REPORTS_URL) the proxy forwards to the default local address.
    local = where.hostname in ("127.0.0.1", "localhost")
    host = args.host or (where.hostname if local else DEFAULT_REPORTS_HOST)
    port = (
        args.port
        if args.port is not None
        else (where.port if local and where.port else DEFAULT_REPORTS_PORT)
    )
    try:
        store = open_store(settings.storage_url, settings.gcp_project)
    except ForecastReadError as error:
        print(f"energy-assets reports serve: {error}", file=sys.stderr)
        return 2
    server = ReportServer(store, host=host, port=port)
    print(f"serving the reports in {store.url} at {server.url}/ (Ctrl-C stops)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


def main(argv: list[str] | None = None) -> int:
    settings = Settings.from_env()
    args = build_parser(settings).parse_args(argv)
    return int(args.run(args, settings) or 0)


if __name__ == "__main__":
    sys.exit(main())
