-- Run once by the postgres image on an empty volume: one server, three databases.
-- dagster: runs, events, schedules (POSTGRES_DB creates it); mlflow: the tracking server's
-- backend store; optuna: the shared tuning studies (ENERGY_OPTUNA_STORAGE).
CREATE DATABASE mlflow;
CREATE DATABASE optuna;
