"""The console script on bad input: one line on stderr naming the problem and the fix, exit 2,
and nothing trained before the arguments and the data window are checked. Real files, the real
console script in subprocesses, a real dead writer's temp file for `storage clean-temp`."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from energy_assets import cli
from energy_assets.storage.parquet_store import ParquetStore
from energy_assets.training import tuning
from energy_assets.training.forecaster import GlobalLGBMForecaster

CONSOLE_SCRIPT = str(Path(sys.executable).with_name("energy-assets"))
GOOD_CUTOFF = "2023-01-10T22:00"


@pytest.fixture
def no_training(monkeypatch):
    """Training or tuning before validation fails the test instead of running for seconds."""

    def refuse(*args, **kwargs):
        raise AssertionError("training started before the input was checked")

    monkeypatch.setattr(GlobalLGBMForecaster, "fit", refuse)
    monkeypatch.setattr(tuning, "tune", refuse)


@pytest.fixture(scope="module")
def files(tmp_path_factory, shared_slice_path) -> dict[str, Path]:
    """Corrupted copies of the bundled slice, as a user would make them."""
    folder = tmp_path_factory.mktemp("bad_files")
    frame = pd.read_csv(shared_slice_path, dtype={"PriceArea": str})
    paths = {name: folder / f"{name}.csv" for name in ("no_total", "short", "bad_hour", "bad_kwh")}
    frame.drop(columns=["TotalCon"]).to_csv(paths["no_total"], index=False)
    frame[frame["HourUTC"] < "2022-12-24"].to_csv(paths["short"], index=False)
    bad = frame.astype({"HourUTC": object, "TotalCon": object})
    bad.loc[1000, "HourUTC"] = "2022-12-22T05:xx"
    bad.to_csv(paths["bad_hour"], index=False)
    bad = frame.astype({"TotalCon": object})
    bad.loc[2000, "TotalCon"] = "12,5 kWh"
    bad.to_csv(paths["bad_kwh"], index=False)
    return paths


def backtest(data, cutoff=GOOD_CUTOFF, origins="2", *extra: str, out: Path) -> list[str]:
    return ["backtest", "--data", str(data), "--cutoff", cutoff, "--origins", origins,
            "--json", str(out), *extra]  # fmt: skip


def one_line_error(capsys, command: str) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    prefix = f"energy-assets {command}: error: "
    assert lines[0].startswith(prefix), lines[0]
    return lines[0].removeprefix(prefix)


@pytest.mark.parametrize(
    "case, expected",
    [
        ("missing column", ["no_total.csv has no TotalCon column", "API's columns"]),
        ("cutoff after the data", ["--cutoff 2023-03-01T00:00Z leaves no actuals to score",
                                   "choose a cutoff from 2022-12-29T15:00Z to 2023-01-17T21:00Z"]),
        ("too little history", ["--cutoff 2022-12-25T00:00Z has 81 hour(s) of history",
                                "needs 192", "choose a cutoff from 2022-12-29T15:00Z"]),
        ("file too short", ["short.csv covers 2022-12-21T16:00Z to 2022-12-23T23:00Z",
                            "too short for a backtest"]),
        ("missing file", ["nowhere.csv: no such file"]),
        ("origins 0", ["--origins must be 1 or more (got 0)"]),
        ("horizon 0", ["--horizon must be 1 or more hours (got 0)"]),
        ("cutoff not a date", ["--cutoff 'not-a-date' is not a date and hour", "2023-01-10T22:00"]),
        ("cutoff not on the hour", ["--cutoff '2023-01-10T22:30' is not on the hour"]),
        ("unparseable HourUTC", ["bad_hour.csv: HourUTC on line 1002 is '2022-12-22T05:xx'"]),
        ("unparseable TotalCon", ["bad_kwh.csv: TotalCon on line 2002 is '12,5 kWh'"]),
        ("weather file not weather", ["no_total.csv has no Datetime", "Open-Meteo JSON"]),
    ],
)  # fmt: skip
def test_backtest_bad_input_is_one_line_before_any_training(
    case, expected, files, shared_slice_path, tmp_path, capsys, no_training
):
    out = tmp_path / "bt.json"
    args = {
        "missing column": backtest(files["no_total"], out=out),
        "cutoff after the data": backtest(shared_slice_path, "2023-03-01T00:00", out=out),
        "too little history": backtest(shared_slice_path, "2022-12-25T00:00", out=out),
        "file too short": backtest(files["short"], "2022-12-23T00:00", out=out),
        "missing file": backtest(tmp_path / "nowhere.csv", out=out),
        "origins 0": backtest(shared_slice_path, origins="0", out=out),
        "horizon 0": backtest(shared_slice_path, GOOD_CUTOFF, "2", "--horizon", "0", out=out),
        "cutoff not a date": backtest(shared_slice_path, "not-a-date", out=out),
        "cutoff not on the hour": backtest(shared_slice_path, "2023-01-10T22:30", out=out),
        "unparseable HourUTC": backtest(files["bad_hour"], out=out),
        "unparseable TotalCon": backtest(files["bad_kwh"], out=out),
        "weather file not weather": backtest(
            shared_slice_path, GOOD_CUTOFF, "2", "--weather", str(files["no_total"]), out=out
        ),
    }[case]
    assert cli.main(args) == cli.USAGE_ERROR
    message = one_line_error(capsys, "backtest")
    for text in expected:
        assert text in message
    assert not out.exists()


def test_replay_api_on_a_port_in_use_is_one_line(shared_slice_path, capsys):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = str(taken.getsockname()[1])
        code = cli.main(["replay-api", "--data", str(shared_slice_path), "--port", port])
    assert code == cli.USAGE_ERROR
    message = one_line_error(capsys, "replay-api")
    assert f"cannot listen on 127.0.0.1:{port}" in message and "pick another --port" in message


def test_a_setting_that_does_not_parse_is_one_line(monkeypatch, capsys):
    monkeypatch.setenv("ENERGY_PUBLICATION_DELAY_HOURS", "two weeks")
    assert cli.main(["storage", "clean-temp"]) == cli.USAGE_ERROR
    err = capsys.readouterr().err.strip()
    assert err == (
        "energy-assets: error: ENERGY_PUBLICATION_DELAY_HOURS='two weeks' is not a number"
    )


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("gs://", "ENERGY_STORAGE_URL='gs://' names no bucket"),
        ("s3://x", "ENERGY_STORAGE_URL='s3://x': unsupported scheme 's3://'"),
        ("/proc/energy-storage", "the folder cannot be created in /proc"),
    ],
)
def test_storage_clean_temp_answers_an_unusable_storage_url_in_one_line(
    monkeypatch, capsys, url, said
):
    monkeypatch.setenv("ENERGY_STORAGE_URL", url)
    assert cli.main(["storage", "clean-temp"]) == cli.USAGE_ERROR
    captured = capsys.readouterr()
    (line,) = captured.err.strip().splitlines()
    assert line.startswith("energy-assets: error: ") and said in line
    assert captured.out == ""


def test_a_bug_keeps_its_traceback(monkeypatch, tmp_path):
    monkeypatch.setenv("ENERGY_STORAGE_URL", str(tmp_path))

    def broken(self, *args, **kwargs):
        raise RuntimeError("a bug, not bad input")

    monkeypatch.setattr(ParquetStore, "clean_temp", broken)
    with pytest.raises(RuntimeError, match="a bug"):
        cli.main(["storage", "clean-temp"])


DEAD_WRITER = textwrap.dedent(
    """
    import os, sys
    from energy_assets.storage.temp_files import create_temp
    fd, path = create_temp(sys.argv[1])
    os.write(fd, b"half an obj")
    os._exit(0)  # gone without renaming it, as after SIGKILL
    """
)


def test_storage_clean_temp_removes_what_a_dead_writer_left(monkeypatch, tmp_path, capsys):
    folder = tmp_path / "raw_consumption" / "date=2023-01-01" / "hour=00"
    folder.mkdir(parents=True)
    subprocess.run([sys.executable, "-c", DEAD_WRITER, str(folder)], check=True)
    (orphan,) = folder.glob(".tmp-*.part")
    monkeypatch.setenv("ENERGY_STORAGE_URL", str(tmp_path))
    assert cli.main(["storage", "clean-temp", "--dry-run"]) == 0
    assert orphan.exists() and f"would remove {orphan}" in capsys.readouterr().out
    assert cli.main(["storage", "clean-temp"]) == 0
    out = capsys.readouterr().out
    assert not orphan.exists()
    assert "removed 1 orphaned temp file(s), 11 bytes" in out
    assert cli.main(["storage", "clean-temp", "--older-than", "soon"]) == cli.USAGE_ERROR
    assert "--older-than 'soon' is not a duration" in one_line_error(capsys, "storage clean-temp")


def test_storage_clean_temp_on_gcs(gcs_emulator, monkeypatch, capsys):
    bucket = gcs_emulator.make_bucket()
    bucket.blob(
        "energy/raw_consumption/date=2023-01-01/hour=00/.tmp-1.2@h.part"
    ).upload_from_string(b"partial")
    monkeypatch.setenv("ENERGY_STORAGE_URL", f"gs://{bucket.name}/energy")
    assert cli.main(["storage", "clean-temp"]) == 0
    assert "kept 1 younger than 1h" in capsys.readouterr().out
    assert cli.main(["storage", "clean-temp", "--older-than", "0s"]) == 0
    assert "removed 1 orphaned temp file(s)" in capsys.readouterr().out
    assert not list(gcs_emulator.client().list_blobs(bucket.name))


@pytest.mark.slow
def test_the_console_script_reports_bad_input_in_one_line(files, tmp_path):
    cases = [
        (["replay-api", "--data", str(tmp_path / "nonexistent.csv")],
         "nonexistent.csv: no such file"),
        (["replay-api", "--data", str(files["bad_hour"])],
         "HourUTC on line 1002 is '2022-12-22T05:xx', not a timestamp"),
    ]  # fmt: skip
    # Started together: each one's start-up is mostly imports.
    processes = [
        subprocess.Popen([CONSOLE_SCRIPT, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
        for args, _ in cases
    ]  # fmt: skip
    for process, (_, expected) in zip(processes, cases, strict=True):
        out, err = process.communicate(timeout=120)
        assert process.returncode == 2, err
        lines = err.strip().splitlines()
        assert len(lines) == 1, err
        assert lines[0].startswith("energy-assets replay-api: error: ")
        assert expected in lines[0]
        assert out == ""
