"""A small wrapper over Great Expectations 1.x: validate a DataFrame, get a readable outcome.

dagster-ge only supports GX < 1, so the platform wraps GX itself. A `FrameValidator` owns one
ephemeral GX context (one pandas datasource, dataframe asset and whole-dataframe batch
definition), built on first use (~35 ms; importing GX is the slow part, seconds, paid once per
process). In Dagster runs the `gx` resource holds one per run; elsewhere make one and reuse it.

    validator = FrameValidator()
    outcome = validator.validate(df, [gxe.ExpectColumnValuesToNotBeNull(column="TotalCon")],
                                 "raw_consumption", index_columns=["HourUTC", "PriceArea"])
    outcome.success, outcome.failed, outcome.summary(), outcome.to_metadata()

Offending rows come from GX's SUMMARY result format with `unexpected_index_column_names`, so a
failure shows which (hour, series) broke the rule, not just a count. No Dagster import here.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from energy_assets.metadata_keys import FAILED_EXPECTATIONS, UNEXPECTED_ROWS

# Offending rows kept per failed expectation (GX partial_unexpected_count).
MAX_UNEXPECTED_ROWS = 20


@dataclass
class ExpectationOutcome:
    """The result of one expectation.

    `unexpected_rows` holds up to MAX_UNEXPECTED_ROWS offending rows (the index columns plus the
    checked column); `observed` is GX's observed value (or the exception text if it raised).
    """

    expectation: str
    columns: tuple[str, ...]
    success: bool
    observed: Any = None
    unexpected_count: int | None = None
    unexpected_rows: pd.DataFrame = field(default_factory=pd.DataFrame)
    kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def column(self) -> str | None:
        return self.columns[0] if self.columns else None

    def describe(self) -> str:
        """One line: which expectation on which column(s) failed, and how."""
        args = ", ".join(self.columns)
        text = f"{self.expectation}({args})" if args else self.expectation
        if self.unexpected_count and self.expectation == "expect_compound_columns_to_be_unique":
            text += f": {self.unexpected_count} rows share a key"
            conflict = self._first_conflict()
            if conflict:
                text += ", e.g. " + conflict
        elif self.unexpected_count:
            text += f": {self.unexpected_count} unexpected row(s)"
            if len(self.unexpected_rows):
                first = self.unexpected_rows.iloc[0].to_dict()
                text += ", e.g. " + ", ".join(f"{k}={v}" for k, v in first.items())
        elif self.observed is not None:
            text += f": observed {_short(self.observed)}"
        return text

    def _first_conflict(self) -> str:
        """'key HourUTC=…, PriceArea=DK1, ConsumerType_DE35=111 has TotalCon=1 and TotalCon=2':
        the first duplicated key among the offending rows and the values its rows hold."""
        rows = self.unexpected_rows
        key = [c for c in self.columns if c in rows.columns]
        if rows.empty or not key:
            return ""
        first = rows.iloc[0]
        same = rows[(rows[key] == first[key]).all(axis=1)]
        text = "key " + ", ".join(f"{c}={first[c]}" for c in key)
        others = [c for c in rows.columns if c not in key]
        if others:
            values = [", ".join(f"{c}={row[c]}" for c in others) for _, row in same.iterrows()]
            text += " has " + " and ".join(values)
        return text


@dataclass
class ValidationOutcome:
    """All expectation results of one suite run over one frame."""

    suite_name: str
    results: list[ExpectationOutcome]
    rows: int = 0

    @property
    def success(self) -> bool:
        return all(r.success for r in self.results)

    @property
    def failed(self) -> list[ExpectationOutcome]:
        return [r for r in self.results if not r.success]

    def summary(self) -> str:
        """One line per failed expectation (or a one-line pass)."""
        if self.success:
            return f"{self.suite_name}: all {len(self.results)} expectations passed on {self.rows} rows"
        lines = [
            f"{self.suite_name}: {len(self.failed)} of {len(self.results)} expectations failed "
            f"on {self.rows} rows"
        ]
        lines += [f"- {r.describe()}" for r in self.failed]
        return "\n".join(lines)

    def failures_markdown(self) -> str:
        """Markdown table of failed expectations, then a preview of each one's offending rows."""
        if self.success:
            return f"All {len(self.results)} expectations passed."
        out = ["| expectation | column(s) | unexpected rows | observed |", "|---|---|---|---|"]
        for r in self.failed:
            observed = "" if r.observed is None else _short(r.observed)
            count = "" if r.unexpected_count is None else str(r.unexpected_count)
            out.append(
                f"| {r.expectation} | {', '.join(r.columns)} | {count} | {_md_cell(observed)} |"
            )
        for r in self.failed:
            if len(r.unexpected_rows):
                out += ["", f"**{r.expectation}({', '.join(r.columns)})** offending rows:", ""]
                out.append(_markdown_table(r.unexpected_rows))
        return "\n".join(out)

    def to_metadata(self) -> dict[str, Any]:
        """Plain values for Dagster metadata (keys ending in `_md` hold markdown)."""
        return {
            "suite": self.suite_name,
            "success": self.success,
            "rows_validated": self.rows,
            "expectations_evaluated": len(self.results),
            "expectations_failed": len(self.failed),
            # What an alert reports as the offending rows count (metadata_keys.UNEXPECTED_ROWS).
            UNEXPECTED_ROWS.name: sum(r.unexpected_count or 0 for r in self.failed),
            FAILED_EXPECTATIONS.name: ", ".join(
                f"{r.expectation}({', '.join(r.columns)})" for r in self.failed
            ),
            "summary": self.summary(),
            "failures_md": self.failures_markdown(),
        }


def widen_narrow_numbers(df: pd.DataFrame) -> pd.DataFrame:
    """`df` with its narrow numeric columns (int8, int16, float32, ...) as int64 / float64.

    GX 1.x checks "between" with vectorised pandas only on int64 / float64 and nanosecond
    datetimes; any other numeric dtype goes through a Python function per value (656,640 calls for
    the three calendar features, int8 / int16, of 120 days of 76 series: ~1-2 s of that backfill,
    a few seconds of a year's). The widened values are the same numbers, so every value
    expectation gives the same answer; the dtypes themselves are checked outside GX
    (suites.dtype_outcome) on the original frame.
    """
    import numpy as np

    narrow = {}
    for name, dtype in df.dtypes.items():
        if not isinstance(dtype, np.dtype):  # nullable / extension dtypes: left as they are
            continue
        if (dtype.kind == "i" or (dtype.kind == "u" and dtype.itemsize < 8)) and dtype != "int64":
            narrow[name] = "int64"
        elif dtype.kind == "f" and dtype != "float64":
            narrow[name] = "float64"
    return df.astype(narrow) if narrow else df


class FrameValidator:
    """Runs GX expectations over in-memory pandas frames, with its own ephemeral GX context."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._batch_definition: Any = None

    def _whole_dataframe_batch_definition(self) -> Any:
        with self._lock:
            if self._batch_definition is None:
                import great_expectations as gx
                from great_expectations.data_context.types.base import ProgressBarsConfig

                context = gx.get_context(mode="ephemeral")
                # tqdm bars on every validation only clutter Dagster's compute logs.
                context.variables.progress_bars = ProgressBarsConfig(globally=False)
                datasource = context.data_sources.add_pandas("energy_assets_frames")
                asset = datasource.add_dataframe_asset("frame")
                self._batch_definition = asset.add_batch_definition_whole_dataframe("whole_frame")
            return self._batch_definition

    def validate(
        self,
        df: pd.DataFrame,
        expectations: Sequence[Any],
        suite_name: str,
        index_columns: Sequence[str] = (),
        max_unexpected_rows: int = MAX_UNEXPECTED_ROWS,
    ) -> ValidationOutcome:
        """Run GX expectations (instances from `great_expectations.expectations`) over `df`.

        `index_columns` identify a row in the offending-rows preview (e.g. hour and series);
        those absent from `df` are ignored so a schema failure still reports cleanly.
        """
        import great_expectations as gx

        present = [c for c in index_columns if c in df.columns]
        df = widen_narrow_numbers(df)
        if not df.index.is_unique:
            # GX looks offending rows up by index label; duplicate labels garble the preview.
            df = df.reset_index(drop=True)
        suite = gx.ExpectationSuite(name=suite_name, expectations=list(expectations))
        result_format: dict[str, Any] = {
            "result_format": "SUMMARY",
            "partial_unexpected_count": max_unexpected_rows,
            "include_unexpected_rows": False,
        }
        if present:
            result_format["unexpected_index_column_names"] = present
        batch = self._whole_dataframe_batch_definition().get_batch(
            batch_parameters={"dataframe": df}
        )
        validation = batch.validate(suite, result_format=result_format)
        results = [_outcome(r) for r in validation.results]
        return ValidationOutcome(suite_name=suite_name, results=results, rows=len(df))


def _outcome(result: Any) -> ExpectationOutcome:
    config = result.expectation_config
    kwargs = {k: v for k, v in dict(config.kwargs).items() if k != "batch_id"}
    if kwargs.get("column") is not None:
        columns: tuple[str, ...] = (str(kwargs["column"]),)
    elif kwargs.get("column_list"):
        columns = tuple(str(c) for c in kwargs["column_list"])
    elif kwargs.get("column_A") is not None:
        columns = (str(kwargs["column_A"]), str(kwargs["column_B"]))
    else:
        columns = ()
    detail = dict(result.result or {})
    observed = detail.get("observed_value")
    info = result.exception_info or {}
    if info.get("raised_exception"):
        observed = f"error: {info.get('exception_message')}"
    rows = detail.get("partial_unexpected_index_list") or []
    if rows and isinstance(rows[0], dict):
        unexpected_rows = pd.DataFrame(rows)
    elif detail.get("partial_unexpected_list"):
        unexpected_rows = pd.DataFrame({"value": detail["partial_unexpected_list"]})
    else:
        unexpected_rows = pd.DataFrame()
    if observed is None and detail.get("details"):
        observed = detail["details"]
    return ExpectationOutcome(
        expectation=str(config.type),
        columns=columns,
        success=bool(result.success),
        observed=observed,
        unexpected_count=detail.get("unexpected_count"),
        unexpected_rows=unexpected_rows,
        kwargs=kwargs,
    )


def _short(value: Any, limit: int = 160) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _markdown_table(frame: pd.DataFrame) -> str:
    # Hand-rolled: pandas.to_markdown needs the optional `tabulate` package.
    header = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    rule = "|" + "---|" * len(frame.columns)
    body = [
        "| " + " | ".join(_md_cell(str(v)) for v in row) + " |"
        for row in frame.itertuples(index=False)
    ]
    return "\n".join([header, rule, *body])
