"""The `energy-assets` console script: replay-api, synth, backtest, demo, storage clean-temp,
forecasts, reports serve, serve.

The settings are read from the environment here, once, and passed to each command. Every
command imports what it needs when it runs, so `energy-assets --help` stays quick.

Bad input (a missing file, an argument out of range, a setting that does not parse) raises
`contracts.InputError`; `main` prints it as one line, `energy-assets <command>: error: ...`, and
exits 2, like argparse. Any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from energy_assets.contracts import InputError
from energy_assets.settings import Settings

# Exit status for bad input, as argparse uses for bad arguments.
USAGE_ERROR = 2


def build_parser(settings: Settings) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="energy-assets", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    from energy_assets.devtools import replay_api, synth, weather_replay

    replay_api.add_arguments(
        commands.add_parser(
            "replay-api", help="serve a CSV/parquet file as the Energi Data Service API"
        ),
        settings,
    )
    weather_replay.add_arguments(
        commands.add_parser(
            "weather-replay", help="serve an hourly weather file as Open-Meteo's /v1/forecast"
        )
    )
    synth.add_arguments(
        commands.add_parser(
            "synth", help="write a seeded synthetic dataset in any source spec's columns"
        )
    )
    add_backtest_arguments(
        commands.add_parser(
            "backtest", help="train up to a cutoff and score daily origins after it"
        )
    )

    from energy_assets.devtools import demo

    demo.add_arguments(commands.add_parser("demo", help="run the whole loop headless"))
    storage = commands.add_parser("storage", help="maintenance of the configured storage")
    storage_commands = storage.add_subparsers(dest="storage_command", required=True)
    add_clean_temp_arguments(
        storage_commands.add_parser(
            "clean-temp", help="remove temp files that killed writers left behind"
        )
    )
    add_forecasts_arguments(
        commands.add_parser("forecasts", help="print published forecasts from the storage")
    )
    add_reports_arguments(
        commands.add_parser("reports", help="serve the stored HTML reports to a browser")
    )
    add_serve_arguments(
        commands.add_parser("serve", help="the forecast API, dashboard and /metrics over HTTP")
    )
    series = commands.add_parser("series", help="the configured dataset's series catalogue")
    series_commands = series.add_subparsers(dest="series_command", required=True)
    add_series_show_arguments(
        series_commands.add_parser("show", help="list the expected series and accepted changes")
    )
    add_series_accept_arguments(
        series_commands.add_parser(
            "accept", help="record a retired or new series so the catalogue check passes again"
        )
    )
    return parser


def add_backtest_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data", required=True, help="CSV / CSV.gz / parquet in the dataset's own columns"
    )
    add_dataset_argument(parser)
    parser.add_argument("--cutoff", required=True, help="last training hour, ISO (UTC)")
    parser.add_argument("--origins", type=int, required=True, help="number of daily origins")
    parser.add_argument("--horizon", type=int, default=24, help="hours ahead (default 24)")
    parser.add_argument("--trials", type=int, default=0, help="Optuna trials before training")
    parser.add_argument("--json", required=True, help="where to write predictions + metrics")
    parser.add_argument(
        "--weather",
        default=None,
        help="hourly weather (DMI's national CSV columns, or an Open-Meteo JSON answer): the "
        "predictions and metrics are the variant the weather rule serves; every variant's "
        "metrics under the JSON key `weather`",
    )
    parser.add_argument(
        "--product",
        choices=("day-ahead", "intraday"),
        default=None,
        help="score a wall-clock forecast product from its issue times: --origins issue days from "
        "the cutoff's day, by lead time, against the naives known at issue time (with --dataset "
        "ElectricityBalanceNonv: each area's total, against Energinet's own forecast)",
    )
    parser.add_argument(
        "--lag",
        type=int,
        default=None,
        help="with --product: the publication lag in hours (default: the dataset's spec lag)",
    )
    parser.add_argument(
        "--realtime",
        default=None,
        help="with --product: a total-load file (ElectricityBalanceNonv's columns or the ENTSO-E "
        "export): adds the variants whose level is each area's total forecast from the real-time "
        "hours known at issue time (with --weather: also with the target day's weather)",
    )
    parser.add_argument(
        "--calibration-days",
        type=int,
        default=14,
        help="with --product: issue days before the first whose out-of-sample errors calibrate "
        "the p10-p90 band per band of 6 lead times (split-conformal; 0: the model's own band)",
    )
    parser.set_defaults(run=run_backtest)


def run_backtest(args: argparse.Namespace, settings: Settings) -> int:
    """Train up to the cutoff (tuning first with --trials), score the origins, write the JSON.

    Every argument and the data window are checked before any training starts.
    """
    if args.dataset and dataset_spec(args, settings).dataset == "ElectricityBalanceNonv":
        return run_area_totals_backtest(args)
    if args.product:
        return run_product_backtest(args, settings)
    import pandas as pd

    from energy_assets.contracts import parse_hour
    from energy_assets.features.engineering import read_consumption_file
    from energy_assets.training import steps
    from energy_assets.training.backtest import (
        check_backtest_arguments,
        check_backtest_window,
        summary_table,
    )
    from energy_assets.training.tracking import MlflowSettings

    check_backtest_arguments(args.origins, args.horizon)
    if args.trials < 0:
        raise InputError(f"--trials must be 0 (no tuning) or more (got {args.trials})")
    cutoff = parse_hour(args.cutoff, "--cutoff")
    consumption = read_consumption_file(args.data, dataset_spec(args, settings))
    check_backtest_window(consumption, cutoff, args.origins, args.horizon, source=args.data)
    weather = None
    if args.weather:
        from energy_assets.ingestion.weather_files import read_weather_file

        weather = read_weather_file(args.weather)
    # The retrain's steps in this process: plan (tuning on folds before the cutoff), shares,
    # then the tuned configuration's backtest on the origins after it.
    services = steps.TrainingServices(
        settings.optuna_storage_url, MlflowSettings(settings.mlflow_tracking_uri)
    )
    plan = steps.plan_training(
        window_start=consumption["datetime_utc"].min(),
        window_end=cutoff + pd.Timedelta(days=args.origins),
        backtest_days=args.origins,
        budget=steps.TuningBudget(n_trials=args.trials),
        horizon_hours=args.horizon,
    )
    result = steps.tuned_backtest(steps.open_tuning(plan, services), consumption, services)
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    document = result.to_json()
    if weather is not None:
        import json

        from energy_assets.training.weather_backtest import compare_weather, weather_summary

        # The tuned configuration, six ways; the top level is what the rule served (the
        # other variants stay under `weather`).
        compared, result = compare_weather(
            consumption,
            weather,
            cutoff,
            args.origins,
            horizon_hours=args.horizon,
            params=result.params,
        )
        document = json.dumps({**json.loads(result.to_json()), "weather": compared}, default=str)
    out.write_text(document)
    print(summary_table(result))
    if weather is not None:
        print(weather_summary(compared))
    print(f"wrote {len(result.predictions)} predictions to {out}")
    return 0


def run_area_totals_backtest(args: argparse.Namespace) -> int:
    """`backtest --dataset ElectricityBalanceNonv`: each area's total, day-ahead from the
    real-time level (energy_assets/forecasting/area_backtest.py)."""
    from energy_assets.forecasting.area_backtest import backtest_from_file, summary_text

    result = backtest_from_file(
        args.data,
        args.cutoff,
        args.origins,
        args.json,
        weather_path=args.weather,
        product=args.product or "day-ahead",
    )
    print(summary_text(result))
    print(f"wrote {len(result.points)} predictions to {args.json}")
    return 0


def run_product_backtest(args: argparse.Namespace, settings: Settings) -> int:
    """`backtest --product`: the product issued on --origins days from the cutoff's Danish day,
    trained on what was published at the first issue (forecasting/product_backtest.py)."""
    from energy_assets.contracts import DANISH_TZ, parse_hour
    from energy_assets.features.engineering import read_consumption_file
    from energy_assets.forecasting import product_backtest

    if args.origins < 1:
        raise InputError(f"--origins must be 1 or more issue days (got {args.origins})")
    spec = dataset_spec(args, settings)
    lag = spec.publication_lag_hours if args.lag is None else args.lag
    if lag < 1:
        raise InputError(f"--lag must be 1 hour or more (got {args.lag})")
    first_day = parse_hour(args.cutoff, "--cutoff").tz_convert(DANISH_TZ).strftime("%Y-%m-%d")
    if args.calibration_days < 0:
        raise InputError(f"--calibration-days must be 0 or more (got {args.calibration_days})")
    if args.weather and not args.realtime:
        raise InputError(
            "--weather with --product needs --realtime: the products read the target day's "
            "weather through the area totals' level (docs/concepts/forecast-products.md)"
        )
    consumption = read_consumption_file(args.data, spec)
    realtime = weather = None
    if args.realtime:
        from energy_assets.features.realtime_load import read_total_load_file

        realtime = read_total_load_file(args.realtime)
        if args.weather:
            from energy_assets.ingestion.weather_files import read_weather_file

            weather = read_weather_file(args.weather)
    try:
        result = product_backtest.product_backtest(
            consumption,
            args.product,
            first_day,
            args.origins,
            lag,
            realtime=realtime,
            weather=weather,
            calibration_days=args.calibration_days,
        )
    except ValueError as error:
        raise InputError(str(error)) from None
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(product_backtest.to_json(result))
    print(product_backtest.summary([result]))
    print(f"wrote {len(result['predictions'])} predictions to {out}")
    return 0


def add_dataset_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dataset",
        default=None,
        help="the dataset whose columns the file has (a source spec's name; default "
        "ENERGIDATA_DATASET's)",
    )


def dataset_spec(args: argparse.Namespace, settings: Settings):  # -> SourceSpec
    """The source spec --dataset names, else the configured one (InputError if unknown)."""
    from energy_assets.sources import spec_for

    return spec_for(args.dataset) if args.dataset else settings.source


def _configured_store(settings: Settings):  # -> ParquetStore
    from energy_assets.storage.parquet_store import ParquetStore

    client = None
    if settings.storage_url.startswith("gs://"):
        from google.cloud import storage

        client = storage.Client(project=settings.gcp_project)
    return ParquetStore(settings.storage_url, gcs_client=client)


def add_series_show_arguments(parser: argparse.ArgumentParser) -> None:
    parser.set_defaults(run=run_series_show)


def run_series_show(args: argparse.Namespace, settings: Settings) -> int:
    from energy_assets.monitoring.series_catalogue import load_catalogue, series_text

    catalogue = load_catalogue(_configured_store(settings), settings.source)
    for series in sorted(catalogue.expected):
        print(series_text(series))
    print(
        f"{len(catalogue.expected)} expected series of {catalogue.dataset} "
        f"({len(catalogue.added)} added, {len(catalogue.retired)} retired since the spec"
        + (f"; last accepted {catalogue.accepted_at}" if catalogue.accepted_at else "")
        + ")"
    )
    return 0


def add_series_accept_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--retire", nargs="+", default=[], metavar="AREA/SEGMENT", help="no longer expected"
    )
    parser.add_argument(
        "--add", nargs="+", default=[], metavar="AREA/SEGMENT", help="expected from now on"
    )
    parser.add_argument(
        "--hour",
        default=None,
        help="accept what this stored consumption_features hour shows (e.g. 2024-03-01-12:00, "
        "the check's newest_hour): its series become the expected ones",
    )
    parser.add_argument(
        "--flat",
        nargs="+",
        default=[],
        metavar="AREA/SEGMENT",
        help="legitimately flat (a closed site at zero): not flagged as a flatliner",
    )
    parser.set_defaults(run=run_series_accept)


def run_series_accept(args: argparse.Namespace, settings: Settings) -> int:
    """Record accepted series changes in `<storage>/series_catalogue/<dataset>.json`."""
    from energy_assets.contracts import FEATURES
    from energy_assets.monitoring.series_catalogue import (
        load_catalogue,
        newest_hour_series,
        parse_series,
        save_catalogue,
        series_text,
    )

    store = _configured_store(settings)
    catalogue = load_catalogue(store, settings.source)
    add = {parse_series(text) for text in args.add}
    retire = {parse_series(text) for text in args.retire}
    if args.hour:
        try:
            frame = store.read(FEATURES.name, args.hour)
        except FileNotFoundError:
            raise InputError(
                f"--hour {args.hour}: no consumption_features stored for that hour under "
                f"{settings.storage_url}; name a materialised hour (YYYY-MM-DD-HH:00)"
            ) from None
        shown = newest_hour_series(frame, FEATURES.time_column)
        add |= shown - catalogue.expected
        retire |= catalogue.expected - shown
    flat = {parse_series(text) for text in args.flat}
    if not add and not retire and not flat:
        raise InputError("nothing to accept: give --retire, --add, --hour or --flat")
    updated = catalogue.accept(add=add, retire=retire).accept_flat(flat)
    uri = save_catalogue(store, updated)
    for series in sorted(flat):
        print(f"flat ok {series_text(series)}")
    for series in sorted(add):
        print(f"added   {series_text(series)}")
    for series in sorted(retire):
        print(f"retired {series_text(series)}")
    print(f"{len(updated.expected)} expected series of {updated.dataset}, written to {uri}")
    return 0


def add_clean_temp_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--older-than",
        default="1h",
        help="also remove temp files older than this whose writer may still run (e.g. 30m, 2h, "
        "1d; default 1h); those of writers on this host that are gone are removed at any age",
    )
    parser.add_argument("--dry-run", action="store_true", help="list them, remove nothing")
    parser.set_defaults(run=run_clean_temp)


def run_clean_temp(args: argparse.Namespace, settings: Settings) -> int:
    """Sweep the configured storage (ENERGY_STORAGE_URL, local or gs://) for orphaned temp files."""
    from energy_assets.storage.parquet_store import ParquetStore

    older_than = parse_duration(args.older_than, "--older-than")
    client = None
    if settings.storage_url.startswith("gs://"):
        from google.cloud import storage

        client = storage.Client(project=settings.gcp_project)
    store = ParquetStore(settings.storage_url, gcs_client=client)
    result = store.clean_temp(older_than_seconds=older_than, dry_run=args.dry_run)
    for path in result.removed:
        print(("would remove " if args.dry_run else "removed ") + path)
    verb = "would remove" if args.dry_run else "removed"
    print(
        f"{verb} {len(result.removed)} orphaned temp file(s), {result.removed_bytes:,} bytes, "
        f"under {settings.storage_url}; kept {len(result.kept)} younger than {args.older_than} "
        "whose writer may still be running"
    )
    return 0


def parse_duration(text: str, name: str) -> float:
    """'90s', '30m', '2h', '1d' or plain seconds, as seconds; InputError naming `name` if not."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    value = text.strip().lower()
    factor = units.get(value[-1:], None)
    number = value[:-1] if factor else value
    try:
        seconds = float(number) * (factor or 1)
    except ValueError:
        seconds = float("nan")
    if not seconds >= 0:
        raise InputError(f"{name} {text!r} is not a duration: use e.g. 90s, 30m, 2h or 1d")
    return seconds


def add_forecasts_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--area", help="price area, e.g. DK1 (default: every area)")
    parser.add_argument(
        "--segment",
        "--consumer-type",
        dest="segment",
        help="segment within the area, e.g. 111 (a DE35 code), 'Region Hovedstaden / Privat' "
        "(default: every segment); --consumer-type is the older name",
    )
    parser.add_argument(
        "--origin",
        default="latest",
        help="'latest' (default) or the origin hour, ISO UTC: 2023-01-16T05:00Z",
    )
    parser.add_argument(
        "--format", choices=("table", "csv", "json"), default="table", help="default: table"
    )
    parser.add_argument(
        "--quality",
        choices=("model", "fallback"),
        default=None,
        help="only the model's rows, or only the labelled fallback's (default: both)",
    )
    parser.set_defaults(run=run_forecasts)


def run_forecasts(args: argparse.Namespace, settings: Settings) -> int:
    """Print one origin's forecasts from the configured storage (ENERGY_STORAGE_URL).

    An unknown series, an origin never forecast or unreachable storage raises
    `ForecastReadError` (an InputError: one line, exit 2)."""
    from energy_assets.forecasting.read import open_store, read_forecasts, render

    store = open_store(settings.storage_url, settings.gcp_project)
    forecasts = read_forecasts(store, args.origin, args.area, args.segment, args.quality)
    try:
        print(render(forecasts, args.format), flush=True)
    except BrokenPipeError:
        # Piped into `head`: the reader has what it wanted; no traceback at exit either.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def add_reports_arguments(parser: argparse.ArgumentParser) -> None:
    from energy_assets.reporting.links import DEFAULT_REPORTS_HOST, DEFAULT_REPORTS_PORT

    actions = parser.add_subparsers(dest="reports_command", required=True)
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

    from energy_assets.forecasting.read import open_store
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
    host = args.host or (where.hostname if local and where.hostname else DEFAULT_REPORTS_HOST)
    port = (
        args.port
        if args.port is not None
        else (where.port if local and where.port else DEFAULT_REPORTS_PORT)
    )
    store = open_store(settings.storage_url, settings.gcp_project)
    try:
        server = ReportServer(store, host=host, port=port)
    except OSError as error:
        raise InputError(f"cannot listen on {host}:{port}: {error.strerror}; use --port") from None
    print(f"serving the reports in {store.url} at {server.url}/ (Ctrl-C stops)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


def serve_parser() -> argparse.ArgumentParser:
    """The parser of `energy-assets serve` alone (what `main` uses for that command)."""
    parser = argparse.ArgumentParser(prog="energy-assets", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    add_serve_arguments(
        commands.add_parser("serve", help="the forecast API, dashboard and /metrics over HTTP")
    )
    return parser


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1; any other needs ENERGY_API_TOKENS)",
    )
    parser.add_argument("--port", type=int, default=8000, help="default 8000")
    parser.set_defaults(run=run_serve)


def run_serve(args: argparse.Namespace, settings: Settings) -> int:
    """Serve the stored forecasts (ENERGY_STORAGE_URL) until interrupted."""
    from energy_assets.serving.server import serve

    if not 0 <= args.port <= 65535:
        raise InputError(f"--port {args.port} is not a port (0-65535)")
    try:
        serve(settings, host=args.host, port=args.port)
    except KeyboardInterrupt:
        pass
    return 0


def main(argv: list[str] | None = None) -> int:
    try:
        settings = Settings.from_env()
    except InputError as exc:
        return _report("energy-assets", exc)
    given = sys.argv[1:] if argv is None else argv
    # `serve` parses alone: the full parser imports every command's module (the demo, the
    # replays), ~0.9 s of CPU a long-running service need not pay at each start.
    parser = serve_parser() if given[:1] == ["serve"] else build_parser(settings)
    args = parser.parse_args(argv)
    try:
        code = int(args.run(args, settings) or 0)
    except InputError as exc:
        subcommand = getattr(args, "storage_command", None) or getattr(
            args, "reports_command", None
        )
        command = " ".join(filter(None, (args.command, subcommand)))
        return _report(f"energy-assets {command}", exc)
    if argv is None and args.command == "demo":
        _exit_now(code)
    return code


def _exit_now(code: int) -> None:
    """End the process without tearing its modules down. The demo imports most of the scientific
    stack (Dagster, GX, Evidently, MLflow, LightGBM): Python's module teardown then takes ~4 s on
    two cores and serves no one, as everything is written and closed when the demo returns."""
    import logging

    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _report(prog: str, error: InputError) -> int:
    """One line on stderr, `<prog>: error: <message>`, and the usage-error exit status."""
    message = " ".join(str(error).split())
    print(f"{prog}: error: {message}", file=sys.stderr)
    return USAGE_ERROR


if __name__ == "__main__":
    sys.exit(main())
