"""Charts a person reads at a glance, as PNG bytes for the materialisations' metadata.

Drawn on matplotlib `Figure`s with the Agg canvas, never pyplot (no global figure registry, no
GUI backend, safe in threads), and matplotlib is imported inside the functions, so loading the
code location never imports it. Charts are small (about 900 x 330 px) because a single-run
backfill copies an output's metadata to every partition it writes. The Dagster UI shows them
through markdown metadata: `markdown_image` embeds the PNG as a data: URL, which the UI's
markdown renderer (the metadata's "Show Markdown" dialog) displays.

Inputs are the platform's frames (FORECASTS, CLEAN, the accuracy and backtest tables), so each
chart can be drawn and tested without Dagster.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from energy_assets.contracts import SERIES_KEYS, utc

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

DPI = 100
WIDE = (9.0, 3.3)  # inches: ~900 x 330 px
ACTUAL_COLOR = "#222222"
MODEL_COLOR = "#1f6fb4"
NAIVE_COLORS = {"seasonal_naive_24": "#c98a1b", "seasonal_naive_168": "#8a8a8a"}
DRIFT_COLOR, NO_DRIFT_COLOR = "#c0392b", "#2e86c1"
# Days of actuals drawn before a forecast's origin.
FORECAST_CONTEXT_HOURS = 72


def markdown_image(png: bytes, alt: str) -> str:
    """Markdown that shows `png` inline: an image with a data: URL (no file, no server)."""
    text = alt.replace("[", "(").replace("]", ")")
    return f"![{text}](data:image/png;base64,{base64.b64encode(png).decode('ascii')})"


def _figure(size: tuple[float, float] = WIDE, **margins: float) -> Figure:
    """A figure with fixed margins: constrained layout measured every text box and cost more
    than the drawing (about half of a forecast chart's time)."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=size, dpi=DPI)
    figure.subplots_adjust(
        **{"left": 0.08, "right": 0.98, "top": 0.84, "bottom": 0.14, "wspace": 0.22, **margins}
    )
    return figure


def _png(figure: Figure) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    buffer = io.BytesIO()
    FigureCanvasAgg(figure).print_png(buffer)
    return buffer.getvalue()


def _naive(times: Any) -> np.ndarray:
    """UTC timestamps as naive datetime64 (matplotlib's date axis, labelled UTC)."""
    values = pd.to_datetime(pd.Series(times))
    if values.dt.tz is not None:
        values = values.dt.tz_convert("UTC").dt.tz_localize(None)
    return values.to_numpy()


def _energy_unit(values: Iterable[float]) -> tuple[float, str]:
    """(divisor, label) so the axis reads in kWh, MWh or GWh."""
    finite = [abs(v) for v in values if v is not None and math.isfinite(v)]
    top = max(finite, default=0.0)
    if top >= 1e6:
        return 1e6, "GWh"
    if top >= 1e4:
        return 1e3, "MWh"
    return 1.0, "kWh"


def _date_axis(axes: Axes) -> None:
    """Ticks at midnight UTC labelled with the day (fixed: auto locators cost layout passes)."""
    from matplotlib.dates import DateFormatter, DayLocator

    axes.xaxis.set_major_locator(DayLocator())
    axes.xaxis.set_major_formatter(DateFormatter("%d %b"))


def _style(axes: Axes, numeric_y: bool = True) -> None:
    from matplotlib.ticker import MaxNLocator

    if numeric_y:
        # Few ticks: each is two lines and a text to lay out, most of a chart's drawing time.
        axes.yaxis.set_major_locator(MaxNLocator(5))
    axes.grid(True, color="#e5e5e5", linewidth=0.8)
    axes.set_axisbelow(True)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    axes.tick_params(labelsize=8)


# --------------------------------------------------------------------------- forecasts


def representative_series(forecasts: pd.DataFrame, count: int = 2) -> list[tuple[str, str, str]]:
    """(area, segment, why) of the series worth a look: the largest by predicted kWh, then
    the widest 80% interval relative to its prediction (then the next largest, up to `count`)."""
    if forecasts.empty:
        return []
    grouped = forecasts.groupby(SERIES_KEYS, observed=True)
    level = grouped["prediction"].mean().sort_values(ascending=False, kind="stable")
    chosen: list[tuple[str, str, str]] = []

    def add(key: tuple, why: str) -> None:
        if len(chosen) < count and all((a, c) != key for a, c, _ in chosen):
            chosen.append((str(key[0]), str(key[1]), why))

    add(level.index[0], "largest series")
    if {"prediction_lower", "prediction_upper"} <= set(forecasts.columns):
        relative = (
            (
                (forecasts["prediction_upper"] - forecasts["prediction_lower"])
                / forecasts["prediction"].where(forecasts["prediction"] > 0)
            )
            .groupby([forecasts[k] for k in SERIES_KEYS], observed=True)
            .mean()
        )
        relative = relative.dropna().sort_values(ascending=False, kind="stable")
        for key, width in relative.items():
            if all((a, c) != key for a, c, _ in chosen):
                add(key, f"widest 80% interval (±{width / 2:.0%})")
                break
    for key in level.index:
        add(key, "next largest series")
    return chosen


def forecast_chart(
    forecasts: pd.DataFrame,
    history: pd.DataFrame,
    series: Sequence[tuple[str, int, str]] | None = None,
    context_hours: int = FORECAST_CONTEXT_HOURS,
) -> bytes:
    """The newest origin's 24-hour paths with their 80% intervals after the last
    `context_hours` of actuals, one panel per series (default: `representative_series`).

    forecasts: FORECASTS rows (any number of origins; the newest is drawn).
    history: CLEAN rows (datetime_utc, area, segment, energy_consumption) up to the origin.
    """
    if forecasts.empty:
        raise ValueError("no forecast rows to draw")
    origin = forecasts["forecast_origin"].max()
    newest = forecasts[forecasts["forecast_origin"] == origin]
    picked = list(series) if series is not None else representative_series(newest)
    start = utc(origin) - pd.Timedelta(hours=context_hours)
    times = pd.to_datetime(history["datetime_utc"], utc=True)
    recent = history[(times > start) & (times <= utc(origin))]
    figure = _figure()
    panels = figure.subplots(1, len(picked), squeeze=False)[0]
    for axes, (area, segment, why) in zip(panels, picked, strict=True):
        path = newest[(newest["area"] == area) & (newest["segment"] == segment)]
        path = path.sort_values("datetime_utc")
        actual = recent[(recent["area"] == area) & (recent["segment"] == segment)]
        actual = actual.sort_values("datetime_utc")
        divisor, unit = _energy_unit(
            [*actual["energy_consumption"], *path.get("prediction_upper", path["prediction"])]
        )
        axes.plot(
            _naive(actual["datetime_utc"]),
            actual["energy_consumption"] / divisor,
            color=ACTUAL_COLOR,
            linewidth=1.2,
            label="actual",
        )
        hours = _naive(path["datetime_utc"])
        if {"prediction_lower", "prediction_upper"} <= set(path.columns):
            axes.fill_between(
                hours,
                path["prediction_lower"] / divisor,
                path["prediction_upper"] / divisor,
                color=MODEL_COLOR,
                alpha=0.2,
                linewidth=0,
                label="80% interval",
            )
        axes.plot(
            hours, path["prediction"] / divisor, color=MODEL_COLOR, linewidth=1.6, label="forecast"
        )
        axes.axvline(_naive([origin])[0], color="#999999", linewidth=0.8, linestyle="--")
        axes.set_title(f"{area} · {segment}: {why}", fontsize=9)
        axes.set_ylabel(f"{unit} per hour", fontsize=8)
        _style(axes)
        _date_axis(axes)
    handles, labels = panels[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="upper right", ncol=3, fontsize=8, frameon=False)
    version = newest["model_version"].iloc[0] if "model_version" in newest else None
    figure.suptitle(
        f"24-hour forecast from {utc(origin):%Y-%m-%d %H:%M} UTC"
        + (f" · model v{version}" if version is not None else ""),
        fontsize=10,
        x=0.01,
        ha="left",
    )
    return _png(figure)


# --------------------------------------------------------------------------- accuracy


def horizon_error_chart(per_horizon: pd.DataFrame, title: str = "") -> bytes:
    """MAPE and WAPE (in %) by hours ahead; `per_horizon` has horizon_hours, mape, wape."""
    if per_horizon.empty:
        raise ValueError("no scored horizons to draw")
    frame = per_horizon.sort_values("horizon_hours")
    figure = _figure((7.0, 3.0), left=0.1, bottom=0.16, top=0.88)
    axes = figure.subplots()
    for column, color in (("mape", MODEL_COLOR), ("wape", "#c98a1b")):
        axes.plot(
            frame["horizon_hours"],
            frame[column].astype(float) * 100,
            marker="o",
            markersize=3,
            color=color,
            label=column.upper(),
        )
    axes.set_xlabel("hours ahead", fontsize=8)
    axes.set_ylabel("error, %", fontsize=8)
    axes.set_xlim(0.5, float(frame["horizon_hours"].max()) + 0.5)
    axes.set_ylim(bottom=0)
    axes.legend(fontsize=8, frameon=False)
    axes.set_title(title or "Forecast error by hours ahead", fontsize=10)
    _style(axes)
    return _png(figure)


def horizon_coverage_chart(
    per_horizon: pd.DataFrame, title: str = "", target: float = 0.8
) -> bytes:
    """Share of actuals inside the p10–p90 band (in %) by hours ahead against the `target`
    line; `per_horizon` has horizon_hours, coverage and pinball (drawn on a second axis)."""
    frame = per_horizon.dropna(subset=["coverage"]).sort_values("horizon_hours")
    if frame.empty:
        raise ValueError("no horizon with a scored p10–p90 band to draw")
    figure = _figure((7.0, 3.0), left=0.1, right=0.9, bottom=0.16, top=0.88)
    axes = figure.subplots()
    axes.plot(
        frame["horizon_hours"],
        frame["coverage"].astype(float) * 100,
        marker="o",
        markersize=3,
        color=MODEL_COLOR,
        label="coverage",
    )
    axes.axhline(target * 100, color=ACTUAL_COLOR, linewidth=1, linestyle="--", label="target")
    axes.set_xlabel("hours ahead", fontsize=8)
    axes.set_ylabel("actuals inside p10–p90, %", fontsize=8)
    axes.set_xlim(0.5, float(frame["horizon_hours"].max()) + 0.5)
    axes.set_ylim(0, 100)
    pinball = axes.twinx()
    pinball.plot(
        frame["horizon_hours"],
        frame["pinball"].astype(float) * 100,
        color="#c98a1b",
        linewidth=1,
        label="pinball",
    )
    pinball.set_ylabel("pinball loss, % of actuals", fontsize=8)
    pinball.set_ylim(bottom=0)
    pinball.tick_params(labelsize=8)
    handles = axes.get_legend_handles_labels()
    extra = pinball.get_legend_handles_labels()
    axes.legend(handles[0] + extra[0], handles[1] + extra[1], fontsize=8, frameon=False)
    axes.set_title(title or "p10–p90 coverage by hours ahead", fontsize=10)
    _style(axes)
    return _png(figure)


# --------------------------------------------------------------------------- model


def backtest_chart(predictions: pd.DataFrame) -> bytes:
    """The backtest at a glance: total consumption over all series (actual, model, seasonal
    naive), and each daily origin's pooled MAPE for the model and both naive baselines.

    predictions: the backtest's points (forecast_origin, datetime_utc, area, segment,
    predicted, actual, seasonal_naive_24, seasonal_naive_168).
    """
    from energy_assets.metrics import pooled_mape

    if predictions.empty:
        raise ValueError("no backtest points to draw")
    baselines = [c for c in NAIVE_COLORS if c in predictions.columns]
    points = predictions.dropna(subset=["actual", "predicted", *baselines])
    totals = points.groupby("datetime_utc")[["actual", "predicted", *baselines]].sum()
    divisor, unit = _energy_unit(totals["actual"])
    figure = _figure((10.0, 3.4), left=0.07, top=0.9)
    left, right = figure.subplots(1, 2, width_ratios=[2.2, 1])
    hours = _naive(totals.index)
    left.plot(hours, totals["actual"] / divisor, color=ACTUAL_COLOR, linewidth=1.4, label="actual")
    for column in baselines:
        left.plot(
            hours,
            totals[column] / divisor,
            color=NAIVE_COLORS[column],
            linewidth=0.9,
            linestyle="--",
            label=column.replace("_", " "),
        )
    left.plot(hours, totals["predicted"] / divisor, color=MODEL_COLOR, linewidth=1.4, label="model")
    left.set_ylabel(f"{unit} per hour, all series", fontsize=8)
    left.set_title("Backtest: total consumption", fontsize=9)
    left.legend(fontsize=7, frameon=False, ncol=2, loc="upper left")
    _style(left)
    _date_axis(left)

    days = sorted(points["forecast_origin"].unique())
    methods = ["predicted", *baselines]
    width = 0.8 / len(methods)
    for i, method in enumerate(methods):
        scores = [
            pooled_mape(day["actual"].to_numpy(), day[method].to_numpy()) * 100
            for _, day in points.groupby("forecast_origin", sort=True)
        ]
        right.bar(
            np.arange(len(days)) + (i - (len(methods) - 1) / 2) * width,
            scores,
            width=width,
            color=MODEL_COLOR if method == "predicted" else NAIVE_COLORS[method],
            label="model" if method == "predicted" else method.replace("_", " "),
        )
    right.set_xticks(np.arange(len(days)), [f"{utc(d):%m-%d}" for d in days], fontsize=7)
    right.set_ylabel("pooled MAPE, %", fontsize=8)
    right.set_title("MAPE per daily origin", fontsize=9)
    _style(right)
    return _png(figure)


def feature_importance_chart(importance: pd.DataFrame, top: int = 12) -> bytes:
    """The `top` features by share of total gain (importance: feature, gain)."""
    if importance.empty:
        raise ValueError("no feature importances to draw")
    total = float(importance["gain"].sum()) or 1.0
    head = importance.sort_values("gain", ascending=False).head(top).iloc[::-1]
    figure = _figure((6.5, 3.6), left=0.3, bottom=0.14, top=0.9)
    axes = figure.subplots()
    axes.barh(head["feature"].astype(str), head["gain"] / total * 100, color=MODEL_COLOR)
    axes.set_xlabel("share of total gain, %", fontsize=8)
    axes.set_title(f"Feature importance (top {len(head)} of {len(importance)})", fontsize=10)
    _style(axes, numeric_y=False)
    axes.tick_params(axis="y", labelsize=7)
    return _png(figure)


def optimisation_history_chart(trials: Iterable[Any]) -> bytes:
    """Each finished trial's objective (mean fold MAPE, %) and the best so far.

    trials: Optuna FrozenTrials (number, state, value, intermediate_values); pruned trials are
    drawn at their last reported fold value.
    """
    complete, pruned = [], []
    for trial in trials:
        state = getattr(trial.state, "name", str(trial.state))
        if state == "COMPLETE" and trial.value is not None:
            complete.append((trial.number, float(trial.value)))
        elif state == "PRUNED" and trial.intermediate_values:
            last_step = max(trial.intermediate_values)
            pruned.append((trial.number, float(trial.intermediate_values[last_step])))
    if not complete:
        raise ValueError("no completed trial to draw")
    complete.sort()
    figure = _figure((6.5, 3.0), left=0.12, bottom=0.16, top=0.88)
    axes = figure.subplots()
    numbers = [n for n, _ in complete]
    values = [v * 100 for _, v in complete]
    axes.scatter(numbers, values, s=16, color=MODEL_COLOR, label="trial", zorder=3)
    if pruned:
        axes.scatter(
            [n for n, _ in pruned],
            [v * 100 for _, v in pruned],
            s=16,
            marker="x",
            color="#8a8a8a",
            label="pruned (last fold)",
            zorder=3,
        )
    best = np.minimum.accumulate(values)
    axes.step(numbers, best, where="post", color=DRIFT_COLOR, linewidth=1.2, label="best so far")
    axes.set_xlabel("trial", fontsize=8)
    axes.set_ylabel("mean fold MAPE, %", fontsize=8)
    axes.set_title(
        f"Optuna optimisation history ({len(complete)} complete, {len(pruned)} pruned)",
        fontsize=10,
    )
    axes.legend(fontsize=7, frameon=False)
    _style(axes)
    return _png(figure)


def model_charts(
    predictions: pd.DataFrame, importance: pd.DataFrame, trials: Iterable[Any] | None = None
) -> dict[str, bytes]:
    """The forecasting model's charts by metadata key: its backtest against actuals and the
    seasonal-naive baselines, its feature importances and (with `trials`, an Optuna study's
    trials) the optimisation history."""
    charts = {
        "backtest_chart": backtest_chart(predictions),
        "feature_importance_chart": feature_importance_chart(importance),
    }
    if trials is not None:
        charts["optimisation_history_chart"] = optimisation_history_chart(trials)
    return charts


# --------------------------------------------------------------------------- drift


def drift_chart(column_scores: pd.DataFrame, drift_share: float | None = None) -> bytes:
    """Each compared column's drift score against its threshold, drifted columns in red.

    column_scores: column, stattest, threshold, score, drifted (a NaN score: not compared).
    """
    scores = column_scores.dropna(subset=["score"])
    if scores.empty:
        raise ValueError("no drift scores to draw")
    scores = scores.iloc[::-1]
    height = max(2.2, 0.32 * len(scores) + 1.0)
    figure = _figure((7.0, height), left=0.26, bottom=0.55 / height, top=1 - 0.4 / height)
    axes = figure.subplots()
    positions = np.arange(len(scores))
    colors = [DRIFT_COLOR if drifted else NO_DRIFT_COLOR for drifted in scores["drifted"]]
    axes.barh(positions, scores["score"].astype(float), color=colors)
    thresholds = pd.to_numeric(scores["threshold"], errors="coerce")
    axes.scatter(thresholds, positions, marker="|", s=200, color=ACTUAL_COLOR, label="threshold")
    axes.set_yticks(positions, scores["column"].astype(str), fontsize=7)
    axes.set_xlabel("drift score (Evidently's test for the column)", fontsize=8)
    share = f" · drift share {drift_share:.2f}" if drift_share is not None else ""
    axes.set_title(f"Drift per column, red = drifted{share}", fontsize=10)
    axes.legend(fontsize=7, frameon=False, loc="lower right")
    _style(axes, numeric_y=False)
    return _png(figure)


def png_size(png: bytes) -> tuple[int, int]:
    """(width, height) in pixels from a PNG's header."""
    if png[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


def product_chart(
    vintage: pd.DataFrame, history: pd.DataFrame, context_hours: int = FORECAST_CONTEXT_HOURS
) -> bytes:
    """A forecast product in wall-clock time, all series summed: the last `context_hours` of
    published actuals up to the newest published hour (the vintage's data origin), the hours
    still unpublished between it and the issue time ("now"), and the forecast window ahead of
    now with its band (the sum of the series' p10 / p90: errors taken as fully correlated).

    vintage: day_ahead_forecasts / intraday_forecasts rows of one issue; history: CLEAN rows.
    """
    if vintage.empty:
        raise ValueError("no forecast rows to draw")
    origin, issued = utc(vintage["data_origin"].iloc[0]), utc(vintage["issued_at"].iloc[0])
    times = pd.to_datetime(history["datetime_utc"], utc=True)
    recent = history[(times > origin - pd.Timedelta(hours=context_hours)) & (times <= origin)]
    actual = recent.groupby("datetime_utc")["energy_consumption"].sum().sort_index()
    path = vintage.groupby("datetime_utc")[["p10", "p50", "p90"]].sum().sort_index()
    divisor, unit = _energy_unit([*actual, *path["p90"]])
    figure = _figure()
    axes = figure.subplots()
    axes.plot(_naive(actual.index), actual / divisor, color=ACTUAL_COLOR, lw=1.2, label="actual")
    hours = _naive(path.index)
    axes.fill_between(
        hours, path["p10"] / divisor, path["p90"] / divisor, color=MODEL_COLOR, alpha=0.2,
        linewidth=0, label="p10-p90",
    )  # fmt: skip
    axes.plot(hours, path["p50"] / divisor, color=MODEL_COLOR, linewidth=1.6, label="forecast")
    axes.axvspan(
        _naive([origin])[0], _naive([issued])[0], color="#eeeeee", label="not published yet"
    )
    axes.axvline(_naive([origin])[0], color="#999999", linewidth=0.8, linestyle="--")
    axes.axvline(_naive([issued])[0], color="#c0392b", linewidth=1.0, label="now (issued)")
    axes.set_ylabel(f"{unit} per hour, all series", fontsize=8)
    _style(axes)
    _date_axis(axes)
    figure.legend(loc="upper right", ncol=5, fontsize=8, frameon=False)
    figure.suptitle(
        f"Issued {issued:%Y-%m-%d %H:%M} UTC from data published up to {origin:%Y-%m-%d %H:%M} UTC",
        fontsize=9, x=0.01, ha="left",
    )  # fmt: skip
    return _png(figure)
