"""Alerts end to end: the real graph fails against the replay API, Dagster's own sensors are
evaluated against the instance, and a real webhook receiver and SMTP server on 127.0.0.1 record
what a person would receive. One incident, one alert; a recovery, one "resolved"."""

from __future__ import annotations

import pandas as pd
import pytest
from dagster import (
    AssetKey,
    AssetMaterialization,
    DagsterInstance,
    build_sensor_context,
)

from energy_assets.defs import build_definitions
from energy_assets.defs.alerts import AlertsResource, build_alert_sensors
from energy_assets.settings import Settings

HOUR = "2023-01-10-12:00"
BAD_HOUR = pd.Timestamp("2023-01-10 12:00")
UI = "http://dagster.example:3000"


@pytest.fixture
def alerts(webhook_receiver, smtp_receiver) -> AlertsResource:
    return AlertsResource(
        ui_url=UI,
        webhook_url=webhook_receiver.url,
        smtp_host=smtp_receiver.host,
        smtp_port=smtp_receiver.port,
        smtp_from="dagster@energy.invalid",
        smtp_to="ops@energy.invalid, oncall@energy.invalid",
        smtp_starttls=False,
    )


class Daemon:
    """Evaluates every alert sensor against the instance, keeping their cursors, as the
    daemon's ticks do."""

    def __init__(self, instance: DagsterInstance, alerts: AlertsResource) -> None:
        self.instance, self.alerts = instance, alerts
        self.sensors = build_alert_sensors()
        self.cursors: dict[str, str | None] = {}

    def tick(self) -> None:
        for sensor in self.sensors:
            context = build_sensor_context(
                instance=self.instance,
                cursor=self.cursors.get(sensor.name),
                resources={"alerts": self.alerts},
            )
            self.cursors[sensor.name] = sensor.evaluate_tick(context).cursor


@pytest.fixture
def graph(tmp_path, monkeypatch, replay_server):
    """start(frame) -> (definitions, replay server): the platform on a replay API serving it."""

    def start(frame: pd.DataFrame):
        server = replay_server(frame)
        monkeypatch.setenv("ENERGIDATA_API_URL", server.url)
        monkeypatch.setenv("ENERGY_STORAGE_URL", str(tmp_path / "storage"))
        monkeypatch.setenv("ENERGY_PARTITIONS_START", "2022-12-21-16:00")
        return build_definitions(Settings.from_env()), server

    return start


def run_hour(defs, instance, retry_of=None):
    """ingestion_backfill_job on HOUR; `retry_of`: as the run-retry daemon re-executes it."""
    tags = {}
    if retry_of is not None:
        tags = {
            "dagster/parent_run_id": retry_of.run_id,
            "dagster/root_run_id": retry_of.run_id,
            "dagster/retry_number": "1",
        }
    return defs.resolve_job_def("ingestion_backfill_job").execute_in_process(
        instance=instance, partition_key=HOUR, tags=tags, raise_on_error=False
    )


def test_a_failing_hourly_run_alerts_once_and_its_recovery_once(
    graph, shared_slice, alerts, webhook_receiver, smtp_receiver
):
    defs, server = graph(shared_slice)
    with DagsterInstance.ephemeral() as instance:
        daemon = Daemon(instance, alerts)
        daemon.tick()  # the sensors start from now, as on a fresh deployment
        server.faults.fail_next(1, status=400)
        failed = run_hour(defs, instance)
        assert not failed.success
        daemon.tick()
        (payload,) = webhook_receiver.accepted()
        assert payload["alert"]["status"] == "firing"
        assert payload["alert"]["kind"] == "run_failed"
        assert payload["alert"]["link"] == f"{UI}/runs/{failed.run_id}"
        details = payload["alert"]["details"]
        assert details["job"] == "ingestion_backfill_job" and details["partition"] == HOUR
        assert "400" in details["error"] and "\n" not in details["error"]
        assert "ingestion_backfill_job" in payload["text"]  # what Slack shows in notifications
        assert payload["blocks"][0]["text"]["type"] == "mrkdwn"
        (mail,) = smtp_receiver.messages
        assert str(mail["Subject"]).strip().startswith("[alert] energy_assets: Run failed")
        assert smtp_receiver.envelopes[0]["to"] == ["ops@energy.invalid", "oncall@energy.invalid"]
        assert f"{UI}/runs/{failed.run_id}" in mail.get_content()

        # The next tick, and a run retry that fails the same way: the same incident, no alert.
        daemon.tick()
        server.faults.fail_next(1, status=400)
        assert not run_hour(defs, instance, retry_of=failed).success
        daemon.tick()
        assert len(webhook_receiver.accepted()) == 1 and len(smtp_receiver.messages) == 1

        # The hour is repaired: one "resolved", then quiet.
        repaired = run_hour(defs, instance)
        assert repaired.success
        daemon.tick()
        daemon.tick()
        assert len(webhook_receiver.accepted()) == 2 and len(smtp_receiver.messages) == 2
        resolved = webhook_receiver.accepted()[1]["alert"]
        assert (
            resolved["status"] == "resolved"
            and resolved["incident_key"] == payload["alert"]["incident_key"]
        )
        assert resolved["link"] == f"{UI}/runs/{repaired.run_id}"
        assert (
            str(smtp_receiver.messages[1]["Subject"])
            .strip()
            .startswith("[resolved] energy_assets:")
        )


def test_a_failed_blocking_check_alerts_once_and_its_pass_resolves_it(
    graph, shared_slice, alerts, webhook_receiver, smtp_receiver
):
    corrupted = shared_slice.copy()
    bad = (
        (corrupted["HourUTC"] == BAD_HOUR)
        & (corrupted["PriceArea"] == "DK1")
        & (corrupted["ConsumerType_DE35"] == 111)
    )
    corrupted.loc[bad, "TotalCon"] = -5.0
    defs, _ = graph(corrupted)
    with DagsterInstance.ephemeral() as instance:
        daemon = Daemon(instance, alerts)
        daemon.tick()
        failed = run_hour(defs, instance)
        assert not failed.success
        daemon.tick()
        daemon.tick()
        # raw's check fails too, with severity WARN: it guards nothing, so no alert; the run's
        # failure is the blocking check's, announced once, by the check.
        (payload,) = webhook_receiver.accepted()
        alert = payload["alert"]
        assert alert["kind"] == "check_failed" and alert["status"] == "firing"
        assert alert["details"]["check"] == ("consumption_features / consumption_features_gx_suite")
        assert alert["details"]["hours"] == HOUR
        assert alert["details"]["offending rows"] == "1"
        assert (
            "expect_column_values_to_be_between(energy_consumption)" in alert["details"]["failed"]
        )
        assert alert["link"] == f"{UI}/runs/{failed.run_id}"
        assert len(smtp_receiver.messages) == 1

        assert not run_hour(defs, instance, retry_of=failed).success
        daemon.tick()
        assert len(webhook_receiver.accepted()) == 1

        # The source corrects the value; re-materialising the hour passes the check.
        clean_defs, _ = graph(shared_slice)
        assert run_hour(clean_defs, instance).success
        daemon.tick()
        daemon.tick()
        posts = webhook_receiver.accepted()
        assert [p["alert"]["status"] for p in posts] == ["firing", "resolved"]
        assert posts[1]["alert"]["incident_key"] == alert["incident_key"]
        assert len(smtp_receiver.messages) == 2


def test_a_freshness_breach_alerts_once_and_says_when_fresh_again(
    alerts, webhook_receiver, smtp_receiver
):
    from dagster._core.definitions.freshness import FreshnessState, FreshnessStateChange

    def change(new, previous):
        # What Dagster's freshness daemon records for an asset with a freshness policy.
        instance.report_runless_asset_event(
            FreshnessStateChange(
                key=AssetKey("forecasts"),
                new_state=new,
                previous_state=previous,
                state_change_timestamp=0.0,
            )
        )

    with DagsterInstance.ephemeral() as instance:
        daemon = Daemon(instance, alerts)
        daemon.tick()
        change(FreshnessState.FAIL, FreshnessState.PASS)
        daemon.tick()
        daemon.tick()
        change(FreshnessState.PASS, FreshnessState.FAIL)
        daemon.tick()
        posts = [p["alert"] for p in webhook_receiver.accepted()]
        assert [(p["kind"], p["status"]) for p in posts] == [
            ("freshness_missed", "firing"),
            ("freshness_missed", "resolved"),
        ]
        assert posts[0]["link"] == f"{UI}/assets/forecasts"
        assert len(smtp_receiver.messages) == 2


def test_a_promotion_decision_is_told_once_with_both_scores(
    alerts, webhook_receiver, smtp_receiver
):
    from energy_assets_tests.test_metadata_keys import model_metadata

    with DagsterInstance.ephemeral() as instance:
        daemon = Daemon(instance, alerts)
        daemon.tick()
        metadata = model_metadata(candidate_score=0.0712, champion_score=0.0650)
        instance.report_runless_asset_event(
            AssetMaterialization(asset_key="forecasting_model", metadata=metadata)
        )
        daemon.tick()
        daemon.tick()
        (payload,) = webhook_receiver.accepted()
        alert = payload["alert"]
        assert alert["kind"] == "challenger_lost"
        assert alert["title"] == (
            "Challenger lost: version 3; the champion's configuration, refit on the new data, "
            "is version 4"
        )
        assert alert["details"]["candidate score"] == "0.0712"
        assert alert["details"]["champion score"] == "0.0650"
        assert len(smtp_receiver.messages) == 1


def test_no_channel_configured_means_the_log_only(graph, shared_slice, capsys):
    defs, server = graph(shared_slice)
    with DagsterInstance.ephemeral() as instance:
        daemon = Daemon(instance, AlertsResource(ui_url=UI))
        daemon.tick()
        server.faults.fail_next(1, status=400)
        assert not run_hour(defs, instance).success
        capsys.readouterr()
        daemon.tick()
        log = capsys.readouterr().err  # the sensor's log (the tick's log in the UI)
        assert "alert [firing] Run failed: ingestion_backfill_job on 2023-01-10-12:00" in log
        assert "-> the log only (no channel configured)" in log


def test_a_day_ahead_vintage_on_the_fallback_is_told_once(alerts, webhook_receiver):
    """The products announce their fallbacks like `forecasts` (the same metadata keys)."""
    with DagsterInstance.ephemeral() as instance:
        daemon = Daemon(instance, alerts)
        daemon.tick()
        metadata = {
            "fallback_series": 1,
            "fallback_reasons": {"no recent data": 1},
            "fallback_series_named": {"DK1/111": "no recent data: the newest value is X"},
        }
        instance.report_runless_asset_event(
            AssetMaterialization(
                asset_key="day_ahead_forecasts", partition="2026-03-28", metadata=metadata
            )
        )
        instance.report_runless_asset_event(
            AssetMaterialization(asset_key="intraday_forecasts", metadata={"fallback_series": 0})
        )
        daemon.tick()
        daemon.tick()
        (payload,) = webhook_receiver.accepted()
        alert = payload["alert"]
        assert alert["kind"] == "fallback_served"
        assert "1 series on day_ahead_forecasts" in alert["title"]
        assert "2026-03-28" in alert["title"]
        assert alert["details"]["reasons"] == "no recent data: 1"
