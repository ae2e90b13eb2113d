"""The forecast products' Great Expectations check and fallback metadata (defs/products.py).

Each product asset (`day_ahead_forecasts`, `intraday_forecasts`) declares one blocking check,
`<asset>_gx_suite` (validation.suites.validate_product), evaluated in the body on the vintage it
is about to write, as `forecasts` is (defs/checks.py): on failure nothing is written and the run
fails naming the failing expectations and offending rows (a NaN prediction, p10 > p50, a
negative or inconsistent lead, a duplicated (issued_at, area, segment, datetime_utc), a target
hour outside the product's window, a series missing a target hour). A vintage already stored is
kept as issued; its check is re-evaluated on the stored rows and reported (severity WARN: a
stored vintage is never re-issued, so the result informs rather than blocks).
"""

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import dagster as dg

from energy_assets import metadata_keys as meta
from energy_assets.contracts import Table
from energy_assets.defs.checks import check_result, gx_check_specs, validated_output


def product_check_name(table: Table) -> str:
    return f"{table.name}_gx_suite"


def product_check_specs(
    table: Table, partitions_def: dg.PartitionsDefinition
) -> list[dg.AssetCheckSpec]:
    return gx_check_specs(
        table.name,
        product_check_name(table),
        blocking=True,
        partitions_def=partitions_def,
        description=(
            f"Great Expectations suite over the vintage {table.name} issues: the contract's "
            "columns, types and ranges (prediction and p10/p50/p90 non-null, finite, "
            "non-negative; lead_hours >= 0; quality model or fallback), p10 <= p50 <= p90, "
            "lead_hours = target hour - issue hour, every target hour inside the product's "
            "window, one row per (issued_at, area, segment, datetime_utc), and every expected "
            "series at every target hour. Blocking: on failure nothing is written."
        ),
    )


def fallback_metadata(frame: Any) -> dict[str, Any]:
    """Fallback counts of a vintage, under the keys `forecasts` uses (the alerts read
    `fallback_series`): series served by the fallback, rows, reasons by kind, series named."""
    from energy_assets.forecasting.fallback import fallback_counts, fallback_series

    named = fallback_series(frame)
    out: dict[str, Any] = {
        meta.FALLBACK_SERIES.name: len(named),
        "fallback_rows": int((frame["quality"] == "fallback").sum()) if len(frame) else 0,
    }
    if named:
        out["fallback_reasons"] = dg.MetadataValue.json(fallback_counts(frame))
        out["fallback_series_named"] = dg.MetadataValue.json(dict(list(named.items())[:50]))
    return out


def checked_vintage(
    context: dg.AssetExecutionContext,
    table: Table,
    frame: Any,
    targets: Any,
    required_series: Iterable[tuple[str, str]],
    metadata: Mapping[str, Any],
    validator: Any,
) -> Iterator[dg.Output | dg.AssetCheckResult]:
    """Output the vintage and its check result; a failed check raises (nothing written)."""
    from energy_assets.validation.suites import validate_product

    outcome = validate_product(
        frame, table, targets, expected_series=sorted(required_series), validator=validator
    )
    yield from validated_output(
        frame, outcome, product_check_name(table), table.name, metadata, blocking=True
    )


def kept_vintage(
    table: Table, stored: Any, targets: Any, metadata: Mapping[str, Any], validator: Any
) -> Iterator[dg.Output | dg.AssetCheckResult]:
    """A vintage already stored: nothing written (Output None), its stored rows re-checked."""
    from energy_assets.validation.suites import validate_product

    outcome = validate_product(stored, table, targets, validator=validator)
    yield dg.Output(None, metadata=dict(metadata))
    yield check_result(outcome, product_check_name(table), table.name, blocking=False)
