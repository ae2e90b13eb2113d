"""The demo's plumbing with a real Dagster instance: runs log to the file under DAGSTER_HOME and
not to the terminal (unless --verbose), the progress callback sees every partition written, the
budget flags build the right training config, and the home gets an instance config."""

from __future__ import annotations

import argparse
import io

import dagster as dg
import pandas as pd
import pytest

from energy_assets.devtools import demo
from energy_assets.settings import Settings

HOURS = ("2026-01-01-00:00", "2026-01-01-05:00")
# BackfillPolicy.single_run() (how the platform's backfills are one run) is beta in Dagster 1.13.
pytestmark = pytest.mark.filterwarnings("ignore:Parameter `backfill_policy`")


def _defs(event_log: demo.EventLog) -> dg.Definitions:
    hourly = dg.HourlyPartitionsDefinition(start_date="2026-01-01-00:00")

    @dg.asset(partitions_def=hourly, backfill_policy=dg.BackfillPolicy.single_run())
    def hours(context) -> None:
        context.log.info("an INFO line from the asset")

    class Nothing(dg.IOManager):
        def handle_output(self, context, obj) -> None:
            pass

        def load_input(self, context) -> None:
            return None

    return dg.Definitions(
        assets=[hours],
        jobs=[dg.define_asset_job("hours_job", [hours])],
        resources={"io_manager": Nothing()},
        loggers={demo.LOGGER_NAME: event_log.logger_def()},
    )


@pytest.mark.parametrize("verbose", [False, True])
def test_dagster_logs_go_to_the_file_and_progress_sees_each_partition(tmp_path, capfd, verbose):
    event_log = demo.EventLog(tmp_path / "logs" / "demo.log", verbose=verbose)
    terminal = demo.Terminal(stream=io.StringIO(), progress_stream=io.StringIO())
    with dg.DagsterInstance.ephemeral() as instance:
        runner = demo.Demo(_defs(event_log), instance, event_log, terminal)
        with event_log.capturing_python_logs(capture_stderr=not verbose):
            runner.backfill("hours_job", *HOURS, partitions=6, description="hours")
    event_log.close()

    written = (tmp_path / "logs" / "demo.log").read_text()
    assert "DEBUG" in written and "an INFO line from the asset" in written
    assert event_log.counts[("ASSET_MATERIALIZATION", "hours")] == 6
    terminal_text = "".join(capfd.readouterr())
    if verbose:
        assert "an INFO line from the asset" in terminal_text
    else:
        assert "DEBUG" not in terminal_text and "dagster" not in terminal_text
    assert runner.runs[0]["status"] == "SUCCESS"


def test_a_failed_run_names_the_log(tmp_path):
    event_log = demo.EventLog(tmp_path / "demo.log", verbose=False)

    @dg.asset
    def broken() -> None:
        raise ValueError("no such hour")

    defs = dg.Definitions(
        assets=[broken],
        jobs=[dg.define_asset_job("broken_job", [broken])],
        loggers={demo.LOGGER_NAME: event_log.logger_def()},
    )
    terminal = demo.Terminal(stream=io.StringIO(), progress_stream=io.StringIO())
    with dg.DagsterInstance.ephemeral() as instance:
        runner = demo.Demo(defs, instance, event_log, terminal)
        with pytest.raises(RuntimeError, match=r"broken_job failed .*Dagster's log: .*demo.log"):
            runner.run_job("broken_job")
    event_log.close()


def _args(**values) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    demo.add_arguments(parser)
    return parser.parse_args(
        [f"--{k.replace('_', '-')}={v}" if v is not True else f"--{k}" for k, v in values.items()]
    )


def test_the_budget_flags():
    import pandas as pd

    end = pd.Timestamp("2026-11-12 23:00", tz="UTC")
    default = demo.training_config(_args(), end)
    assert default["n_trials"] == 1 and default["n_folds"] == 1
    # The shipped tree count; the shipped sample size per day of history (12 of 27 days).
    assert default["fixed_params"] == {"num_boost_round": 200, "max_train_rows": 44_444}
    assert demo.training_config(_args(trials=4), end)["n_trials"] == 4
    full = demo.training_config(_args(full=True), end)
    assert full == {"training_end": end.isoformat()}  # the asset's own study
    assert demo.history_days(_args(full=True)) > demo.history_days(_args())
    with pytest.raises(SystemExit):
        _args(full=True, trials=3)


def test_the_home_gets_an_instance_config_without_telemetry(tmp_path):
    home = demo.prepare_home(Settings.for_home(tmp_path / "home"))
    config = (home / "dagster.yaml").read_text()
    assert "telemetry:\n  enabled: false" in config


def test_the_landing_shows_the_tracking_uri_without_its_password():
    import io

    from energy_assets.devtools.demo import Terminal, print_landing

    out = io.StringIO()
    summary = {
        "storage": "/data/storage",
        "drift_after": {"report": "http://127.0.0.1:3001/r.html", "report_object": "/data/r"},
        "mlflow_tracking_uri": "postgresql+psycopg2://mlflow:demo-secret@db:5432/mlflow",
        "dagster_home": "/data/home",
        "event_log": "/data/home/logs/demo.log",
        "seconds": 1.0,
        "cpu_seconds": 1.0,
        "loadavg": (0.1, 0.1, 0.1),
    }
    print_landing(Terminal(stream=out, progress_stream=io.StringIO()), summary)
    shown = out.getvalue()
    assert "postgresql+psycopg2://mlflow:***@db:5432/mlflow" in shown
    assert "demo-secret" not in shown
    # It ends with where to look next: the dashboard, the API and one request to paste.
    assert "dashboard        http://127.0.0.1:8000/" in shown
    assert "forecast API     http://127.0.0.1:8000/docs" in shown
    assert "curl 'http://127.0.0.1:8000/v1/forecasts/latest?format=csv'" in shown


@pytest.mark.parametrize(
    "dataset",
    ["ConsumptionConsumerCategoryHour", "ConsumptionIndustry", "ProductionConsumptionSettlement"],
)
def test_demo_replays_each_datasets_own_file_or_synthesises_its_columns(dataset):
    from energy_assets.devtools import BUNDLED_DATA_PATHS
    from energy_assets.sources import spec_for

    spec = spec_for(dataset)
    parser = argparse.ArgumentParser()
    demo.add_arguments(parser)
    args = parser.parse_args(["--dataset", dataset])
    assert demo.demo_data(args, spec) == BUNDLED_DATA_PATHS[dataset]
    synthetic = demo.demo_data(
        parser.parse_args(["--dataset", dataset, "--synthetic-weeks", "1"]), spec
    )
    assert list(synthetic.columns) == list(spec.columns)
    assert synthetic.groupby(list(spec.series_columns)).ngroups == len(spec.expected_series)


def test_the_forecast_step_names_tomorrow_and_its_lead_times_as_of_the_real_now():
    from energy_assets.devtools.demo import day_ahead_now

    now = pd.Timestamp("2026-12-07 20:30", tz="UTC")
    # The replay's hours are naive UTC, as the demo passes them.
    last = now.floor("h").tz_localize(None) - pd.Timedelta(hours=360)
    first = last - pd.Timedelta(days=14)
    # Too little published history for a model spanning 360 h: said, nothing run (no demo).
    text = day_ahead_now(None, now, 360, first, last)  # type: ignore[arg-type]
    assert "day-ahead for 2026-12-08 (24 h, leads 14-37 h)" in text
    assert "issued 2026-12-07 10:00 Danish time" in text and "360 h behind" in text
    assert "not issued" in text
    # Before 10:00 Danish time the forecast is issued now, still for tomorrow.
    early = day_ahead_now(None, pd.Timestamp("2026-12-07 06:10", tz="UTC"), 360, first, last)  # type: ignore[arg-type]
    assert "day-ahead for 2026-12-08 (24 h, leads 17-40 h)" in early
