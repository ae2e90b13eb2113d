"""`energy-assets backtest --weather` on the real DE35 slice with DMI's real weather: both
variants are reported, and with 27 days of weather the rule serves the no-weather model."""

import json

import pytest

from energy_assets import cli
from energy_assets.devtools import WEATHER_SAMPLE_PATH
from energy_assets.training.weather_backtest import VARIANTS


@pytest.mark.slow
def test_backtest_with_weather_reports_every_variant_and_the_rule(shared_slice_path, tmp_path):
    out = tmp_path / "bt.json"
    args = ["backtest", "--data", str(shared_slice_path), "--cutoff", "2023-01-10T22:00",
            "--origins", "2", "--json", str(out), "--weather", str(WEATHER_SAMPLE_PATH)]  # fmt: skip
    assert cli.main(args) == 0
    weather = json.loads(out.read_text())["weather"]
    assert set(weather["metrics"]) == set(VARIANTS)
    assert {"no_weather", "weather_observed", "weather_simulated", "served"} <= set(VARIANTS)
    for metrics in weather["metrics"].values():
        assert 0 < metrics["mape"] < 1 and 0 <= metrics["coverage_80"] <= 1
    assert weather["decision"]["weather_used"] is False
    assert "days of weather" in weather["decision"]["reason"]
    # The rule said no: what serves is the no-weather model, exactly.
    assert weather["metrics"]["served"] == weather["metrics"]["no_weather"]
