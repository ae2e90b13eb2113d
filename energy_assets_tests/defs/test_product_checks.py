"""The products' GX check as the asset bodies use it: a bad vintage is refused before it is
written (the check result, then Failure), a stored one is re-checked without blocking."""

from __future__ import annotations

import dagster as dg
import numpy as np
import pytest

from energy_assets.contracts import DAY_AHEAD_FORECASTS, INTRADAY_FORECASTS
from energy_assets.defs.partitions import Partitions
from energy_assets.defs.product_checks import checked_vintage, fallback_metadata, kept_vintage
from energy_assets.defs.products import build_product_assets
from energy_assets.settings import Settings
from energy_assets.validation.gx import FrameValidator
from energy_assets_tests.validation.test_validation import make_vintage


def test_each_product_declares_its_blocking_gx_check():
    partitions = Partitions.from_settings(Settings.from_env())
    for asset, table in zip(
        build_product_assets(partitions, 216),
        (DAY_AHEAD_FORECASTS, INTRADAY_FORECASTS),
        strict=True,
    ):
        (spec,) = asset.check_specs
        assert spec.name == f"{table.name}_gx_suite" and spec.blocking


def test_a_bad_vintage_is_refused_and_a_stored_one_only_reported():
    good, targets = make_vintage()
    series = [("DK1", "111"), ("DK2", "999")]
    validator = FrameValidator()
    events = list(
        checked_vintage(None, DAY_AHEAD_FORECASTS, good, targets, series, {"rows": 48}, validator)
    )
    assert isinstance(events[0], dg.Output) and events[1].passed
    bad = good.copy()
    bad.loc[0, "prediction"] = np.nan
    results = []
    with pytest.raises(dg.Failure, match="prediction"):
        for event in checked_vintage(
            None, DAY_AHEAD_FORECASTS, bad, targets, series, {}, validator
        ):
            results.append(event)
    assert [type(e) for e in results] == [dg.AssetCheckResult] and not results[0].passed
    # Already stored: kept as issued (nothing written), the failure reported, not raised.
    kept = list(kept_vintage(DAY_AHEAD_FORECASTS, bad, targets, {"rows": 48}, validator))
    assert kept[0].value is None and not kept[1].passed
    assert kept[1].severity == dg.AssetCheckSeverity.WARN


def test_a_vintage_counts_its_fallbacks_like_forecasts():
    vintage, _ = make_vintage()
    assert fallback_metadata(vintage)["fallback_series"] == 0
    why = "no recent data: the newest value is 2026-03-17T09:00Z"
    mine = vintage["segment"] == "999"
    vintage.loc[mine, "quality"] = "fallback"
    vintage.loc[mine, "quality_reason"] = why
    metadata = fallback_metadata(vintage)
    assert metadata["fallback_series"] == 1 and metadata["fallback_rows"] == int(mine.sum())
    assert metadata["fallback_reasons"].value == {"no recent data": 1}
    assert metadata["fallback_series_named"].value == {"DK2/999": why}
