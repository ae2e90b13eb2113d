"""Great Expectations suites as Dagster asset checks on hourly-partitioned, single-run assets.

How the checks are wired, and why:

- The check is declared on the asset (`@asset(check_specs=gx_check_specs(...))`) and evaluated
  in the asset body on the very frame the asset outputs, not in a separate `@asset_check`,
  which would have to re-read the whole partition range from storage. Evaluated in the body,
  it runs exactly once per run, over the whole range of the run (a backfill unit,
  `Partitions.backfill`).
- The checks are partitioned like their asset (`AssetCheckSpec(partitions_def=...)`, a preview
  in Dagster 1.13), so the partition bar shows which hour failed. A one-hour run's result is
  recorded for its hour by Dagster itself. A range run's result Dagster records without a
  partition (measured: `partition=None`), so the body also logs one `AssetCheckEvaluation` per
  hour of the range (`hourly_evaluations`): failed for the hours its offending rows fall in (all
  of them when a failure names no rows or more than it shows), passed for the others — for
  ranges up to PER_HOUR_MAX_HOURS; a longer backfill logs only its failed hours (8,760 events
  per check would double a year's event-log cost). Those per-hour events carry
  `range_run_hour`, so the alerts report the run's evaluation once, not each hour.
- Blocking checks (features, forecasts) validate *before* the value is written: on failure the
  body emits the failed `AssetCheckResult` (severity ERROR, metadata naming the failing
  expectations with offending rows) and then raises `dagster.Failure` carrying the same
  metadata. The IO manager never runs, so bad data is never written and downstream assets in
  the run are skipped: bad data never reaches a forecast. (Dagster's own `blocking=True` only
  stops downstream steps; the failing asset itself would still have been written.)
- Non-blocking checks (raw records) write the value, then emit a failed check with severity
  WARN: raw data is kept as the source published it, and the blocking feature check catches
  anything that would propagate.

Usage in an asset body (energy_assets/defs/features.py):

    @dg.asset(partitions_def=partitions.hourly, backfill_policy=partitions.backfill,
              check_specs=gx_check_specs(FEATURES.name, FEATURES_CHECK, blocking=True))
    def consumption_features(context, raw_consumption, gx):
        features = build_features(...)
        outcome = validate_consumption_features(features, (start, end), validator=gx.validator())
        yield from validated_output(features, outcome, FEATURES_CHECK, FEATURES.name,
                                    metadata={...}, blocking=True)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from dagster import (
    AssetCheckEvaluation,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    Failure,
    MetadataValue,
    Output,
    PartitionsDefinition,
)

from energy_assets import metadata_keys as meta
from energy_assets.contracts import hour_key

if TYPE_CHECKING:
    from energy_assets.validation.gx import ValidationOutcome

# Longest range run whose every hour gets its own check evaluation (a month); longer backfills
# log only the hours that failed.
PER_HOUR_MAX_HOURS = 24 * 31
# Columns of offending rows that name the hour (the tables' time columns, the completeness grid's).
HOUR_COLUMNS = ("hour_utc", "datetime_utc", "forecast_origin", "HourUTC", "TimeUTC")


def gx_check_specs(
    asset_name: str,
    check_name: str,
    blocking: bool,
    description: str | None = None,
    partitions_def: PartitionsDefinition | None = None,
) -> list[AssetCheckSpec]:
    """The check spec(s) to pass as `@asset(check_specs=...)` for a GX-validated asset."""
    text = description or (
        f"Great Expectations suite over every row {asset_name} materialises in a run (the whole "
        "partition range of a single-run backfill): schema, types, allowed areas, non-null, "
        "non-negative, unique keys (which series an hour holds is the series_catalogue check's)."
        + (
            " Blocking: on failure nothing is written and downstream assets do not run."
            if blocking
            else ""
        )
    )
    return [
        AssetCheckSpec(
            name=check_name,
            asset=asset_name,
            blocking=blocking,
            description=text,
            partitions_def=partitions_def,
        )
    ]


def check_metadata(outcome: ValidationOutcome) -> dict[str, Any]:
    """Dagster metadata of a validation outcome: markdown for `_md` keys, plain values else."""
    metadata: dict[str, Any] = {}
    for key, value in outcome.to_metadata().items():
        if key.endswith("_md"):
            metadata[key[:-3]] = MetadataValue.md(value)
        elif key == "summary":
            metadata[key] = MetadataValue.text(value)
        else:
            metadata[key] = value
    return metadata


def check_result(
    outcome: ValidationOutcome, check_name: str, asset_name: str, blocking: bool
) -> AssetCheckResult:
    """AssetCheckResult of `outcome`: severity ERROR for blocking checks, WARN otherwise."""
    return AssetCheckResult(
        check_name=check_name,
        asset_key=asset_name,
        passed=outcome.success,
        severity=AssetCheckSeverity.ERROR if blocking else AssetCheckSeverity.WARN,
        metadata=check_metadata(outcome),
    )


def failed_hours(outcome: ValidationOutcome, hours: Sequence[str]) -> set[str]:
    """The hourly keys among `hours` that `outcome`'s failures fall in: the hours of their
    offending rows, or every hour when a failure names no hour or more rows than it shows."""
    failed: set[str] = set()
    for result in outcome.failed:
        rows = result.unexpected_rows
        columns = [c for c in HOUR_COLUMNS if c in rows.columns]
        if not len(rows) or not columns or (result.unexpected_count or 0) > len(rows):
            return set(hours)
        failed |= {hour_key(value) for value in rows[columns[0]].dropna()}
    return failed & set(hours)


def hourly_evaluations(
    context: AssetExecutionContext,
    checks: Sequence[tuple[ValidationOutcome, str, bool]],
    asset_name: str,
) -> list[AssetCheckEvaluation]:
    """One evaluation per hour of a range run and check (see the module docstring)."""
    hours = list(context.partition_keys)
    evaluations = []
    for outcome, name, blocking in checks:
        failed = failed_hours(outcome, hours)
        shown = hours if len(hours) <= PER_HOUR_MAX_HOURS else sorted(failed)
        for hour in shown:
            passed = hour not in failed
            evaluations.append(
                AssetCheckEvaluation(
                    asset_key=AssetKey(asset_name),
                    check_name=name,
                    passed=passed,
                    partition=hour,
                    severity=AssetCheckSeverity.ERROR if blocking else AssetCheckSeverity.WARN,
                    blocking=blocking,
                    metadata={
                        meta.RANGE_RUN_HOUR.name: True,
                        "run_summary": MetadataValue.text(
                            "passed" if passed else outcome.summary()
                        ),
                    },
                )
            )
    return evaluations


def validated_output(
    value: Any,
    outcome: ValidationOutcome,
    check_name: str,
    asset_name: str,
    metadata: Mapping[str, Any] | None = None,
    blocking: bool = True,
    more_checks: Sequence[tuple[ValidationOutcome, str, bool]] = (),
    context: AssetExecutionContext | None = None,
) -> Iterator[Output | AssetCheckResult]:
    """Yield the asset's Output and its check results, in the order the policy needs.

    `more_checks` are further (outcome, check name, blocking) of the same asset. Every check
    passing, or only non-blocking ones failing: `Output(value)` then the check results (the
    value is written; a non-blocking failure shows as a WARN check in the UI).
    A blocking check failing: every check result, then `Failure` with the failed checks'
    metadata and a description listing their failed expectations; no Output, so nothing is
    written.

    With `context` of a range run, each hour's verdict is also logged as its own evaluation
    (`hourly_evaluations`), so the partition bar shows which hour failed.
    """
    checks = [(outcome, check_name, blocking), *more_checks]
    if context is not None and context.has_partition_key_range and not context.has_partition_key:
        for evaluation in hourly_evaluations(context, checks, asset_name):
            context.log_event(evaluation)
    results = [check_result(o, name, asset_name, block) for o, name, block in checks]
    blocked = [(o, name) for o, name, block in checks if block and not o.success]
    if blocked:
        yield from results
        names = ", ".join(f"'{name}'" for _, name in blocked)
        failure_metadata: dict[str, Any] = {}
        for failed, _ in reversed(blocked):  # the first check's keys win
            failure_metadata.update(check_metadata(failed))
        raise Failure(
            description=(
                f"{asset_name}: blocking check {names} failed; nothing was written and "
                f"downstream assets will not run. Fix the data (or the upstream partition) and "
                f"re-materialise.\n" + "\n".join(failed.summary() for failed, _ in blocked)
            ),
            metadata=failure_metadata,
        )
    output_metadata = dict(metadata or {})
    output_metadata.setdefault("validation", outcome.summary())
    yield Output(value, metadata=output_metadata)
    yield from results
