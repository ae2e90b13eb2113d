"""Code-location benchmark: what loading `energy_assets.definitions` costs every process that needs it.

Prints, with the machine and the load averages of every measurement:

1. a fresh interpreter's `import dagster` against `import energy_assets.definitions` (median of 5
   each, interleaved), the `-X importtime` breakdown by top-level package, and which heavy
   libraries the definitions pull in at import;
2. `dagster definitions validate -w workspace.yaml` (median of 3);
3. one `hourly_forecast_job` run launched the way the daemon launches it — `dagster job launch`
   through the instance's DefaultRunLauncher (a code server, then a new `dagster api execute_run`
   process; the default multiprocess executor then starts one more process per step) — timed
   from launch to SUCCESS and broken down from the run's event log (median of 3 partitions);
4. a 7-day raw + features backfill as one `dagster asset materialize --partition-range` (median of 3).

Everything is driven through stable entry points so the script survives a restructuring of the
package: the `energy-assets` console script (replay API), the `dagster` CLI, the module path
`energy_assets.definitions`, the workspace.yaml / dagster.yaml at the repo root, environment
variables, and Dagster's own instance API to read run records and event logs. No module of the
project other than `benchmarks._machine` is imported.

Before and after in one run: `--tree NAME=DIR` (repeatable) measures each checkout with its own
`.venv` (its Python, its `dagster`, its `energy-assets`), the imports interleaved rep by rep. For the
layered code location against the commit before it:

    git worktree add /tmp/before 47c6092 && (cd /tmp/before && uv sync --all-groups --compile-bytecode)
    uv run python benchmarks/bench_code_location.py --tree before=/tmp/before --tree after=.

Usage: uv run python benchmarks/bench_code_location.py [--tree NAME=DIR ...] [--import-reps 5]
       [--reps 3] [--only 1234] [--settle-load 1.5 --settle-max-wait 300]
Raw per-repetition figures go to benchmarks/results/bench_code_location.json, the importtime log to
benchmarks/results/importtime_definitions.txt and every subprocess's output to
benchmarks/results/bench_code_location.log (all git-ignored). Needs `uv sync --compile-bytecode`
where PYTHONDONTWRITEBYTECODE is set, or every process recompiles site-packages.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(HERE))

from benchmarks._machine import machine_description  # noqa: E402
from energy_assets_tests.test_layering import HEAVY  # noqa: E402

RESULTS = HERE / "benchmarks" / "results"
# The checkout being measured (see use_tree): its folder, its venv's bin, its Python, its data.
REPO = HERE
BIN = Path(sys.executable).parent
PYTHON = sys.executable
SLICE = REPO / "energy_assets" / "data" / "ConsumptionDE35Hour.csv.gz"


def use_tree(folder: Path) -> None:
    """Point every measurement at the checkout in `folder` and its own `.venv`."""
    global REPO, BIN, PYTHON, SLICE
    REPO = folder.resolve()
    venv_bin = REPO / ".venv" / "bin"
    BIN = venv_bin if venv_bin.exists() else Path(sys.executable).parent
    PYTHON = str(BIN / "python")
    SLICE = REPO / "energy_assets" / "data" / "ConsumptionDE35Hour.csv.gz"


DEFS_MODULE = "energy_assets.definitions"
PARTITIONS_START = "2022-12-21-16:00"  # first hour of the bundled slice
SLICE_LAST_HOUR = "2023-01-17-22:00"
LAUNCH_PARTITIONS = ["2023-01-16-05:00", "2023-01-16-06:00", "2023-01-16-07:00"]
BACKFILL_RANGE = "2023-01-01-00:00...2023-01-07-23:00"  # 7 days, 168 hourly partitions
RETRAIN_CONFIG = """\
ops:
  forecasting_model:
    config:
      training_end: "2023-01-15T23:00:00+00:00"
      n_trials: 1
      n_folds: 1
      backtest_days: 2
      fixed_params: {num_boost_round: 60, max_train_rows: 30000}
"""
# What the layering test forbids at load (one list), plus numpy, reported for information.
WATCHED_MODULES = [*HEAVY, "numpy"]

# ---------------------------------------------------------------- subprocesses and cleanup

# Every child starts its own session, so its whole tree (a CLI's code server, a launched run
# worker and its step processes) shares one process group that cleanup can signal by id.
_groups: set[int] = set()
_replay: list[subprocess.Popen] = []


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def cleanup() -> None:
    for proc in _replay:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
    for sig in (signal.SIGTERM, signal.SIGKILL):
        alive = [pgid for pgid in _groups if _group_alive(pgid)]
        for pgid in alive:
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                pass
        if alive and sig == signal.SIGTERM:
            time.sleep(3)
    _groups.clear()


def _on_signal(signum, frame):
    raise SystemExit(128 + signum)


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f}/{five:.2f}/{fifteen:.2f}"


SETTLE = {"below": 0.0, "max_wait": 0.0}  # set from --settle-load / --settle-max-wait


def settled_load() -> str:
    """The load average just before a measurement, after waiting (bounded) for the 1-minute
    load to fall below --settle-load, when given: other work shares this machine."""
    if SETTLE["below"] > 0:
        deadline = time.time() + SETTLE["max_wait"]
        while os.getloadavg()[0] >= SETTLE["below"] and time.time() < deadline:
            time.sleep(5)
    return load()


def run_cmd(cmd: list[str], env: dict, log: Path, timeout: float = 1800) -> float:
    """Run a command to completion in its own process group; its wall seconds. Output to `log`."""
    started = time.perf_counter()
    with open(log, "ab") as out:
        out.write(f"\n$ {' '.join(cmd)}\n".encode())
        out.flush()
        proc = subprocess.Popen(
            cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        _groups.add(proc.pid)
        try:
            code = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
    seconds = time.perf_counter() - started
    if not _group_alive(proc.pid):
        _groups.discard(proc.pid)
    if code != 0:
        tail = log.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"{cmd[:6]} exited {code}; tail of {log}:\n{tail}")
    return seconds


def start_replay_api(log: Path) -> str:
    """`energy-assets replay-api` serving the bundled slice with its own timestamps; its URL."""
    proc = subprocess.Popen(
        [str(BIN / "energy-assets"), "replay-api", "--data", str(SLICE), "--port", "0"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=open(log, "ab"),
        start_new_session=True,
    )
    _replay.append(proc)
    url = proc.stdout.readline().decode().strip()  # it prints its URL first, flushed
    if not url.startswith("http"):
        raise RuntimeError(f"replay-api did not start (see {log})")
    return url


def make_home(root: Path, name: str, launchable: bool) -> Path:
    """A DAGSTER_HOME with the repo's dagster.yaml; `launchable` makes runs launch immediately.

    The repo's dagster.yaml configures run concurrency (max_concurrent_runs, a tag limit), which
    means Dagster's QueuedRunCoordinator: a launched run would wait in the queue for a daemon.
    For a launch without a daemon, drop `concurrency.runs` / `run_queue` and name the
    DefaultRunCoordinator explicitly (Dagster's default is the queued one); the run launcher stays
    the default DefaultRunLauncher. Everything else (run_retries, telemetry) is kept.
    """
    import yaml

    home = root / name
    home.mkdir(parents=True)
    config = yaml.safe_load((REPO / "dagster.yaml").read_text()) or {}
    if launchable:
        config.pop("run_queue", None)
        concurrency = config.get("concurrency") or {}
        concurrency.pop("runs", None)
        if concurrency:
            config["concurrency"] = concurrency
        else:
            config.pop("concurrency", None)
        config["run_coordinator"] = {
            "module": "dagster._core.run_coordinator",
            "class": "DefaultRunCoordinator",
        }
    (home / "dagster.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return home


def bench_env(home: Path, api_url: str | None) -> dict:
    env = dict(os.environ)
    env.update(
        DAGSTER_HOME=str(home),
        ENERGY_STORAGE_URL=str(home / "storage"),
        MLFLOW_TRACKING_URI=f"sqlite:///{home}/mlflow.db",
        ENERGY_OPTUNA_STORAGE=f"sqlite:///{home}/optuna.db",
        ENERGY_PARTITIONS_START=PARTITIONS_START,
    )
    if api_url:
        env["ENERGIDATA_API_URL"] = api_url
    return env


def dagster(*args: str) -> list[str]:
    return [PYTHON, "-m", "dagster", *args]


def med(values):
    return statistics.median(values)


# ---------------------------------------------------------------- reading the instance


class InstanceReader:
    """Run records and event logs of one DAGSTER_HOME, read with Dagster's instance API.

    The harness's only in-process use of a library; it never imports the project. Opened before
    a run is launched so that importing dagster here does not compete with the run for the CPU.
    """

    def __init__(self, home: Path):
        from dagster import DagsterInstance

        os.environ["DAGSTER_HOME"] = str(home)
        self.instance = DagsterInstance.get()

    def close(self) -> None:
        self.instance.dispose()

    def latest_run_id(self) -> str:
        return self.instance.get_runs(limit=1)[0].run_id

    def timeline(self, run_id: str) -> dict:
        """Status and epoch timestamps of one run: created, starting (RUN_STARTING), start
        (RUN_START), end (RUN_SUCCESS/FAILURE), and per step: worker_starting, worker_started,
        start, success (from the event log, once the run has finished)."""
        record = self.instance.get_run_record_by_id(run_id)
        if record is None:
            return {"status": None}
        timeline: dict = {
            "status": record.dagster_run.status.value,
            "created": record.create_timestamp.timestamp(),
            "start": record.start_time,
            "end": record.end_time,
            "steps": defaultdict(dict),
        }
        if not record.dagster_run.is_finished:
            return timeline
        step_marks = {
            "STEP_WORKER_STARTING": "worker_starting",
            "STEP_WORKER_STARTED": "worker_started",
            "STEP_START": "start",
            "STEP_SUCCESS": "success",
            "STEP_FAILURE": "failure",
        }
        for entry in self.instance.all_logs(run_id):
            kind = entry.dagster_event_type.value if entry.dagster_event_type else None
            if kind in step_marks and entry.step_key:
                timeline["steps"][entry.step_key].setdefault(step_marks[kind], entry.timestamp)
            elif kind == "RUN_STARTING":
                timeline["starting"] = entry.timestamp
            elif kind == "ENGINE_EVENT" and "Started process for run" in (entry.message or ""):
                timeline["worker_event"] = entry.timestamp
        timeline["steps"] = dict(timeline["steps"])
        return timeline


def step_breakdown(timeline: dict) -> dict:
    """Seconds of step work (STEP_START→SUCCESS) and step-process boot (WORKER_STARTING→START).

    Boot splits into spawn (WORKER_STARTING→WORKER_STARTED: new interpreter, dagster imported)
    and load (WORKER_STARTED→STEP_START: the code location imported and the job rebuilt).
    """
    totals = {"step_work": 0.0, "step_boot": 0.0, "step_spawn": 0.0, "step_load": 0.0}
    per_step = {}
    for key, marks in timeline["steps"].items():
        part = {"work": marks["success"] - marks["start"], "boot": 0.0, "spawn": 0.0, "load": 0.0}
        if "worker_starting" in marks and "worker_started" in marks:
            part["boot"] = marks["start"] - marks["worker_starting"]
            part["spawn"] = marks["worker_started"] - marks["worker_starting"]
            part["load"] = marks["start"] - marks["worker_started"]
        per_step[key] = part
        for name in ("work", "boot", "spawn", "load"):
            totals[f"step_{name}"] += part[name]
    run_span = timeline["end"] - timeline["start"]
    return {
        **totals,
        "in_run_other": run_span - totals["step_work"] - totals["step_boot"],
        "per_step": per_step,
    }


# ---------------------------------------------------------------- 1. imports


def parse_importtime(stderr: str) -> dict:
    """Total and per top-level package times (s) from `-X importtime` output.

    inclusive: the cumulative time of a package's outermost imports, i.e. including the
    dependencies it was first to import; exclusive: the sum of its modules' own (self) times.
    """
    pending: dict[int, list] = defaultdict(list)
    pattern = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")
    for line in stderr.splitlines():
        found = pattern.match(line)
        if not found:
            continue
        own, cumulative, indent, name = found.groups()
        depth = (len(indent) - 1) // 2
        node = (name, int(own), int(cumulative), pending.pop(depth + 1, []))
        pending[depth].append(node)
    roots = pending[0]
    inclusive: Counter = Counter()
    exclusive: Counter = Counter()

    def walk(node, outer: frozenset):
        name, own, cumulative, children = node
        package = name.split(".")[0]
        exclusive[package] += own
        if package not in outer:
            inclusive[package] += cumulative
        for child in children:
            walk(child, outer | {package})

    for root in roots:
        walk(root, frozenset())
    return {
        "total": sum(root[2] for root in roots) / 1e6,
        "modules": sum(1 for _ in pattern.finditer(stderr)),
        "inclusive": {k: v / 1e6 for k, v in inclusive.items()},
        "exclusive": {k: v / 1e6 for k, v in exclusive.items()},
    }


STATEMENTS = {
    "dagster": "import dagster",
    "definitions": f"import {DEFS_MODULE}",
    # What a code server does: import the module and build the Definitions (a lazy
    # @dg.definitions function is called; a module-level Definitions is already built).
    "load": f"import {DEFS_MODULE} as m; d = m.defs() if callable(m.defs) else m.defs",
}


def bench_import_rep(env: dict, rep: int, log: Path, results: dict) -> None:
    """One repetition of each import statement (the caller interleaves trees and reps)."""
    imports = results.setdefault(
        "imports", {"times": {k: [] for k in STATEMENTS}, "loads": {k: [] for k in STATEMENTS}}
    )
    for key, statement in STATEMENTS.items():
        imports["loads"][key].append(settled_load())
        seconds = run_cmd([PYTHON, "-c", statement], env, log)
        imports["times"][key].append(seconds)
        print(
            f"  {REPO.name:10s} {key:12s} rep {rep + 1}: {seconds:6.2f} s  load {imports['loads'][key][-1]}"
        )


def bench_import_details(env: dict, log: Path, results: dict) -> None:
    statements = {k: STATEMENTS[k] for k in ("dagster", "definitions")}

    started_load = settled_load()
    proc = subprocess.run(
        [PYTHON, "-X", "importtime", "-c", f"import {DEFS_MODULE}"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"importtime_definitions_{REPO.name}.txt").write_text(proc.stderr)
    parsed = parse_importtime(proc.stderr)
    parsed["load"] = started_load
    results["importtime"] = parsed

    # Where a fresh interpreter's wall time goes: start-up, the import itself, and exit
    # (interpreter teardown of thousands of modules is not free). Same imports, timestamped.
    split: dict[str, list] = {k: [] for k in statements}
    for _ in range(3):
        for key, statement in statements.items():
            before = time.time()
            out = subprocess.run(
                [
                    PYTHON,
                    "-c",
                    f"import time; t = time.time(); {statement}; print(t, time.time())",
                ],
                cwd=REPO,
                env=env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            after = time.time()
            began, imported = map(float, out.split()[-2:])
            split[key].append(
                {"startup": began - before, "import": imported - began, "exit": after - imported}
            )
    results["import_split"] = {
        key: {part: med([r[part] for r in rows]) for part in ("startup", "import", "exit")}
        for key, rows in split.items()
    }
    results["import_split"]["load"] = load()

    probe = (
        f"import json, sys, {DEFS_MODULE}; "
        f"print(json.dumps({{m: m in sys.modules for m in {WATCHED_MODULES!r}}})); "
        "print(len(sys.modules))"
    )
    out = subprocess.run(
        [PYTHON, "-c", probe], cwd=REPO, env=env, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    results["loaded_modules"] = json.loads(out[-2])
    results["sys_modules_count"] = int(out[-1])


# ---------------------------------------------------------------- 2. validate


def bench_validate(env: dict, reps: int, log: Path, results: dict) -> None:
    print("\n== 2. dagster definitions validate -w workspace.yaml ==", flush=True)
    times, loads = [], []
    for rep in range(reps):
        loads.append(settled_load())
        times.append(run_cmd(dagster("definitions", "validate", "-w", "workspace.yaml"), env, log))
        print(f"  rep {rep + 1}: {times[-1]:6.2f} s  load {loads[-1]}", flush=True)
    results["validate"] = {"times": times, "loads": loads}


# ---------------------------------------------------------------- 3. launched run


def bench_launch(root: Path, api_url: str, reps: int, log: Path, results: dict) -> None:
    print(
        "\n== 3. hourly_forecast_job via `dagster job launch` (DefaultRunLauncher) ==", flush=True
    )
    home = make_home(root, "launch_home", launchable=True)
    env = bench_env(home, api_url)
    setup = {}
    first, last = PARTITIONS_START, SLICE_LAST_HOUR
    range_tags = json.dumps(
        {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}
    )
    setup["load_backfill"] = load()
    setup["backfill_s"] = run_cmd(
        dagster("job", "execute", "-m", DEFS_MODULE, "-j", "ingestion_backfill_job")
        + ["--tags", range_tags],
        env,
        log,
    )
    print(f"  setup: raw + features {first}…{last}, one run: {setup['backfill_s']:.1f} s")
    retrain_yaml = home / "retrain.yaml"
    retrain_yaml.write_text(RETRAIN_CONFIG)
    setup["load_retrain"] = load()
    setup["retrain_s"] = run_cmd(
        dagster("job", "execute", "-m", DEFS_MODULE, "-j", "retrain_job", "-c", str(retrain_yaml)),
        env,
        log,
    )
    print(f"  setup: retrain_job (1 trial, 60 rounds) → champion: {setup['retrain_s']:.1f} s")
    results["launch_setup"] = setup

    reader = InstanceReader(home)
    runs = []
    for partition in LAUNCH_PARTITIONS[:reps]:
        run_id = str(uuid.uuid4())
        started_load = settled_load()
        t0 = time.time()
        cli_s = run_cmd(
            dagster("job", "launch", "-w", "workspace.yaml", "-j", "hourly_forecast_job")
            + ["--tags", json.dumps({"dagster/partition": partition}), "--run-id", run_id],
            env,
            log,
        )
        deadline = time.time() + 1200
        while True:
            timeline = reader.timeline(run_id)
            if timeline.get("status") in ("SUCCESS", "FAILURE", "CANCELED"):
                break
            if time.time() > deadline:
                raise RuntimeError(f"run {run_id} not finished after 20 min: {timeline}")
            time.sleep(0.5)
        seen = time.time()
        if timeline["status"] != "SUCCESS":
            raise RuntimeError(f"run {run_id} for {partition}: {timeline['status']} (see {log})")
        steps = step_breakdown(timeline)
        row = {
            "partition": partition,
            "run_id": run_id,
            "load_start": started_load,
            "load_end": load(),
            "cli_s": cli_s,
            "launch_to_created_s": timeline["created"] - t0,
            "launch_to_run_start_s": timeline["start"] - t0,
            "worker_boot_s": timeline["start"] - timeline.get("starting", timeline["created"]),
            "run_start_to_end_s": timeline["end"] - timeline["start"],
            "launch_to_done_s": timeline["end"] - t0,
            "launch_to_seen_s": seen - t0,
            **{k: v for k, v in steps.items()},
        }
        row["overhead_share"] = 1 - row["step_work"] / row["launch_to_done_s"]
        runs.append(row)
        print(
            f"  {partition}: launch→done {row['launch_to_done_s']:6.1f} s (CLI {cli_s:.1f} s, "
            f"run start→end {row['run_start_to_end_s']:.1f} s, step work {row['step_work']:.1f} s, "
            f"step-process boot {row['step_boot']:.1f} s)  load {started_load} → {row['load_end']}",
            flush=True,
        )
        for key, part in steps["per_step"].items():
            print(
                f"      {key:22s} process boot {part['boot']:5.1f} s   work {part['work']:5.1f} s"
            )
        # The launched run's worker outlives the CLI; wait for its process tree to go.
        for _ in range(60):
            if not _group_alive_any():
                break
            time.sleep(0.5)
    reader.close()
    results["launch_runs"] = runs


def _group_alive_any() -> bool:
    alive = {pgid for pgid in _groups if _group_alive(pgid)}
    _groups.intersection_update(alive)
    return bool(alive)


# ---------------------------------------------------------------- 4. CLI backfill


def bench_materialize(root: Path, api_url: str, reps: int, log: Path, results: dict) -> None:
    print(f"\n== 4. dagster asset materialize --partition-range {BACKFILL_RANGE} ==", flush=True)
    home = make_home(root, "materialize_home", launchable=False)
    env = bench_env(home, api_url)
    reader = InstanceReader(home)
    rows = []
    for rep in range(reps):
        started_load = settled_load()
        t0 = time.time()
        seconds = run_cmd(
            dagster("asset", "materialize", "-m", DEFS_MODULE)
            + ["--select", "raw_consumption,consumption_features"]
            + ["--partition-range", BACKFILL_RANGE],
            env,
            log,
        )
        timeline = reader.timeline(reader.latest_run_id())
        steps = step_breakdown(timeline)
        rows.append(
            {
                "wall_s": seconds,
                "load_start": started_load,
                "load_end": load(),
                "launch_to_run_start_s": timeline["start"] - t0,
                "run_start_to_end_s": timeline["end"] - timeline["start"],
                **steps,
            }
        )
        print(
            f"  rep {rep + 1}: {seconds:6.1f} s (to RUN_START {rows[-1]['launch_to_run_start_s']:.1f} s, "
            f"step work {steps['step_work']:.1f} s, step-process boot {steps['step_boot']:.1f} s)  "
            f"load {started_load} → {rows[-1]['load_end']}",
            flush=True,
        )
    reader.close()
    results["materialize"] = rows


# ---------------------------------------------------------------- report


def report(results: dict) -> None:
    print("\n" + "=" * 100)
    print(f"{results['tree']}: {results['environment']}")
    print(f"{'what':64s} {'median s':>9s}  {'reps':>22s}  load at start (1/5/15)")

    def line(what, values, loads, fmt="{:.2f}"):
        reps = ", ".join(fmt.format(v) for v in values)
        print(f"{what:64s} {med(values):9.2f}  {reps:>22s}  {' | '.join(loads)}")

    imports = results.get("imports")
    if imports:
        line("python -c 'import dagster'", imports["times"]["dagster"], imports["loads"]["dagster"])
        line(
            f"python -c 'import {DEFS_MODULE}'",
            imports["times"]["definitions"],
            imports["loads"]["definitions"],
        )
        line("  ... and build the Definitions", imports["times"]["load"], imports["loads"]["load"])
        ratio = med(imports["times"]["definitions"]) / med(imports["times"]["dagster"])
        print(f"{'  ratio definitions / dagster':64s} {ratio:9.2f}×")
        split = results["import_split"]
        for key in ("dagster", "definitions"):
            parts = split[key]
            print(
                f"  {key}: interpreter start-up {parts['startup']:.2f} s, import {parts['import']:.2f} s, "
                f"exit/teardown {parts['exit']:.2f} s (median of 3, load at end {split['load']})"
            )
        it = results["importtime"]
        print(
            f"-X importtime: total {it['total']:.2f} s over {it['modules']} modules "
            f"(load {it['load']}); heaviest top-level packages (project itself excluded):"
        )
        print(f"    {'package':24s} {'incl. s':>8s} {'self s':>8s}")
        ranked = sorted(
            ((k, v) for k, v in it["inclusive"].items() if k != DEFS_MODULE.split(".")[0]),
            key=lambda kv: -kv[1],
        )
        for package, seconds in ranked[:10]:
            print(f"    {package:24s} {seconds:8.2f} {it['exclusive'].get(package, 0):8.2f}")
        print(
            f"    {'(energy_assets itself)':24s} {it['inclusive'].get('energy_assets', 0):8.2f} "
            f"{it['exclusive'].get('energy_assets', 0):8.2f}"
        )
        top_self = sorted(it["exclusive"].items(), key=lambda kv: -kv[1])[:10]
        print("    by own (self) time: " + ", ".join(f"{k} {v:.2f}" for k, v in top_self))
        loaded = results["loaded_modules"]
        print(
            f"in sys.modules after import ({results['sys_modules_count']} modules): "
            + ", ".join(f"{m} {'YES' if v else 'no'}" for m, v in loaded.items())
        )
    validate = results.get("validate")
    if validate:
        line("dagster definitions validate -w workspace.yaml", validate["times"], validate["loads"])
    setup = results.get("launch_setup")
    if setup:
        print(
            f"(setup, once: ingestion_backfill_job over the slice {setup['backfill_s']:.1f} s, load "
            f"{setup['load_backfill']}; retrain_job {setup['retrain_s']:.1f} s, load {setup['load_retrain']})"
        )
    runs = results.get("launch_runs")
    if runs:
        loads = [r["load_start"] for r in runs]
        for key, what in [
            (
                "launch_to_done_s",
                "hourly_forecast_job launched: launch → SUCCESS (record end_time)",
            ),
            ("launch_to_seen_s", "  launch → SUCCESS seen by polling (0.5 s)"),
            ("cli_s", "  `dagster job launch` CLI process (loads code server, submits)"),
            ("launch_to_created_s", "  launch → run created"),
            ("worker_boot_s", "  RUN_STARTING → RUN_START (run worker process + imports)"),
            ("launch_to_run_start_s", "  launch → RUN_START"),
            ("run_start_to_end_s", "  run's own start → end (record)"),
            ("step_boot", "  sum over 3 steps: step process boot (WORKER_STARTING→START)"),
            ("step_spawn", "    of which spawn + import dagster (→WORKER_STARTED)"),
            ("step_load", "    of which load code location (WORKER_STARTED→START)"),
            ("step_work", "  sum over 3 steps: step work (STEP_START→SUCCESS)"),
            ("in_run_other", "  rest of start → end (between steps, child exit, teardown)"),
        ]:
            line(what, [r[key] for r in runs], loads, fmt="{:.1f}")
        for step in runs[0]["per_step"]:
            line(
                f"    {step}: process boot (spawn + load)",
                [r["per_step"][step]["boot"] for r in runs],
                loads,
                fmt="{:.1f}",
            )
            line(
                f"    {step}: work",
                [r["per_step"][step]["work"] for r in runs],
                loads,
                fmt="{:.1f}",
            )
        share = med([r["overhead_share"] for r in runs])
        print(f"{'  share of launch → done that is not step work':64s} {share * 100:8.0f}%")
    mat = results.get("materialize")
    if mat:
        loads = [r["load_start"] for r in mat]
        line(
            "7-day raw + features: dagster asset materialize --partition-range",
            [r["wall_s"] for r in mat],
            loads,
            fmt="{:.1f}",
        )
        line("  launch → RUN_START", [r["launch_to_run_start_s"] for r in mat], loads, fmt="{:.1f}")
        line("  step process boot (2 steps)", [r["step_boot"] for r in mat], loads, fmt="{:.1f}")
        line("    of which load code location", [r["step_load"] for r in mat], loads, fmt="{:.1f}")
        line("  step work (2 steps)", [r["step_work"] for r in mat], loads, fmt="{:.1f}")
    print(f"load average at the end: {load()}")


def environment_line() -> str:
    compiled = any((BIN.parent / "lib").glob("python3*/site-packages/dagster/__pycache__/*.pyc"))
    return (
        f"PYTHONDONTWRITEBYTECODE={os.environ.get('PYTHONDONTWRITEBYTECODE', '')!r}; "
        f"site-packages bytecode {'present' if compiled else 'MISSING (uv sync --compile-bytecode)'}; "
        f"energy_assets __pycache__ {'present' if any(REPO.glob('energy_assets/**/__pycache__')) else 'absent'}; "
        f"python {PYTHON}"
    )


def compare(all_results: dict[str, dict]) -> None:
    """The trees side by side: medians and the ratio of the first tree's to each other's."""
    names = list(all_results)
    rows = [
        ("import energy_assets.definitions", lambda r: med(r["imports"]["times"]["definitions"])),
        ("  ... and build the Definitions", lambda r: med(r["imports"]["times"]["load"])),
        ("import dagster (same run)", lambda r: med(r["imports"]["times"]["dagster"])),
        ("-X importtime total", lambda r: r["importtime"]["total"]),
        ("dagster definitions validate", lambda r: med(r["validate"]["times"])),
        (
            "hourly_forecast_job launched → SUCCESS",
            lambda r: med([x["launch_to_done_s"] for x in r["launch_runs"]]),
        ),
        ("  of which step work", lambda r: med([x["step_work"] for x in r["launch_runs"]])),
        (
            "7-day raw + features, dagster asset materialize",
            lambda r: med([x["wall_s"] for x in r["materialize"]]),
        ),
    ]
    print("\n" + "=" * 100)
    print(
        f"{'median seconds':50s}"
        + "".join(f"{n:>12s}" for n in names)
        + (f"{names[0] + '/' + names[-1]:>16s}" if len(names) > 1 else "")
    )
    for label, pick in rows:
        try:
            values = [pick(all_results[n]) for n in names]
        except (KeyError, TypeError):
            continue
        ratio = f"{values[0] / values[-1]:15.2f}×" if len(values) > 1 and values[-1] else ""
        print(f"{label:50s}" + "".join(f"{v:12.2f}" for v in values) + ratio)
    for name in names:
        r = all_results[name]
        if "imports" in r:
            share = med(r["imports"]["times"]["definitions"]) / med(
                r["imports"]["times"]["dagster"]
            )
            print(f"{name}: definitions import = {share:.2f}× import dagster")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--import-reps", type=int, default=5)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument(
        "--settle-load",
        type=float,
        default=0.0,
        help="before each measurement wait until the 1-min load average is below this (0: don't)",
    )
    parser.add_argument("--settle-max-wait", type=float, default=300.0, help="seconds, per wait")
    parser.add_argument(
        "--only", default="1234", help="which sections to run, e.g. 12 (default 1234)"
    )
    parser.add_argument(
        "--tree",
        action="append",
        default=[],
        metavar="NAME=DIR",
        help="a checkout to measure with its own .venv (repeatable); default: this one",
    )
    args = parser.parse_args()
    trees = [tuple(t.split("=", 1)) for t in args.tree] or [("this", str(HERE))]

    SETTLE.update(below=args.settle_load, max_wait=args.settle_max_wait)
    atexit.register(cleanup)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)

    print(machine_description())
    print(f"load average at start: {load()}", flush=True)
    RESULTS.mkdir(exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="bench_code_location_"))
    log = RESULTS / "bench_code_location.log"
    log.write_text("")
    print(f"temp homes under {root}; subprocess output in {log}")
    all_results: dict[str, dict] = {}
    envs: dict[str, dict] = {}
    for name, folder in trees:
        use_tree(Path(folder))
        all_results[name] = {"tree": f"{name} ({REPO})", "environment": environment_line()}
        envs[name] = bench_env(make_home(root, f"plain_{name}", launchable=False), None)
        print(all_results[name]["tree"], all_results[name]["environment"])
    try:
        if "1" in args.only:
            print("\n== 1. imports (fresh interpreter each; trees and statements interleaved) ==")
            for rep in range(args.import_reps):
                for name, folder in trees:
                    use_tree(Path(folder))
                    bench_import_rep(envs[name], rep, log, all_results[name])
            for name, folder in trees:
                use_tree(Path(folder))
                bench_import_details(envs[name], log, all_results[name])
        for name, folder in trees:
            use_tree(Path(folder))
            results = all_results[name]
            if "2" in args.only:
                bench_validate(envs[name], args.reps, log, results)
            if "3" in args.only or "4" in args.only:
                api_url = start_replay_api(log)
                print(f"{name}: replay API (bundled slice, plain timestamps) at {api_url}")
                if "3" in args.only:
                    bench_launch(root / name, api_url, args.reps, log, results)
                if "4" in args.only:
                    bench_materialize(root / name, api_url, args.reps, log, results)
                cleanup()
    finally:
        cleanup()
        (RESULTS / "bench_code_location.json").write_text(
            json.dumps(all_results, indent=1, default=str)
        )
        shutil.rmtree(root, ignore_errors=True)
    print("\n" + machine_description())
    for name in all_results:
        report(all_results[name])
    if len(all_results) > 1 or "1" in args.only:
        compare(all_results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
