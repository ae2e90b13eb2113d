"""`energy-assets backtest --weather` on the real DE35 slice with DMI's real weather: every
variant is reported, with 27 days of weather the rule serves the no-weather model, and the JSON's
top level is always the variant the rule served."""

import json

import pandas as pd
import pytest

from energy_assets import cli
from energy_assets.devtools import WEATHER_SAMPLE_PATH
from energy_assets.training import weather_features as wf
from energy_assets.training.backtest import BacktestResult, summary_table
from energy_assets.training.weather_backtest import VARIANTS, weather_summary


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
        assert 0 < metrics["mape"] < 1 and 0 <= metrics["coverage"] <= 1
    assert weather["decision"]["weather_used"] is False
    assert "days of weather" in weather["decision"]["reason"]
    # The rule said no: what serves is the no-weather model, exactly.
    assert weather["metrics"]["served"] == weather["metrics"]["no_weather"]


@pytest.mark.slow
def test_backtest_json_is_the_served_variant_and_recomputes_the_printed_table(
    shared_slice_path, tmp_path, monkeypatch, capsys
):
    # Let the rule serve weather on the slice's 27 days (it needs a year and a 1 % gain): the
    # case where the served variant differs from the no-weather backtest.
    monkeypatch.setattr(wf, "WEATHER_MIN_HISTORY_DAYS", 0)
    monkeypatch.setattr(wf, "WEATHER_MIN_GAIN", -1.0)
    out = tmp_path / "bt.json"
    args = ["backtest", "--data", str(shared_slice_path), "--cutoff", "2023-01-10T22:00",
            "--origins", "2", "--json", str(out), "--weather", str(WEATHER_SAMPLE_PATH)]  # fmt: skip
    assert cli.main(args) == 0
    printed = capsys.readouterr().out
    document = json.loads(out.read_text())
    weather = document["weather"]
    assert weather["decision"]["weather_used"] is True
    assert weather["metrics"]["served"] != weather["metrics"]["no_weather"]

    # The printed tables, recomputed from the JSON alone.
    predictions = pd.DataFrame(document["predictions"])
    for col in ("forecast_origin", "datetime_utc"):
        predictions[col] = pd.to_datetime(predictions[col], utc=True)
    result = BacktestResult(
        predictions=predictions,
        metrics=document["metrics"],
        field_metrics=document["field_metrics"],
        fit_seconds=document["fit_seconds"],
        predict_seconds=document["predict_seconds"],
        cutoff=pd.Timestamp(document["cutoff"]),
        origins=[pd.Timestamp(o) for o in document["origins"]],
    )
    assert summary_table(result) in printed
    assert weather_summary(weather) in printed

    # The top-level metrics are the predictions' own, and the printed `served` row's.
    scored = predictions.dropna(subset=["seasonal_naive_24", "seasonal_naive_168"])
    mape = float(((scored["predicted"] - scored["actual"]).abs() / scored["actual"]).mean())
    assert document["metrics"]["model"]["mape"] == pytest.approx(mape, rel=1e-12)
    assert weather["metrics"]["served"]["mape"] == pytest.approx(mape, rel=1e-12)
    served_row = next(line for line in printed.splitlines() if line.startswith("served "))
    model_row = next(line for line in printed.splitlines() if line.startswith("model "))
    assert served_row.split()[1] == model_row.split()[1] == f"{mape:.2%}"
