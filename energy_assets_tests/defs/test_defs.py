"""A snapshot of the graph the code location serves: asset keys (contract), their groups,
partitions, backfill policies and checks, the jobs and what they select, schedules, sensors and
resources. Fast: it only builds the Definitions, so `make test-fast` runs it."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import dagster as dg
import pytest

from energy_assets.defs import build_definitions
from energy_assets.settings import Settings

REPO = Path(__file__).resolve().parents[2]

ASSETS = {
    # key: (group, partitions, hours per backfill run (None: no backfill policy), {check: blocking})
    # The hourly assets backfill in units of ENERGY_BACKFILL_HOURS_PER_RUN (1,488 by default).
    "raw_consumption": ("ingestion", "hourly", 1488, {"raw_consumption_gx_suite": False}),
    "consumption_features": (
        "features",
        "hourly",
        1488,
        # The plausibility check warns by default (ENERGY_IMPLAUSIBLE_VALUES=warn); the series
        # catalogue check always warns.
        {
            "consumption_features_gx_suite": True,
            "consumption_features_plausible_values": False,
            "series_catalogue": False,
        },
    ),
    "forecasting_model": ("training", None, None, {}),
    "forecasts": ("forecasting", "hourly", 1488, {"forecasts_gx_suite": True}),
    "forecast_accuracy": ("monitoring", "daily", None, {}),
    "drift_report": ("monitoring", "daily", None, {}),
    "weather": ("ingestion", "hourly", 1488, {"weather_gx_suite": True}),
    "realtime_load": (
        "ingestion",
        "hourly",
        1488,
        {"realtime_load_gx_suite": True, "realtime_load_plausible_values": False},
    ),
    # Forecast products: one run per issue time (a vintage is never part of a range rewrite).
    "day_ahead_forecasts": ("forecasting", "daily", None, {"day_ahead_forecasts_gx_suite": True}),
    "intraday_forecasts": ("forecasting", "hourly", None, {"intraday_forecasts_gx_suite": True}),
}
JOBS = {
    "hourly_forecast_job": {"raw_consumption", "consumption_features", "forecasts"},
    "ingestion_backfill_job": {"raw_consumption", "consumption_features"},
    "forecasts_backfill_job": {"forecasts"},
    "daily_monitoring_job": {"forecast_accuracy", "drift_report"},
    "retrain_job": {"forecasting_model"},
    # An op job: it submits a backfill of the revised partitions instead of materialising.
    "revision_pass_job": set(),
    "weather_job": {"weather"},
    "realtime_load_job": {"realtime_load"},
    "day_ahead_job": {"day_ahead_forecasts"},
    "intraday_job": {"intraday_forecasts"},
}


@pytest.fixture(scope="module")
def defs() -> dg.Definitions:
    settings = Settings.for_home("/nonexistent/home", partitions_start="2022-12-21-16:00")
    return build_definitions(settings)


def _partitions(definition) -> str | None:
    if definition is None:
        return None
    return {"HourlyPartitionsDefinition": "hourly", "DailyPartitionsDefinition": "daily"}[
        type(definition).__name__
    ]


def test_assets_partitions_and_checks(defs):
    seen = {}
    for assets_def in defs.assets:
        (key,) = assets_def.keys
        seen[key.to_user_string()] = (
            assets_def.group_names_by_key[key],
            _partitions(assets_def.partitions_def),
            assets_def.backfill_policy.max_partitions_per_run
            if assets_def.backfill_policy
            else None,
            {spec.name: spec.blocking for spec in assets_def.check_specs},
        )
    assert seen == ASSETS
    hourly = next(
        a.partitions_def for a in defs.assets if _partitions(a.partitions_def) == "hourly"
    )
    by_key = {a.key.to_user_string(): a.partitions_def for a in defs.assets}
    daily = by_key["forecast_accuracy"]
    assert hourly.get_first_partition_key() == "2022-12-21-16:00"
    assert daily.get_first_partition_key() == "2022-12-21"  # the day of the first hour
    assert str(hourly.timezone) == str(daily.timezone) == "UTC"
    # The day-ahead is keyed by the Danish day it is issued on.
    assert str(by_key["day_ahead_forecasts"].timezone) == "Europe/Copenhagen"
    assert by_key["intraday_forecasts"] == hourly


def _job_name(sensor: dg.SensorDefinition) -> str | None:
    """The job(s) a sensor requests runs of; None for a sensor that requests none (alerts)."""
    names = sorted(target.job_name for target in sensor.targets)
    return ",".join(names) if names else None


def test_jobs_schedules_sensors_and_resources(defs):
    repository = defs.get_repository_def()
    for name, selected in JOBS.items():
        job = repository.get_job(name)
        assert {key.to_user_string() for key in job.asset_layer.executable_asset_keys} == selected
    assert {(s.name, s.cron_schedule, s.job_name) for s in defs.schedules} == {
        ("hourly_forecast_schedule", "5 * * * *", "hourly_forecast_job"),
        ("daily_monitoring_schedule", "30 6 * * *", "daily_monitoring_job"),
        ("daily_revision_schedule", "15 4 * * *", "revision_pass_job"),
        ("weekly_revision_schedule", "45 4 * * 0", "revision_pass_job"),
        ("hourly_weather_schedule", "1 * * * *", "weather_job"),
        ("realtime_load_schedule", "20 * * * *", "realtime_load_job"),
        # 20 minutes after the issue time, when the hour published then is ingested.
        ("day_ahead_schedule", "20 10 * * *", "day_ahead_job"),
        ("intraday_schedule", "20 * * * *", "intraday_job"),
    }
    windows = {
        s.name: s.evaluate_tick(dg.build_schedule_context()).run_requests[0].run_config["ops"]
        for s in defs.schedules
        if s.job_name == "revision_pass_job"
    }
    assert windows == {
        "daily_revision_schedule": {"find_revised_hours": {"config": {"window_days": 14}}},
        "weekly_revision_schedule": {"find_revised_hours": {"config": {"window_days": 90}}},
    }  # the weekly 92 days capped at DE35's revision horizon (90 days)
    assert [(s.name, _job_name(s), s.minimum_interval_seconds) for s in defs.sensors] == [
        ("retrain_on_drift_or_error", "retrain_job", 60),
        # Alerts (defs/alerts.py): they request no run; on by default, so an unattended
        # platform tells someone.
        ("alert_on_run_failure", None, 30),
        ("alert_on_run_recovery", None, 30),
        ("alert_on_asset_events", None, 30),
        # Gap-free automation (defs/automation.py): off until switched on, like the schedules.
        (
            "catch_up_sensor",
            "daily_monitoring_job,forecasts_backfill_job,ingestion_backfill_job",
            300,
        ),
        # A re-materialised raw hour refreshes what read it (defs/corrections.py): a backfill,
        # no job of its own; on by default, so a correction never stops at itself.
        ("correction_sensor", None, 60),
    ]
    assert {s.name for s in defs.sensors if s.default_status.value == "RUNNING"} == {
        "alert_on_run_failure",
        "alert_on_run_recovery",
        "alert_on_asset_events",
        "correction_sensor",
    }
    assert set(defs.resources) == {
        "storage",
        "io_manager",
        "step_io_manager",
        "energidata",
        "weather_api",
        "mlflow",
        "optuna",
        "gx",
        "alerts",
        "realtime_energidata",
    }
    defs.validate_loadable(defs)


def test_forecasting_model_fans_tuning_out_over_worker_steps(defs):
    """prepare -> N tune workers (a dynamic fan-out) -> finalize, under the contract key."""
    model = defs.get_assets_def("forecasting_model")
    graph = model.node_def
    assert {node.name for node in graph.nodes} == {
        "prepare_tuning",
        "tune_worker",
        "finalize_model",
    }
    assert graph.dependency_structure.is_dynamic_mapped("tune_worker")
    assert model.dependency_keys == {dg.AssetKey("consumption_features")}
    # The run config keeps a plain asset's shape: ops.forecasting_model.config.
    job = defs.resolve_job_def("retrain_job")
    assert job.executor_def.name == "multiprocess"  # the location default is in-process
    config = {"ops": {"forecasting_model": {"config": {"n_trials": 4, "n_workers": 2}}}}
    from dagster._config import validate_config

    assert validate_config(job.run_config_schema.config_type, config).success
    bad = {"ops": {"forecasting_model": {"config": {"n_workers": "two"}}}}
    assert not validate_config(job.run_config_schema.config_type, bad).success


def test_the_retrain_job_runs_its_steps_as_pods_with_the_k8s_executor():
    settings = Settings.for_home(
        "/nonexistent/home", partitions_start="2022-12-21-16:00", retrain_executor="k8s"
    )
    job = build_definitions(settings).resolve_job_def("retrain_job")
    assert job.executor_def.name == "k8s_tuning_executor"
    other = build_definitions(settings).resolve_job_def("ingestion_backfill_job")
    assert other.executor_def.name == "in_process"


@pytest.mark.slow
@pytest.mark.parametrize(
    "command",
    [
        ["dagster", "definitions", "validate", "-w", "workspace.yaml"],
        ["dg", "check", "defs"],
    ],
    ids=["dagster_definitions_validate", "dg_check_defs"],
)
def test_the_clis_load_the_code_location(command, tmp_path):
    executable = Path(sys.executable).with_name(command[0])
    done = subprocess.run(
        [str(executable), *command[1:]],
        cwd=REPO,
        env={
            "DAGSTER_HOME": str(tmp_path),
            "PATH": f"{executable.parent}:/usr/bin:/bin",
            "VIRTUAL_ENV": str(executable.parent.parent),
        },
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]


def test_published_assets_have_freshness_deadlines(defs):
    """forecasts (hourly) and forecast_accuracy (daily) carry the daemon-evaluated policies the
    alerts read; nothing else is judged on freshness."""
    windows = {}
    for assets_def in defs.assets:
        for key, spec in assets_def.specs_by_key.items():
            if spec.freshness_policy is not None:
                policy = spec.freshness_policy
                windows[key.to_user_string()] = (
                    policy.fail_window.to_timedelta(),
                    policy.warn_window.to_timedelta(),
                )
    assert windows == {
        "forecasts": (timedelta(hours=2), timedelta(minutes=90)),
        "forecast_accuracy": (timedelta(hours=30), timedelta(hours=26)),
    }
