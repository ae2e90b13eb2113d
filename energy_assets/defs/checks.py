"""Great Expectations suites as Dagster asset checks on hourly-partitioned, single-run assets.

How the checks are wired, and why:

- The check is declared on the asset (`@asset(check_specs=gx_check_specs(...))`) and evaluated
  in the asset body on the very frame the asset outputs, not in a separate `@asset_check`.
  A separate `@asset_check` would have to re-read the whole partition range from storage, and
  in Dagster 1.13 asset checks are not partitioned (`AssetCheckSpec` has no partitions; an
  `@asset_check` runs once per run and only sees the range through the run's tags), so nothing
  is gained by splitting it out. Evaluated in the body, it runs exactly once per run, over
  the whole range of a `BackfillPolicy.single_run()` backfill.
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

    @dg.asset(partitions_def=partitions.hourly, backfill_policy=BackfillPolicy.single_run(),
              check_specs=gx_check_specs(FEATURES.name, FEATURES_CHECK, blocking=True))
    def consumption_features(context, raw_consumption, gx):
        features = build_features(...)
        outcome = validate_consumption_features(features, (start, end), validator=gx.validator())
        yield from validated_output(features, outcome, FEATURES_CHECK, FEATURES.name,
                                    metadata={...}, blocking=True)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    Failure,
    MetadataValue,
    Output,
)

if TYPE_CHECKING:
    from energy_assets.validation.gx import ValidationOutcome


def gx_check_specs(
    asset_name: str, check_name: str, blocking: bool, description: str | None = None
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
    return [AssetCheckSpec(name=check_name, asset=asset_name, blocking=blocking, description=text)]


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


def validated_output(
    value: Any,
    outcome: ValidationOutcome,
    check_name: str,
    asset_name: str,
    metadata: Mapping[str, Any] | None = None,
    blocking: bool = True,
) -> Iterator[Output | AssetCheckResult]:
    """Yield the asset's Output and its check result, in the order the policy needs.

    Passing, or failing but non-blocking: `Output(value)` then the check result (the value is
    written; a non-blocking failure shows as a WARN check in the UI).
    Failing and blocking: the failed check result, then `Failure` with the same metadata and a
    description listing the failed expectations; no Output, so nothing is written.
    """
    result = check_result(outcome, check_name, asset_name, blocking)
    if blocking and not outcome.success:
        yield result
        raise Failure(
            description=(
                f"{asset_name}: blocking check '{check_name}' failed; nothing was written and "
                f"downstream assets will not run. Fix the data (or the upstream partition) and "
                f"re-materialise.\n{outcome.summary()}"
            ),
            metadata=check_metadata(outcome),
        )
    output_metadata = dict(metadata or {})
    output_metadata.setdefault("validation", outcome.summary())
    yield Output(value, metadata=output_metadata)
    yield result
