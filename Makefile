# Common tasks; each is a plain `uv run …` you can also type yourself.
UV ?= python3 -m uv

.PHONY: demo test test-fast lint format typecheck check-defs dev docs docs-serve bench bench-location screenshots

demo:            ## the whole loop headless on embedded defaults
	$(UV) run energy-assets demo

test:            ## the full suite (what .ci/run runs)
	$(UV) run pytest

test-fast:       ## skip the slow end-to-end and browser tests
	$(UV) run pytest -m "not slow and not browser"

lint:            ## ruff, and the layering contracts (import-linter)
	$(UV) run ruff check energy_assets energy_assets_tests benchmarks
	$(UV) run lint-imports

format:
	$(UV) run ruff format energy_assets energy_assets_tests benchmarks

typecheck:
	$(UV) run mypy energy_assets

check-defs:      ## load the code location the ways Dagster's tools do
	$(UV) run dg check defs
	$(UV) run dagster definitions validate -w workspace.yaml

dev:             ## Dagster UI + daemon on http://127.0.0.1:3000, stored reports on :3001, forecast API + dashboard on :8000
	mkdir -p .dagster_home && cp -n dagster.yaml .dagster_home/ || true
	export DAGSTER_HOME=$$PWD/.dagster_home; \
	$(UV) run energy-assets reports serve & reports=$$!; \
	$(UV) run energy-assets serve --host 127.0.0.1 --port 8000 & api=$$!; \
	trap 'kill $$reports $$api' EXIT; \
	$(UV) run dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

screenshots:     ## refresh the docs' pictures (docs/img/) from the browser test
	ENERGY_UPDATE_SCREENSHOTS=1 $(UV) run pytest energy_assets_tests/test_ui_browser.py -k "asset_graph or forecasts"

docs:            ## the documentation site, strict (what .ci/run builds): broken links or anchors fail
	NO_MKDOCS_2_WARNING=1 $(UV) run mkdocs build --strict

docs-serve:      ## the documentation site on http://127.0.0.1:8000, rebuilt as you edit
	NO_MKDOCS_2_WARNING=1 $(UV) run mkdocs serve

bench-location:  ## code-location load, validate, a launched hourly run, a 7-day backfill (add BEFORE=dir to compare)
	$(UV) run python benchmarks/bench_code_location.py $(if $(BEFORE),--tree before=$(BEFORE) --tree after=.,)

BENCH_LOCK ?= /tmp/energy-bench.lock

bench:           ## benchmark harness (prints ratios against in-run baselines), one at a time
	flock $(BENCH_LOCK) $(UV) run python benchmarks/bench_ingestion.py
	flock $(BENCH_LOCK) $(UV) run python benchmarks/bench_model.py
	flock $(BENCH_LOCK) $(UV) run python benchmarks/bench_operations.py
	flock $(BENCH_LOCK) $(UV) run python benchmarks/bench_backfill.py
	flock $(BENCH_LOCK) $(UV) run python benchmarks/bench_tuning.py
	flock $(BENCH_LOCK) $(UV) run python benchmarks/bench_ui_partitions.py
	flock $(BENCH_LOCK) $(UV) run python benchmarks/bench_demo.py
	flock $(BENCH_LOCK) $(UV) run python benchmarks/bench_serve.py
