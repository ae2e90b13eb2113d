"""Alert sensors: Dagster's run-status sensors and event log, turned into messages for a person.

    alert_on_run_failure    (run_failure_sensor) a failed run: job, partition, the first line of
                            the error, a link to the run; `retrain_job` as "Retrain failed"
    alert_on_run_recovery   (run_status_sensor, SUCCESS) "resolved" when a run of a job and
                            partition whose failure was alerted succeeds
    alert_on_asset_events   (sensor over the event log) a failed blocking check (check, hours,
                            offending rows) and its passing again; a promotion decision read
                            from `forecasting_model` metadata; a `forecasts` or product run that served
                            the labelled fallback (how many series, why: `fallback_series`); a freshness policy's FAIL / WARN
                            and its PASS (FRESHNESS_STATE_CHANGE events, as the daemon emits them
                            for assets with a freshness policy)

One incident, one alert: every alert carries an incident key (job + partition, check +
partition, asset) and `alerting.incidents.IncidentLedger` keeps which are open in the instance's
key-value storage, so run retries (a re-execution has the same job and partition tags), repeated
ticks and a second failure of the same hour send nothing. An alert is recorded as sent only once
a channel took it: when every configured channel failed, the tick fails with the reason and the
next tick tries again.

A check failure or run failure whose metadata names `metadata_keys.ALERT_KIND`
("source_frozen", "series_missing") is announced as that: checks of a source spec use it.
A run that failed because a blocking check failed is announced once, by the check.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import dagster as dg

from energy_assets import metadata_keys as meta
from energy_assets.contracts import DAY_AHEAD_FORECASTS_ASSET, INTRADAY_FORECASTS_ASSET
from energy_assets.defs import keys
from energy_assets.defs.jobs import RETRAIN_JOB

DEFAULT_UI_URL = "http://127.0.0.1:3000"
PARTITION_TAG = "dagster/partition"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
# Sensors are cheap (a few indexed queries); a person hears of a failure within a minute.
INTERVAL_SECONDS = 30
# Bounded so one tick stays short; a longer backlog is read over the next ticks.
MAX_EVENTS_PER_TICK = 200


class AlertsResource(dg.ConfigurableResource):
    """Where alerts go (ENERGY_ALERT_*) and where their links point (ENERGY_UI_URL).

    Neither a webhook nor an SMTP host: alerts are written to the sensor's log only.
    Values set in the environment arrive as `dg.EnvVar`, so the webhook URL and the SMTP
    password never enter the code location's snapshot.
    """

    ui_url: str = DEFAULT_UI_URL
    webhook_url: str | None = None
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_from: str | None = None
    smtp_to: str | None = None
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = True

    def channels(self) -> Any:
        """The configured `alerting.deliver.Channels`; an incomplete SMTP setup fails clearly."""
        from energy_assets.alerting.deliver import AlertDeliveryError, Channels, SmtpSettings

        smtp = None
        if self.smtp_host:
            recipients = tuple(a.strip() for a in (self.smtp_to or "").split(",") if a.strip())
            if not self.smtp_from or not recipients:
                raise AlertDeliveryError(
                    "ENERGY_ALERT_SMTP_HOST is set but ENERGY_ALERT_SMTP_FROM or "
                    "ENERGY_ALERT_SMTP_TO is empty: set both (TO may list several addresses, "
                    "comma separated), or unset the host for webhook / log alerts only."
                )
            smtp = SmtpSettings(
                host=self.smtp_host,
                port=self.smtp_port,
                sender=self.smtp_from,
                recipients=recipients,
                user=self.smtp_user or None,
                password=self.smtp_password or None,
                starttls=self.smtp_starttls,
            )
        return Channels(webhook_url=self.webhook_url or None, smtp=smtp)

    def run_url(self, run_id: str) -> str:
        return f"{self.ui_url.rstrip('/')}/runs/{run_id}"

    def asset_url(self, asset_key: dg.AssetKey) -> str:
        return f"{self.ui_url.rstrip('/')}/assets/{'/'.join(asset_key.path)}"


def deliver_once(context: Any, alerts: AlertsResource, alert: Any) -> bool:
    """Send `alert` unless its incident says it was already told; True if it went out.

    Raises AlertDeliveryError when channels are configured and none took it (the tick fails,
    the ledger is unchanged, the next tick tries again).
    """
    from energy_assets.alerting.deliver import AlertDeliveryError, send
    from energy_assets.alerting.incidents import IncidentLedger

    ledger = IncidentLedger(context.instance.daemon_cursor_storage)
    if not ledger.admits(alert):
        context.log.info(f"already told: {alert.title} (incident {alert.incident_key})")
        return False
    report = send(alert, alerts.channels(), context.log.info)
    for channel, error in report.failed:
        context.log.error(f"alert not delivered by {channel}: {error}")
    if not report.reached_someone:
        raise AlertDeliveryError("; ".join(error for _, error in report.failed))
    ledger.record(alert, at=datetime.now(UTC).isoformat(timespec="seconds"))
    return True


def partition_of(tags: Mapping[str, str]) -> str | None:
    """A run's partition: its partition key, or its range as "start...end", or None."""
    if PARTITION_TAG in tags:
        return tags[PARTITION_TAG]
    start, end = tags.get(RANGE_START_TAG), tags.get(RANGE_END_TAG)
    if start and end:
        return start if start == end else f"{start}...{end}"
    return None


def _plain(metadata: Mapping[str, Any]) -> dict[str, Any]:
    return {name: getattr(value, "value", value) for name, value in metadata.items()}


def _guards_data(evaluation: Any) -> bool:
    """A failed check worth waking someone for: blocking (or ERROR), or marked by its metadata."""
    marked = meta.ALERT_KIND.read(_plain(evaluation.metadata)) is not None
    return bool(evaluation.blocking) or evaluation.severity == dg.AssetCheckSeverity.ERROR or marked


def _failed_blocking_check(instance: dg.DagsterInstance, run_id: str) -> bool:
    records = instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
    ).records
    for record in records:
        evaluation = _event_data(record)
        if not evaluation.passed and _guards_data(evaluation):
            return True
    return False


def _event_data(record: Any) -> Any:
    """The event-specific data of an event-log record (an AssetCheckEvaluation, ...)."""
    return record.event_log_entry.dagster_event.event_specific_data


def _failure_of(step_failures: Sequence[dg.DagsterEvent], fallback: str) -> tuple[str, str | None]:
    """The first failed step's message (a `dg.Failure`'s description, else the error) and an
    ALERT_KIND its metadata names."""
    for event in step_failures:
        data = event.step_failure_data
        if data.user_failure_data is not None:
            marker = meta.ALERT_KIND.read(_plain(data.user_failure_data.metadata))
            text = data.user_failure_data.description or data.user_failure_data.label
            return f"{event.step_key}: {text}", marker
        if data.error is not None:
            return f"{event.step_key}: {_user_error(data.error)}", None
    return fallback, None


def _user_error(error: Any) -> str:
    """The error a person can act on: Dagster wraps the asset's own exception in
    DagsterExecutionStepExecutionError ("Error occurred while executing op ..."), whose cause is
    it; the class is named without its module path."""
    while error.cls_name == "DagsterExecutionStepExecutionError" and error.cause is not None:
        error = error.cause
    message = error.message.strip()
    prefix, _, rest = message.partition(": ")
    if rest and prefix.endswith(error.cls_name):
        message = f"{error.cls_name}: {rest}"
    return message


def _recovered_since(instance: dg.DagsterInstance, run: dg.DagsterRun) -> bool:
    """A run of the same job and partition succeeded after `run` (the alert would be stale)."""
    tags = {
        k: v for k, v in run.tags.items() if k in (PARTITION_TAG, RANGE_START_TAG, RANGE_END_TAG)
    }
    later = instance.get_run_records(
        dg.RunsFilter(
            job_name=run.job_name,
            statuses=[dg.DagsterRunStatus.SUCCESS],
            tags=tags,
            created_after=_created_at(instance, run),
        ),
        limit=1,
    )
    return bool(later)


def _created_at(instance: dg.DagsterInstance, run: dg.DagsterRun) -> datetime | None:
    record = instance.get_run_record_by_id(run.run_id)
    return record.create_timestamp if record else None


def build_run_alert_sensors() -> list[dg.SensorDefinition]:
    """The failed-run alert and its recovery message (see the module docstring)."""

    @dg.run_failure_sensor(
        name="alert_on_run_failure",
        minimum_interval_seconds=INTERVAL_SECONDS,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            "Tells a person (ENERGY_ALERT_WEBHOOK_URL / ENERGY_ALERT_SMTP_*, else the log) when "
            "a run fails: job, partition, the error's first line, a link. Once per job and "
            "partition until a run of it succeeds; run retries do not repeat it."
        ),
    )
    def alert_on_run_failure(context: dg.RunFailureSensorContext, alerts: AlertsResource) -> None:
        from energy_assets.alerting.alerts import RunFailed

        run = context.dagster_run
        if _failed_blocking_check(context.instance, run.run_id):
            context.log.info(f"run {run.run_id}: a blocking check failed; its alert says so")
            return
        if _recovered_since(context.instance, run):
            context.log.info(f"run {run.run_id}: a later run of it already succeeded")
            return
        error, marker = _failure_of(
            context.get_step_failure_events(), context.failure_event.message or ""
        )
        fact = RunFailed(
            job=run.job_name,
            run_id=run.run_id,
            run_url=alerts.run_url(run.run_id),
            error=error,
            partition=partition_of(run.tags),
            retrain=run.job_name == RETRAIN_JOB,
            marker=marker,
        )
        deliver_once(context, alerts, fact.alert())

    @dg.run_status_sensor(
        name="alert_on_run_recovery",
        run_status=dg.DagsterRunStatus.SUCCESS,
        minimum_interval_seconds=INTERVAL_SECONDS,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            "Sends one 'resolved' message when a job and partition whose failure was alerted "
            "succeeds again."
        ),
    )
    def alert_on_run_recovery(context: dg.RunStatusSensorContext, alerts: AlertsResource) -> None:
        from energy_assets.alerting.alerts import RunRecovered

        run = context.dagster_run
        fact = RunRecovered(
            job=run.job_name,
            run_id=run.run_id,
            run_url=alerts.run_url(run.run_id),
            partition=partition_of(run.tags),
        )
        deliver_once(context, alerts, fact.alert())

    return [alert_on_run_failure, alert_on_run_recovery]


# ------------------------------------------------------------------ checks, models, freshness


def _event_records(instance: dg.DagsterInstance, event_type: Any, after: int, limit: int) -> Any:
    # The storage's own query: DagsterInstance.get_event_records is deprecated for some types,
    # and checks across all assets / freshness changes have no fetch_* helper in Dagster 1.13.
    return instance.event_log_storage.get_event_records(
        dg.EventRecordsFilter(event_type=event_type, after_cursor=after),
        limit=limit,
        ascending=True,
    )


def _newest_storage_id(instance: dg.DagsterInstance, event_type: Any) -> int:
    records = instance.event_log_storage.get_event_records(
        dg.EventRecordsFilter(event_type=event_type), limit=1, ascending=False
    )
    return records[0].storage_id if records else 0


def _newest_materialization(instance: dg.DagsterInstance, key: dg.AssetKey) -> int:
    records = instance.fetch_materializations(key, limit=1).records
    return records[0].storage_id if records else 0


def _materialization_facts(
    instance: dg.DagsterInstance,
    alerts: AlertsResource,
    key: dg.AssetKey,
    after: int,
    fact_of: Any,
) -> Any:
    """(storage id, fact or None) of each materialisation of `key` after storage id `after`,
    oldest first, at most MAX_EVENTS_PER_TICK: `fact_of(materialization, run link)` tells what a
    person should hear of it."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, after_storage_id=after),
        limit=MAX_EVENTS_PER_TICK,
        ascending=True,
    ).records
    for record in records:
        materialization = record.asset_materialization
        run_id = record.event_log_entry.run_id
        link = alerts.run_url(run_id) if run_id else None
        yield record.storage_id, (fact_of(materialization, link) if materialization else None)


def check_fact(instance: dg.DagsterInstance, record: Any, alerts: AlertsResource) -> Any:
    """CheckFailed / CheckPassed of an ASSET_CHECK_EVALUATION record, or None when a failure
    guards nothing (a WARN check without a marker)."""
    from energy_assets.alerting.alerts import CheckFailed, CheckPassed

    evaluation = _event_data(record)
    if meta.RANGE_RUN_HOUR.read(_plain(evaluation.metadata)):
        return None  # one hour of a range run: the run's own evaluation is the incident
    run_id = record.event_log_entry.run_id
    run = instance.get_run_by_id(run_id) if run_id else None
    partition = evaluation.partition or (partition_of(run.tags) if run else None)
    asset = evaluation.asset_key.to_user_string()
    run_url = alerts.run_url(run_id) if run else alerts.asset_url(evaluation.asset_key)
    if evaluation.passed:
        return CheckPassed(asset, evaluation.check_name, run_url, partition)
    if not _guards_data(evaluation):
        return None
    metadata = _plain(evaluation.metadata)
    return CheckFailed(
        asset=asset,
        check=evaluation.check_name,
        run_url=run_url,
        partition=partition,
        offending_rows=meta.UNEXPECTED_ROWS.read(metadata),
        failed_expectations=meta.FAILED_EXPECTATIONS.read(metadata),
        description=evaluation.description,
        marker=meta.ALERT_KIND.read(metadata),
    )


def promotion_fact(metadata: Mapping[str, Any], link: str | None) -> Any:
    """PromotionDecided from a `forecasting_model` materialisation's metadata (plain values),
    or None when it carries no decision."""
    from energy_assets.alerting.alerts import PromotionDecided

    version, promoted = meta.MODEL_VERSION.read(metadata), meta.PROMOTED.read(metadata)
    if version is None or promoted is None:
        return None
    return PromotionDecided(
        model_version=version,
        promoted=promoted,
        champion_version=meta.CHAMPION_VERSION.read(metadata) or version,
        candidate_score=meta.BACKTEST_MAPE.read(metadata),
        champion_score=meta.CHAMPION_SCORE.read(metadata),
        reason=meta.PROMOTION_REASON.read(metadata) or "",
        link=meta.MLFLOW_RUN.read(metadata) or link,
    )


def fallback_fact(
    metadata: Mapping[str, Any],
    partition: str | None,
    link: str | None,
    asset: dg.AssetKey = keys.FORECASTS,
) -> Any:
    """FallbackServed from a `forecasts` (or forecast product) materialisation's metadata (plain
    values), or None when every series got the model's forecast."""
    from energy_assets.alerting.alerts import FallbackServed

    series = meta.FALLBACK_SERIES.read(metadata)
    if not series:
        return None
    return FallbackServed(
        asset=asset.to_user_string(),
        partition=partition,
        series=int(series),
        reasons=dict(metadata.get("fallback_reasons") or {}),
        named=dict(metadata.get("fallback_series_named") or {}),
        link=link,
    )


# Assets whose materialisations announce the fallbacks they served (metadata `fallback_series`):
# the hourly forecasts and the forecast products (defs/product_checks.fallback_metadata).
FALLBACK_ASSETS = (
    keys.FORECASTS,
    dg.AssetKey(DAY_AHEAD_FORECASTS_ASSET),
    dg.AssetKey(INTRADAY_FORECASTS_ASSET),
)


def freshness_fact(record: Any, alerts: AlertsResource) -> Any:
    """FreshnessMissed (FAIL / WARN) or FreshnessRestored (PASS) of a FRESHNESS_STATE_CHANGE."""
    from energy_assets.alerting.alerts import FreshnessMissed, FreshnessRestored

    change = _event_data(record)
    state = getattr(change.new_state, "value", str(change.new_state))
    asset, url = change.key.to_user_string(), alerts.asset_url(change.key)
    if state in ("FAIL", "WARN"):
        return FreshnessMissed(asset, state, url)
    if state == "PASS":
        return FreshnessRestored(asset, url)
    return None


def build_asset_event_alert_sensor() -> dg.SensorDefinition:
    """One sensor over the event log for checks, promotion decisions and freshness."""

    @dg.sensor(
        name="alert_on_asset_events",
        minimum_interval_seconds=INTERVAL_SECONDS,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            "Tells a person when a blocking check fails (check, hours, offending rows) and when "
            "it passes again, when a retrain promotes a new champion or its challenger loses "
            "(with the scores), when a forecast run served fallbacks (how many series, why), "
            "and when an asset misses its freshness policy's deadline."
        ),
    )
    def alert_on_asset_events(
        context: dg.SensorEvaluationContext, alerts: AlertsResource
    ) -> dg.SensorResult:
        instance = context.instance
        checks_type = dg.DagsterEventType.ASSET_CHECK_EVALUATION
        freshness_type = dg.DagsterEventType.FRESHNESS_STATE_CHANGE
        if not context.cursor:
            # As Dagster's run-status sensors do: start from now, not from the whole history.
            start = {
                "checks": _newest_storage_id(instance, checks_type),
                "freshness": _newest_storage_id(instance, freshness_type),
                "models": _newest_materialization(instance, keys.FORECASTING_MODEL),
                **{
                    asset.to_user_string(): _newest_materialization(instance, asset)
                    for asset in FALLBACK_ASSETS
                },
            }
            return dg.SensorResult(
                skip_reason=dg.SkipReason(f"Starting from the newest events: {start}"),
                cursor=json.dumps(start, sort_keys=True),
            )
        cursor: dict[str, int] = json.loads(context.cursor)
        sent = 0
        for record in _event_records(instance, checks_type, cursor["checks"], MAX_EVENTS_PER_TICK):
            fact = check_fact(instance, record, alerts)
            if fact is not None:
                sent += deliver_once(context, alerts, fact.alert())
            cursor["checks"] = record.storage_id
        for storage_id, fact in _materialization_facts(
            instance,
            alerts,
            keys.FORECASTING_MODEL,
            cursor["models"],
            lambda materialization, link: promotion_fact(_plain(materialization.metadata), link),
        ):
            if fact is not None:
                sent += deliver_once(context, alerts, fact.alert())
            cursor["models"] = storage_id
        for asset in FALLBACK_ASSETS:
            name = asset.to_user_string()
            # A cursor from before these alerts starts at the asset's newest materialisation.
            cursor.setdefault(name, _newest_materialization(instance, asset))
            for storage_id, fact in _materialization_facts(
                instance,
                alerts,
                asset,
                cursor[name],
                lambda materialization, link, asset=asset: fallback_fact(
                    _plain(materialization.metadata), materialization.partition, link, asset
                ),
            ):
                if fact is not None:
                    sent += deliver_once(context, alerts, fact.alert())
                cursor[name] = storage_id
        for record in _event_records(
            instance, freshness_type, cursor["freshness"], MAX_EVENTS_PER_TICK
        ):
            fact = freshness_fact(record, alerts)
            if fact is not None:
                sent += deliver_once(context, alerts, fact.alert())
            cursor["freshness"] = record.storage_id
        text = json.dumps(cursor, sort_keys=True)
        if not sent:
            return dg.SensorResult(skip_reason=dg.SkipReason("Nothing new to tell."), cursor=text)
        return dg.SensorResult(cursor=text)

    return alert_on_asset_events


def build_alert_sensors() -> list[dg.SensorDefinition]:
    """Every alert sensor; they need the `alerts` resource (`AlertsResource`)."""
    return [*build_run_alert_sensors(), build_asset_event_alert_sensor()]
