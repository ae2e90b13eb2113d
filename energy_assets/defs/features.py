"""`consumption_features`: clean, typed rows plus the per-hour features, from a window of raw hours."""

import dagster as dg

from energy_assets.contracts import FEATURES, LOOKBACK_HOURS, PLAUSIBILITY, hour_text
from energy_assets.defs import keys
from energy_assets.defs.checks import gx_check_specs, validated_output
from energy_assets.defs.io_manager import ALLOW_MISSING_PARTITIONS, PARTITION_COLUMN
from energy_assets.defs.metadata import frame_metadata, is_range_run
from energy_assets.defs.partitions import Partitions, lookback_mapping
from energy_assets.defs.resources import GreatExpectationsResource, StorageResource
from energy_assets.sources import SourceSpec

FEATURES_CHECK = "consumption_features_gx_suite"
PLAUSIBILITY_CHECK = "consumption_features_plausible_values"
SERIES_CATALOGUE_CHECK = "series_catalogue"


def build_features_assets(
    partitions: Partitions, spec: SourceSpec, block_implausible: bool = False
) -> list[dg.AssetsDefinition]:
    """The features asset; `block_implausible` (ENERGY_IMPLAUSIBLE_VALUES=block) makes its
    plausibility check blocking. Flagged values are kept out of model inputs either way."""

    @dg.asset(
        key=keys.CONSUMPTION_FEATURES,
        partitions_def=partitions.hourly,
        backfill_policy=partitions.backfill,
        group_name="features",
        kinds={"polars", "parquet"},
        metadata={PARTITION_COLUMN: FEATURES.time_column},
        ins={
            "raw_consumption": dg.AssetIn(
                key=keys.RAW_CONSUMPTION,
                # Lags and rolling windows reach a week back; hours before the first
                # materialised one simply give NaN lags.
                partition_mapping=lookback_mapping(LOOKBACK_HOURS),
                metadata={ALLOW_MISSING_PARTITIONS: True},
            )
        },
        check_specs=[
            *gx_check_specs(
                FEATURES.name, FEATURES_CHECK, blocking=True, partitions_def=partitions.hourly
            ),
            dg.AssetCheckSpec(
                name=PLAUSIBILITY_CHECK,
                asset=FEATURES.name,
                blocking=block_implausible,
                partitions_def=partitions.hourly,
                description=(
                    f"No kWh more than {PLAUSIBILITY.max_ratio:g}x outside its series' range "
                    f"over the {PLAUSIBILITY.window_hours} h before it, and no zero in a series "
                    f"that is never zero, and no value repeated {PLAUSIBILITY.flat_hours} h or "
                    "more (a flatliner; `energy-assets series accept --flat` exempts a closed "
                    "site) (meter errors); offending rows name hour, series and "
                    "value. Flagged values are kept out of lags, rolling statistics, training "
                    "and forecasts. "
                    + (
                        "Blocking (ENERGY_IMPLAUSIBLE_VALUES=block): nothing is written."
                        if block_implausible
                        else "Warns (ENERGY_IMPLAUSIBLE_VALUES=warn): the run goes on."
                    )
                ),
            ),
            dg.AssetCheckSpec(
                name=SERIES_CATALOGUE_CHECK,
                asset=keys.CONSUMPTION_FEATURES,
                blocking=False,
                description=(
                    f"Every hour holds the {spec.dataset} series catalogue's series (the spec's "
                    "expected series plus accepted changes, `energy-assets series accept`); "
                    "names missing series (retired? a gap?) and new ones. Warns only: the other "
                    "series keep being built and forecast."
                ),
            ),
        ],
        description=(
            "Typed, cleaned rows (datetime_utc, area, segment, energy_consumption in kWh) "
            "plus calendar and Danish holiday features and lag / rolling statistics (1 h, 24 h, "
            "168 h) computed from the week of raw hours before each partition. Blocking checks: "
            "bad data never reaches a forecast."
        ),
    )
    def consumption_features(
        context: dg.AssetExecutionContext,
        raw_consumption,
        gx: GreatExpectationsResource,
        storage: StorageResource,
    ):
        from energy_assets.features.engineering import build_features, clean_consumption
        from energy_assets.validation.suites import (
            validate_consumption_features,
            validate_plausible_values,
        )

        window = context.partition_time_window
        from energy_assets.monitoring.series_catalogue import load_catalogue

        history = clean_consumption(raw_consumption, spec)
        flat_ok = load_catalogue(storage.store(), spec).flat_ok
        features = build_features(history, window.start, window.end, flat_ok=flat_ok)
        outcome = validate_consumption_features(
            features, expected_hours=(window.start, window.end), validator=gx.validator()
        )
        plausible = validate_plausible_values(features, validator=gx.validator())
        if not plausible.success:
            context.log.warning(plausible.summary())
        range_run = is_range_run(context)
        metadata = frame_metadata(
            features, FEATURES.time_column, FEATURES.series_columns, range_run=range_run
        )
        history_hours = int(history[FEATURES.time_column].nunique())
        if range_run:
            context.log.info(
                f"Built {len(features)} feature rows for {hour_text(window.start)} → "
                f"{hour_text(window.end)} from {history_hours} hours of raw history"
            )
        else:
            metadata["history_hours_loaded"] = history_hours
        yield from validated_output(
            features,
            outcome,
            FEATURES_CHECK,
            FEATURES.name,
            metadata,
            blocking=True,
            more_checks=[(plausible, PLAUSIBILITY_CHECK, block_implausible)],
            context=context,
        )
        yield series_catalogue_result(features, spec, storage)

    return [consumption_features]


def series_catalogue_result(features, spec: SourceSpec, storage: StorageResource):
    """The non-blocking series-catalogue check on the hours just built."""
    from energy_assets.monitoring.series_catalogue import compare, load_catalogue, series_text

    def hour_key(hour) -> str:  # the partition key `energy-assets series accept --hour` takes
        return hour.strftime("%Y-%m-%d-%H:00")

    catalogue = load_catalogue(storage.store(), spec)
    comparison = compare(features, catalogue, FEATURES.time_column)
    return dg.AssetCheckResult(
        check_name=SERIES_CATALOGUE_CHECK,
        asset_key=keys.CONSUMPTION_FEATURES,
        passed=comparison.ok,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "summary": dg.MetadataValue.text(comparison.summary(spec.dataset)),
            "expected_series": len(catalogue.expected),
            "newest_hour": hour_key(features[FEATURES.time_column].max()),
            "missing_series": len(comparison.missing),
            "new_series": len(comparison.new),
            "missing": dg.MetadataValue.json(
                {series_text(s): n for s, n in list(comparison.missing.items())[:50]}
            ),
            "new": dg.MetadataValue.json(
                {series_text(s): n for s, n in list(comparison.new.items())[:50]}
            ),
        },
    )
