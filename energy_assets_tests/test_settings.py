"""Settings read from the environment: the retrain executor and the sensor interval (issue 9);
storage URLs and thresholds checked when they are read, one line each (issue 18)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from energy_assets.settings import Settings, SettingsError


def test_retrain_executor_and_sensor_interval_come_from_the_environment(tmp_path):
    env = {
        "DAGSTER_HOME": str(tmp_path),
        "ENERGY_RETRAIN_EXECUTOR": "k8s",
        "ENERGY_RETRAIN_SENSOR_INTERVAL_SECONDS": "5",
    }
    settings = Settings.from_env(env)
    assert settings.retrain_executor == "k8s"
    assert settings.retrain_sensor_interval_seconds == 5
    defaults = Settings.from_env({"DAGSTER_HOME": str(tmp_path)})
    assert (defaults.retrain_executor, defaults.retrain_sensor_interval_seconds) == (
        "multiprocess",
        60,
    )


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("ENERGY_RETRAIN_EXECUTOR", "celery", "ENERGY_RETRAIN_EXECUTOR='celery'"),
        ("ENERGY_RETRAIN_SENSOR_INTERVAL_SECONDS", "0", "ENERGY_RETRAIN_SENSOR_INTERVAL_SECONDS"),
        ("ENERGY_IMPLAUSIBLE_VALUES", "ignore", "ENERGY_IMPLAUSIBLE_VALUES='ignore'"),
        (
            "ENERGY_RETRAIN_SENSOR_INTERVAL_SECONDS",
            "soon",
            "ENERGY_RETRAIN_SENSOR_INTERVAL_SECONDS",
        ),
    ],
)
def test_a_bad_value_is_named(tmp_path, variable, value, named):
    with pytest.raises(SettingsError, match=named):
        Settings.from_env({"DAGSTER_HOME": str(tmp_path), variable: value})


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("gs://", "names no bucket: use gs://BUCKET[/prefix]"),
        ("gs:///prefix", "names no bucket"),
        ("gs://Not_A_Bucket!/x", "is not a valid bucket name"),
        ("s3://x", "unsupported scheme 's3://'"),
        ("https://storage.example/x", "unsupported scheme 'https://'"),
        # /proc refuses new entries even to root, whose writes ignore a folder's mode bits.
        ("/proc/energy-storage", "the folder cannot be created in /proc by this process"),
    ],
)
def test_a_storage_url_the_platform_cannot_write_is_refused_when_read(tmp_path, url, said):
    with pytest.raises(SettingsError, match="ENERGY_STORAGE_URL=") as raised:
        Settings.from_env({"DAGSTER_HOME": str(tmp_path), "ENERGY_STORAGE_URL": url})
    assert said in str(raised.value)
    assert "\n" not in str(raised.value)


def test_a_file_where_the_storage_folder_should_be_is_refused(tmp_path):
    (tmp_path / "storage").write_text("not a folder")
    with pytest.raises(SettingsError, match="is a file, not a folder"):
        Settings.from_env(
            {"DAGSTER_HOME": str(tmp_path), "ENERGY_STORAGE_URL": str(tmp_path / "storage" / "x")}
        )


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only folder anyway")
def test_a_read_only_storage_folder_is_refused(tmp_path):
    folder = tmp_path / "storage"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(SettingsError, match="the folder is not writable"):
            Settings.from_env({"DAGSTER_HOME": str(tmp_path), "ENERGY_STORAGE_URL": str(folder)})
    finally:
        folder.chmod(0o755)


@pytest.mark.parametrize(
    "url",
    ["gs://energy-bucket", "gs://energy-bucket/prefix/deeper", "relative/storage", "file:///tmp/x"],
)
def test_usable_storage_urls_pass(tmp_path, monkeypatch, url):
    monkeypatch.chdir(tmp_path)
    settings = Settings.from_env({"DAGSTER_HOME": str(tmp_path), "ENERGY_STORAGE_URL": url})
    assert settings.storage_url == url


@pytest.mark.parametrize(
    ("variable", "value", "said"),
    [
        ("ENERGY_RETRAIN_MAX_MAPE", "nan", "ENERGY_RETRAIN_MAX_MAPE=nan must be a fraction"),
        ("ENERGY_RETRAIN_MAX_MAPE", "-1", "must be a fraction above 0 and at most 1"),
        ("ENERGY_RETRAIN_MAX_MAPE", "0", "must be a fraction above 0 and at most 1"),
        ("ENERGY_RETRAIN_MAX_MAPE", "inf", "must be a fraction above 0 and at most 1"),
        (
            "ENERGY_RETRAIN_MAX_MAPE",
            "15",
            "15 looks like a percent; as a fraction that is 0.15",
        ),
        ("ENERGY_RETRAIN_MAX_MAPE", "15%", "ENERGY_RETRAIN_MAX_MAPE='15%' is not a number"),
        ("ENERGY_RETRAIN_MAX_DRIFT_SHARE", "nan", "must be a fraction above 0 and at most 1"),
        ("ENERGY_RETRAIN_MAX_DRIFT_SHARE", "1.5", "must be a fraction above 0 and at most 1"),
        ("ENERGY_RETRAIN_MAX_DRIFT_SHARE", "-0.1", "must be a fraction above 0 and at most 1"),
        ("ENERGY_PUBLICATION_DELAY_HOURS", "-1", "must be 0 or more"),
        ("ENERGY_PUBLICATION_DELAY_HOURS", "1.5", "is not a number"),
    ],
)
def test_a_threshold_out_of_range_is_refused_in_one_line(tmp_path, variable, value, said):
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({"DAGSTER_HOME": str(tmp_path), variable: value})
    message = str(raised.value)
    assert said in message and variable in message and "\n" not in message


def test_thresholds_at_their_bounds_pass(tmp_path):
    settings = Settings.from_env(
        {
            "DAGSTER_HOME": str(tmp_path),
            "ENERGY_RETRAIN_MAX_MAPE": "1",
            "ENERGY_RETRAIN_MAX_DRIFT_SHARE": "0.05",
        }
    )
    assert (settings.retrain_max_mape, settings.retrain_max_drift_share) == (1.0, 0.05)


def test_the_code_location_refuses_bad_settings_when_it_loads(tmp_path):
    """`dagster dev` / the code server load energy_assets.definitions: a bad setting fails that
    load with the one-line SettingsError, before any run starts."""
    env = {
        **os.environ,
        "DAGSTER_HOME": str(tmp_path),
        "ENERGY_STORAGE_URL": "gs://",
    }
    loaded = subprocess.run(
        [sys.executable, "-c", "from energy_assets.definitions import defs; defs()"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert loaded.returncode != 0
    assert (
        "SettingsError: ENERGY_STORAGE_URL='gs://' names no bucket"
        in loaded.stderr.splitlines()[-1]
    )
