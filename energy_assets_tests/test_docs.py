"""The documentation: every setting and every CLI flag describes itself, the generated reference
pages name them all, and the README stays a short front door whose names all exist.

The site itself is built in strict mode by `.ci/run` (`mkdocs build --strict`: a broken link, a
missing anchor or a page outside the nav fails); these tests need no MkDocs.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import re
from pathlib import Path

import pytest

from energy_assets import settings as settings_module
from energy_assets.cli import build_parser
from energy_assets.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
README_MAX_LINES = 200
# Settings fields that are bookkeeping, not configuration.
NOT_SETTINGS = {"from_environment", "from_spec"}
# Variables the README may name that settings.py does not read: read by libraries (GCS client)
# or by Dagster itself, and set by deploy/ (docs/how-to/deploy.md lists them).
READ_BY_OTHERS = {
    "STORAGE_EMULATOR_HOST",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "DAGSTER_PG_PASSWORD",
    "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS",
    "DAGSTER_EVENT_BATCH_SIZE",
}


def _reference_module():
    """docs/hooks/reference.py, the MkDocs hook that generates the reference pages."""
    spec = importlib.util.spec_from_file_location(
        "docs_reference", ROOT / "docs/hooks/reference.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def reference():
    return _reference_module()


@pytest.fixture(scope="module")
def parser(tmp_path_factory) -> argparse.ArgumentParser:
    return build_parser(Settings.for_home(tmp_path_factory.mktemp("home")))


def _setting_names() -> list[str]:
    return [f.name for f in dataclasses.fields(Settings) if f.name not in NOT_SETTINGS]


def test_every_setting_has_a_description():
    missing = [
        name for name in _setting_names() if not settings_module.DESCRIPTIONS.get(name, "").strip()
    ]
    assert not missing, (
        f"settings without a description in settings.DESCRIPTIONS: {missing}; the docs' "
        "configuration reference is generated from it"
    )
    stale = set(settings_module.DESCRIPTIONS) - set(_setting_names())
    assert not stale, f"descriptions of settings that no longer exist: {sorted(stale)}"


def test_every_setting_is_read_from_a_variable():
    unread = set(_setting_names()) - set(settings_module.ENVIRONMENT_VARIABLES) - {"dagster_home"}
    assert not unread, f"settings no environment variable sets: {sorted(unread)}"


def _all_parsers(parser: argparse.ArgumentParser, prog: str = "energy-assets"):
    """(command line, parser, help of the command) for the parser and every subcommand."""
    yield prog, parser, parser.description or "the console script"
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help for choice in action._choices_actions}
            for name, sub in action.choices.items():
                for line, nested, help_text in _all_parsers(sub, f"{prog} {name}"):
                    yield line, nested, help_text if nested is not sub else helps.get(name)


def test_every_command_and_flag_has_help(parser):
    missing = []
    for line, sub, help_text in _all_parsers(parser):
        if not (help_text or "").strip():
            missing.append(line)
        for action in sub._actions:
            if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
                continue
            if not (action.help or "").strip():
                missing.append(f"{line} {'/'.join(action.option_strings) or action.dest}")
    assert not missing, (
        f"commands or flags without help (the CLI reference is generated): {missing}"
    )


def test_the_generated_configuration_page_names_every_variable(reference):
    page = reference.configuration_page()
    for variable in ["DAGSTER_HOME", *settings_module.ENVIRONMENT_VARIABLES.values()]:
        assert f"`{variable}`" in page, variable
    rows = [line for line in page.splitlines() if line.startswith("| `")]
    assert len(rows) == len(settings_module.ENVIRONMENT_VARIABLES) + 1
    assert all(not row.rstrip().endswith("|  |") for row in rows), "a setting with no meaning"


def test_the_generated_cli_page_names_every_command_and_flag(reference, parser):
    page = reference.cli_page()
    for line, sub, _ in _all_parsers(parser):
        if any(isinstance(a, argparse._SubParsersAction) for a in sub._actions):
            continue
        assert f"## `{line}`" in page, line
        for action in sub._actions:
            for flag in action.option_strings:
                if flag not in ("-h", "--help"):
                    assert f"`{flag}`" in page, f"{line} {flag}"


def test_the_generated_catalogue_names_every_definition(reference):
    repo = reference.repository()
    page = reference.catalogue_page()
    names = [key.to_user_string() for key in repo.asset_graph.get_all_asset_keys()]
    names += [key.name for key in repo.asset_graph.asset_check_keys]
    names += [job.name for job in repo.get_all_jobs() if not job.name.startswith("__")]
    names += [schedule.name for schedule in repo.schedule_defs]
    names += [sensor.name for sensor in repo.sensor_defs]
    assert len(names) > 20
    for name in names:
        assert f"`{name}`" in page, name


# -- the README ----------------------------------------------------------------------------------


def test_readme_is_short():
    lines = README.read_text().splitlines()
    assert len(lines) <= README_MAX_LINES, (
        f"README.md has {len(lines)} lines; keep it a front door (≤ {README_MAX_LINES}) and "
        "move detail into docs/"
    )


def test_every_variable_the_readme_names_exists():
    text = README.read_text()
    named = set(
        re.findall(r"\b((?:ENERGY|ENERGIDATA|DAGSTER|MLFLOW|GOOGLE|STORAGE)_[A-Z0-9_]+)", text)
    )
    known = {"DAGSTER_HOME", *settings_module.ENVIRONMENT_VARIABLES.values(), *READ_BY_OTHERS}
    assert not named - known, f"README names variables nothing reads: {sorted(named - known)}"


def test_every_command_the_readme_names_exists(parser):
    text = README.read_text()
    lines = {line for line, _, _ in _all_parsers(parser)}
    # `energy-assets` and the words after it: the command and maybe an argument ("demo").
    named = {
        "energy-assets" + words for words in re.findall(r"energy-assets((?: [a-z][a-z-]*)+)", text)
    }
    # Some prefix of it (`energy-assets` and at least one word) must be a command.
    unknown = []
    for command in named:
        words = command.split()
        if not any(" ".join(words[:n]) in lines for n in range(2, len(words) + 1)):
            unknown.append(command)
    assert not unknown, f"README names commands the CLI does not have: {sorted(unknown)}"


def test_every_asset_the_readme_names_exists(reference):
    repo = reference.repository()
    definitions = {key.to_user_string() for key in repo.asset_graph.get_all_asset_keys()}
    definitions |= {key.name for key in repo.asset_graph.asset_check_keys}
    definitions |= {job.name for job in repo.get_all_jobs()}
    definitions |= {s.name for s in repo.schedule_defs} | {s.name for s in repo.sensor_defs}
    # A backticked snake_case name in the README is a definition (asset, check, job, schedule,
    # sensor), or one of these other names.
    other_names = {"energy_assets", "energy_assets_tests", "dagster_home", "uv_cache"}
    named = set(re.findall(r"`([a-z][a-z0-9]*(?:_[a-z0-9]+)+)`", README.read_text()))
    unknown = named - definitions - other_names
    assert not unknown, f"README names definitions the code location lacks: {sorted(unknown)}"
