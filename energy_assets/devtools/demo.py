"""`energy-assets demo`: the whole loop headless on embedded defaults.

Replay API (the bundled real slice presented as current, or synthetic data) → one-run backfill of
raw_consumption + consumption_features with their checks → Optuna-tuned training, MLflow registry
and champion → a day of hourly forecasts → accuracy against actuals → a drift report → injected
drift → the retraining sensor requests a run, which runs. Everything is recorded in the Dagster
instance at DAGSTER_HOME, so `dagster dev` afterwards shows the runs, materialisations and checks.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import pandas as pd

from energy_assets.contracts import hour_key
from energy_assets.devtools import SAMPLE_DATA_PATH
from energy_assets.settings import Settings

REPO_DAGSTER_YAML = Path(__file__).resolve().parents[2] / "dagster.yaml"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data", help="CSV/parquet in the API's columns (default: the bundled real slice)"
    )
    parser.add_argument(
        "--synthetic-weeks",
        type=int,
        default=0,
        help="instead of --data, synthesise this many weeks of 76 series",
    )
    parser.add_argument("--trials", type=int, default=6, help="Optuna trials per training run")
    parser.add_argument(
        "--drift-factor", type=float, default=1.6, help="scale of the injected drift"
    )
    parser.add_argument("--json", help="also write the summary as JSON here")
    parser.set_defaults(run=run)


def prepare_home(settings: Settings) -> Path:
    """DAGSTER_HOME (default ./.dagster_home) with the repo's dagster.yaml if it has none."""
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists() and REPO_DAGSTER_YAML.exists():
        shutil.copy(REPO_DAGSTER_YAML, home / "dagster.yaml")
    return home


def demo_data(args) -> pd.DataFrame | Path:
    if args.synthetic_weeks:
        from energy_assets.devtools.synth import synthesize

        end = pd.Timestamp.now(tz="UTC").floor("D").tz_localize(None)
        return synthesize(76, end - pd.Timedelta(weeks=args.synthetic_weeks), end, seed=7)
    return Path(args.data) if args.data else SAMPLE_DATA_PATH


class Demo:
    """Runs jobs, the sensor and prints what happened; one instance per demo."""

    def __init__(self, defs, instance, echo=print):
        self.defs, self.instance, self.echo = defs, instance, echo
        self.runs: list[dict] = []

    def run_job(
        self, name: str, *, partition_range=None, partition_key=None, run_config=None, tags=None
    ):
        tags = dict(tags or {})
        if partition_range:
            tags["dagster/asset_partition_range_start"] = partition_range[0]
            tags["dagster/asset_partition_range_end"] = partition_range[1]
        started = time.perf_counter()
        result = self.defs.resolve_job_def(name).execute_in_process(
            instance=self.instance,
            partition_key=partition_key,
            run_config=run_config,
            tags=tags,
            raise_on_error=False,
        )
        seconds = time.perf_counter() - started
        label = partition_key or (
            f"{partition_range[0]} … {partition_range[1]}" if partition_range else ""
        )
        status = "SUCCESS" if result.success else "FAILURE"
        self.echo(f"  {name:24s} {label:38s} {status:8s} {seconds:6.1f} s  run {result.run_id[:8]}")
        self.runs.append(
            {
                "job": name,
                "partitions": label,
                "status": status,
                "seconds": round(seconds, 1),
                "run_id": result.run_id,
            }
        )
        if not result.success:
            failures = [e.message for e in result.all_events if e.is_failure]
            raise RuntimeError(
                f"{name} failed: {failures[-1] if failures else 'see the run in the UI'}"
            )
        return result

    def latest_metadata(self, asset: str) -> dict:
        from dagster import AssetKey

        event = self.instance.get_latest_materialization_event(AssetKey(asset))
        if event is None or event.asset_materialization is None:
            return {}
        return {k: v.value for k, v in event.asset_materialization.metadata.items()}

    def evaluate_sensor(self, name: str, cursor: str | None):
        from dagster import build_sensor_context

        sensor_def = self.defs.resolve_sensor_def(name)
        context = build_sensor_context(instance=self.instance, cursor=cursor, definitions=self.defs)
        return sensor_def.evaluate_tick(context)


def run(args, settings: Settings) -> int:
    home = prepare_home(settings)
    from dagster import DagsterInstance

    from energy_assets.defs import build_definitions
    from energy_assets.devtools.replay_api import ReplayServer

    delay = settings.publication_delay_hours
    print(f"energy_assets demo — DAGSTER_HOME={home}")
    with (
        ReplayServer(demo_data(args), as_current=True, publication_delay_hours=delay) as server,
        DagsterInstance.from_config(str(home)) as instance,
    ):
        settings = settings.with_overrides(api_url=server.url)
        defs = build_definitions(settings)
        demo = Demo(defs, instance)
        published = server.data[server.data["HourUTC"] <= server.newest_published_hour()]
        first, last = published["HourUTC"].min(), published["HourUTC"].max()
        print(
            f"replay API {server.url}: {published['HourUTC'].nunique()} published hours, {first} → {last} UTC"
        )
        print(f"storage {settings.storage_url}   mlflow {settings.mlflow_tracking_uri}")

        print("1. backfill raw_consumption + consumption_features (one run, checks included)")
        demo.run_job("ingestion_backfill_job", partition_range=(hour_key(first), hour_key(last)))

        scored_day = (last - pd.Timedelta(hours=47)).floor("D")
        training_end = scored_day - pd.Timedelta(hours=1)
        print(f"2. train forecasting_model up to {training_end} ({args.trials} Optuna trials)")
        model_config = {
            "training_end": training_end.isoformat(),
            "n_trials": args.trials,
            "n_folds": 2,
        }
        demo.run_job(
            "retrain_job", run_config={"ops": {"forecasting_model": {"config": model_config}}}
        )
        model = demo.latest_metadata("forecasting_model")

        day_hours = pd.date_range(scored_day, periods=24, freq="h")
        print(f"3. forecasts for the 24 origins of {scored_day:%Y-%m-%d} (one run)")
        demo.run_job(
            "forecasts_backfill_job",
            partition_range=(hour_key(day_hours[0]), hour_key(day_hours[-1])),
        )

        print("4. forecast_accuracy + drift_report for that day")
        day_key = f"{scored_day:%Y-%m-%d}"
        demo.run_job("daily_monitoring_job", partition_key=day_key)
        accuracy = demo.latest_metadata("forecast_accuracy")
        drift_before = demo.latest_metadata("drift_report")

        sensor_name = "retrain_on_drift_or_error"
        tick = demo.evaluate_sensor(sensor_name, None)
        print(f"   sensor: {tick.skip_message or f'{len(tick.run_requests)} run request(s)'}")

        drift_day = (last - pd.Timedelta(hours=23)).floor("D") - pd.Timedelta(days=1)
        print(
            f"5. inject drift: the source now reports {args.drift_factor}× consumption from {drift_day:%Y-%m-%d}"
        )
        drifted = server.data.copy()
        late = drifted["HourUTC"] >= drift_day - pd.Timedelta(days=7)
        drifted.loc[late, "TotalCon"] = (drifted.loc[late, "TotalCon"] * args.drift_factor).round()
        # set_data shifts to the present again, so hand it the frame in its original weeks.
        drifted["HourUTC"] -= pd.Timedelta(weeks=server.shift_weeks)
        server.set_data(drifted)
        drift_hours = pd.date_range(drift_day, periods=24, freq="h")
        demo.run_job(
            "ingestion_backfill_job",
            partition_range=(hour_key(drift_day - pd.Timedelta(days=7)), hour_key(drift_hours[-1])),
        )
        demo.run_job("daily_monitoring_job", partition_key=f"{drift_day:%Y-%m-%d}")
        drift_after = demo.latest_metadata("drift_report")

        tick = demo.evaluate_sensor(sensor_name, tick.cursor)
        if not tick.run_requests:
            print(f"   sensor skipped: {tick.skip_message}")
            retrain = None
        else:
            request = tick.run_requests[0]
            print(f"   sensor requested a retrain (run key {request.run_key})")
            retrain_config = {**model_config, "training_end": (drift_hours[-1]).isoformat()}
            demo.run_job(
                "retrain_job",
                run_config={"ops": {"forecasting_model": {"config": retrain_config}}},
                tags={
                    **request.tags,
                    "dagster/run_key": request.run_key,
                    "dagster/sensor_name": sensor_name,
                },
            )
            retrain = demo.latest_metadata("forecasting_model")
            again = demo.evaluate_sensor(sensor_name, tick.cursor)
            print(
                f"   sensor on the next tick: {again.skip_message or 'requested again (unexpected)'}"
            )

    summary = {
        "dagster_home": str(home),
        "storage": settings.storage_url,
        "mlflow_tracking_uri": settings.mlflow_tracking_uri,
        "model": {
            k: model.get(k)
            for k in (
                "model_version",
                "champion",
                "promotion",
                "backtest_mape",
                "seasonal_naive_168_mape",
            )
        },
        "accuracy": {k: accuracy.get(k) for k in ("mape", "wape", "n_points", "coverage")},
        "drift_before": {
            k: drift_before.get(k) for k in ("drift_share", "dataset_drift", "report")
        },
        "drift_after": {
            k: drift_after.get(k)
            for k in ("drift_share", "dataset_drift", "drifted_columns", "report")
        },
        "retrain": {k: retrain.get(k) for k in ("model_version", "champion", "promotion")}
        if retrain
        else None,
        "runs": demo.runs,
    }
    print_summary(summary)
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2, default=str))
    return 0


def print_summary(summary: dict) -> None:
    model, accuracy = summary["model"], summary["accuracy"]
    print("\nSummary")
    print(
        f"  model v{model['model_version']}: backtest MAPE {float(model['backtest_mape']):.2%} "
        f"(seasonal naive 168 h: {float(model['seasonal_naive_168_mape']):.2%}); {model['promotion']}"
    )
    print(
        f"  accuracy of a day of forecasts: MAPE {float(accuracy['mape']):.2%}, WAPE {float(accuracy['wape']):.2%} "
        f"over {accuracy['n_points']} points"
    )
    before, after = summary["drift_before"], summary["drift_after"]
    print(
        f"  drift share {float(before['drift_share']):.2f} before, {float(after['drift_share']):.2f} after injecting drift "
        f"({after['drifted_columns']})"
    )
    if summary["retrain"]:
        print(
            f"  retrained by the sensor: v{summary['retrain']['model_version']}; {summary['retrain']['promotion']}"
        )
    print("Where everything landed")
    print(f"  asset values      {summary['storage']}/<asset>/date=YYYY-MM-DD/hour=HH/data.parquet")
    print(f"  latest forecast   {summary['storage']}/forecasts/latest/data.parquet")
    print(f"  drift report      {after['report']}")
    print(
        f"  MLflow            {summary['mlflow_tracking_uri']}  (mlflow ui --backend-store-uri …)"
    )
    print(
        f"  Dagster instance  {summary['dagster_home']}  (`dagster dev` to browse runs and checks)"
    )
