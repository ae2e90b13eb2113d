"""The bundled data files: each reads through its own spec, and the derived stand-ins are exactly
what the generator makes from the real DE35 slice (so their README's recipe is the truth)."""

from __future__ import annotations

import pandas as pd
import pytest

from energy_assets.devtools import BUNDLED_DATA_PATHS
from energy_assets.devtools.derive import build
from energy_assets.features.engineering import read_consumption_file
from energy_assets.sources import SOURCES, spec_for


def test_derived_files_are_reproducible_and_add_up(tmp_path):
    paths = build(tmp_path)
    for dataset, path in paths.items():
        assert path.read_bytes() == BUNDLED_DATA_PATHS[dataset].read_bytes(), dataset
    de35 = read_consumption_file(
        BUNDLED_DATA_PATHS["ConsumptionDE35Hour"], spec_for("ConsumptionDE35Hour")
    )
    by_area = de35.groupby(["datetime_utc", "area"])["energy_consumption"].sum()
    for dataset in paths:
        derived = read_consumption_file(BUNDLED_DATA_PATHS[dataset], spec_for(dataset))
        # A weighted redistribution: each hour's area totals are DE35's (to the rounding).
        totals = derived.groupby(["datetime_utc", "area"])["energy_consumption"].sum()
        pd.testing.assert_series_equal(totals, by_area, rtol=1e-6, check_dtype=False)


@pytest.mark.parametrize("dataset", list(SOURCES))
def test_each_bundled_file_holds_its_specs_series(dataset):
    spec = spec_for(dataset)
    frame = read_consumption_file(BUNDLED_DATA_PATHS[dataset], spec)
    series = set(map(tuple, frame[["area", "segment"]].drop_duplicates().to_numpy()))
    # Every series is one the spec expects; the DK2-only settlement file holds one of its two.
    assert series <= set(spec.expected_series)
    assert len(series) == {"ProductionConsumptionSettlement": 1}.get(
        dataset, len(spec.expected_series)
    )
