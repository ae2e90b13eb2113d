"""The release: one version everywhere it is written, a changelog entry for it, and an image built
from the wheel.

The wheel itself is built, installed into a fresh virtual environment and run (`energy-assets
demo`) by `.ci/release-check`, which `.ci/run` calls: that takes a few minutes, so it is not a
test here. No Docker engine runs on this machine either, so the Dockerfile's steps are checked
as text, as test_deploy.py checks the other manifests.
"""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path

import yaml

import energy_assets

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
# Semantic Versioning 2.0's version core with optional pre-release and build parts.
SEMVER = re.compile(
    r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?"
)


def project_version() -> str:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def test_the_version_is_semantic_and_the_package_reports_it():
    version = project_version()
    assert SEMVER.fullmatch(version), f"pyproject.toml's version {version!r} is not semantic"
    assert energy_assets.__version__ == version


def test_the_changelog_records_this_release_and_keeps_an_unreleased_section():
    changelog = (ROOT / "CHANGELOG.md").read_text()
    sections = re.findall(r"^## \[([^\]]+)\](?: - (\d{4}-\d{2}-\d{2}))?$", changelog, re.M)
    assert sections, "CHANGELOG.md has no '## [version] - date' sections"
    assert sections[0][0] == "Unreleased", "the newest section is '## [Unreleased]'"
    released = {name: date for name, date in sections[1:]}
    assert project_version() in released, f"CHANGELOG.md has no section for {project_version()}"
    assert released[project_version()], "a released version carries its date"


def test_the_compose_image_is_tagged_with_the_version():
    compose = yaml.safe_load((ROOT / "deploy" / "docker-compose.yaml").read_text())
    assert compose["x-image"]["image"] == f"energy-assets:{project_version()}"


def dockerfile_stages() -> list[list[tuple[str, str]]]:
    """The Dockerfile as stages, each a list of (INSTRUCTION, arguments), continuations joined."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    stages: list[list[tuple[str, str]]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        instruction, _, arguments = line.partition(" ")
        if instruction.upper() == "FROM":
            stages.append([])
        stages[-1].append((instruction.upper(), arguments.strip()))
    return stages


def test_the_image_installs_the_wheel_built_from_the_source_tree():
    build, image = dockerfile_stages()
    base, _, name = build[0][1].partition(" AS ")
    assert name, "the first stage is named, so the image can copy the wheel from it"
    runs = [args for instruction, args in build if instruction == "RUN"]
    assert any(args.startswith("uv build --wheel") for args in runs), runs
    out_dir = next(
        shlex.split(args)[shlex.split(args).index("--out-dir") + 1]
        for args in runs
        if "uv build" in args
    )

    copied = [args for instruction, args in image if instruction == "COPY"]
    assert f"--from={name} {out_dir} {out_dir}" in copied, copied
    # The image gets the package from the wheel only, never from the source tree.
    assert not any(args.startswith("energy_assets") for args in copied), copied
    runs = [args for instruction, args in image if instruction == "RUN"]
    sync = next(i for i, args in enumerate(runs) if args.startswith("uv sync"))
    install = next(i for i, args in enumerate(runs) if "uv pip install" in args)
    assert sync < install
    assert "--frozen" in runs[sync] and "--no-install-project" in runs[sync], runs[sync]
    assert "--no-dev" in runs[sync] and "--no-group docs" in runs[sync], runs[sync]
    assert "--no-deps" in runs[install] and f"{out_dir}/*.whl" in runs[install], runs[install]


def test_the_dockerfile_pins_its_base_and_tools_and_copies_files_that_exist():
    for stage in dockerfile_stages():
        base = stage[0][1].split(" AS ")[0]
        assert re.fullmatch(r"[\w./-]+:\d[\w.-]*", base), f"unpinned base image {base!r}"
        for instruction, args in stage:
            if instruction == "RUN" and "pip install" in args and "uv==" not in args:
                assert "uv pip install" in args, f"an unpinned pip install: {args}"
            if instruction == "COPY" and not args.startswith("--from"):
                *sources, _ = shlex.split(args)
                for source in sources:
                    assert (ROOT / source).exists(), (
                        f"the Dockerfile copies {source}, not in the repo"
                    )
