"""The `energy-assets` console script: replay-api, synth, backtest, demo.

The settings are read from the environment here, once, and passed to each command. Every
command imports what it needs when it runs, so `energy-assets --help` stays quick.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from energy_assets.settings import Settings


def build_parser(settings: Settings) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="energy-assets", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    from energy_assets.devtools import replay_api, synth

    replay_api.add_arguments(
        commands.add_parser(
            "replay-api", help="serve a CSV/parquet file as the Energi Data Service API"
        ),
        settings,
    )
    synth.add_arguments(
        commands.add_parser("synth", help="write a seeded synthetic DE35-like dataset")
    )
    add_backtest_arguments(
        commands.add_parser(
            "backtest", help="train up to a cutoff and score daily origins after it"
        )
    )

    from energy_assets.devtools import demo

    demo.add_arguments(commands.add_parser("demo", help="run the whole loop headless"))
    return parser


def add_backtest_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, help="CSV / CSV.gz / parquet in the API's columns")
    parser.add_argument("--cutoff", required=True, help="last training hour, ISO (UTC)")
    parser.add_argument("--origins", type=int, required=True, help="number of daily origins")
    parser.add_argument("--horizon", type=int, default=24, help="hours ahead (default 24)")
    parser.add_argument("--trials", type=int, default=0, help="Optuna trials before training")
    parser.add_argument("--json", required=True, help="where to write predictions + metrics")
    parser.set_defaults(run=run_backtest)


def run_backtest(args: argparse.Namespace, settings: Settings) -> int:
    """Train up to the cutoff (tuning first with --trials), score the origins, write the JSON."""
    from energy_assets.features.engineering import read_consumption_file
    from energy_assets.training.backtest import summary_table
    from energy_assets.training.tracking import MlflowSettings
    from energy_assets.training.train import TuningPlan, train_candidate

    consumption = read_consumption_file(args.data)
    plan = (
        TuningPlan(n_trials=args.trials, storage_url=settings.optuna_storage_url)
        if args.trials
        else None
    )
    candidate = train_candidate(
        consumption,
        args.cutoff,
        args.origins,
        horizon_hours=args.horizon,
        tuning_plan=plan,
        tracking=MlflowSettings(settings.mlflow_tracking_uri),
        fit_final=False,
    )
    result = candidate.scored
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(result.to_json())
    print(summary_table(result))
    print(f"wrote {len(result.predictions)} predictions to {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    settings = Settings.from_env()
    args = build_parser(settings).parse_args(argv)
    return int(args.run(args, settings) or 0)


if __name__ == "__main__":
    sys.exit(main())
