"""Daily level: a per-series level correction learnt from the last days' residuals, scored offline
on the forecasts `bench_calibration.py` saved (its --out directory), against the oracle that knows
each day's true mean. For origin o the correction is alpha x the mean over the last d origins
before o of that series' mean log residual log(actual / forecast) (their targets end by o; the
first test origins read the calibration holdout's last days). docs/decisions/0011 holds a run.

    uv run python benchmarks/bench_daily_level.py [DIR]
"""

import glob
import json
import os
import sys

import numpy as np
import pandas as pd

D = sys.argv[1] if len(sys.argv) > 1 else "/tmp/bench_calibration"


def mape(a, p):
    return float(np.mean(np.abs(a - p) / a))


def wape(a, p):
    return float(np.abs(a - p).sum() / a.sum())


out = []
for f in sorted(glob.glob(f"{D}/*.json")):
    info = json.load(open(f))
    tag = f[:-5]
    served = pd.read_parquet(tag + "_served.parquet")
    name = "_holdout_mix.parquet" if info["weather_used"] else "_holdout_plain.parquet"
    if not os.path.exists(tag + name):
        continue  # a short window keeps the fit's band: no calibration holdout was saved
    hold = pd.read_parquet(
        tag + ("_holdout_mix.parquet" if info["weather_used"] else "_holdout_plain.parquet")
    )
    cols = ["area", "segment", "forecast_origin", "horizon_hours", "prediction", "actual"]
    allf = pd.concat(
        [hold[cols].assign(src="hold"), served[cols].assign(src="test")], ignore_index=True
    )
    allf["lr"] = np.log(allf["actual"] / allf["prediction"])
    # mean log residual per (series, origin): the day's level error of that origin's forecast
    day = (
        allf.groupby(["area", "segment", "forecast_origin"])["lr"]
        .mean()
        .rename("day_lr")
        .reset_index()
    )
    day = day.sort_values("forecast_origin")
    test = served.copy()
    r = {
        "data": info["data"],
        "cutoff": info["cutoff"][:10],
        "seed": info["seed"],
        "base": f"{mape(test.actual, test.prediction):.2%}/{wape(test.actual, test.prediction):.2%}",
    }
    for d in (1, 2, 3, 7):
        # residual of origins strictly before o (their targets end at or before o), last d of them
        day[f"c{d}"] = day.groupby(["area", "segment"])["day_lr"].transform(
            lambda s, d=d: s.shift(1).rolling(d, min_periods=1).mean()
        )
        m = test.merge(
            day[["area", "segment", "forecast_origin", f"c{d}"]],
            on=["area", "segment", "forecast_origin"],
            how="left",
        )
        c = m[f"c{d}"].fillna(0).to_numpy()
        for a in (0.25, 0.5, 1.0):
            p = m.prediction.to_numpy() * np.exp(a * c)
            r[f"d{d}a{a}"] = f"{mape(m.actual, p):.2%}/{wape(m.actual, p):.2%}"
    # oracle: the true daily mean
    g = test.groupby(["area", "segment", "forecast_origin"])
    p = test.prediction * g["actual"].transform("mean") / g["prediction"].transform("mean")
    r["oracle"] = f"{mape(test.actual, p):.2%}"
    out.append(r)
pd.set_option("display.width", 250)
print(pd.DataFrame(out).T.to_string())
