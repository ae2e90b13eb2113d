"""The `energy-assets` console script: replay-api, synth, backtest, demo."""

from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="energy-assets", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    from energy_assets.ingestion import replay_api, synth

    replay_api.add_arguments(
        commands.add_parser(
            "replay-api", help="serve a CSV/parquet file as the Energi Data Service API"
        )
    )
    synth.add_arguments(
        commands.add_parser("synth", help="write a seeded synthetic DE35-like dataset")
    )

    from energy_assets.training import backtest

    backtest.add_arguments(
        commands.add_parser(
            "backtest", help="train up to a cutoff and score daily origins after it"
        )
    )

    from energy_assets import demo

    demo.add_arguments(commands.add_parser("demo", help="run the whole loop headless"))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
