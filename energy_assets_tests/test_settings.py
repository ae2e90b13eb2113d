"""Settings read from the environment: the retrain executor and the sensor interval (issue 9)."""

from __future__ import annotations

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
