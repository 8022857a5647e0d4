"""Benchmark: whole ``manage.py reconcile`` commands, each a new process (issue 21).

Usage: .venv/bin/python bench/commands.py [--count 100000] [--backends sqlite,postgres]

``bench/scale.py`` measures the pipeline inside one warm process; a deploy step, a CI job or
a cron'd apply each start a new one: Django's set-up, the imports, the Celery registry and
the validation cache's load are paid every time. This runs, against a fresh database and
``bench/generate.py``'s tree (100 declarations a file), each command as its own process:
``validate`` of an empty folder (start-up alone, before any row exists), the first apply
(cold cache), a no-op apply, an apply after one file changed, then ``plan`` and ``validate``
of an empty folder with every row in the database. Each is timed from the parent (the
whole process) with its peak resident memory (``os.wait4``'s rusage of that one child), and
printed beside its ratio to the bare C-loader parse of the same files (measured as
``bench/scale.py`` does, in a process of its own) and the issue's target. The steps with an
absolute target (start-up, about 1 s each) run 5 times: their median. The first apply runs
``--first-runs`` times (3), each in a fresh database with a cold cache and between two parses of
its own: its figure is the median of its ratios to the mean of the parse before and the parse
after (a shared machine's speed drifts by a third within an hour, which a single pair of runs
minutes apart reads as the command's).

The start-up targets are absolute (1.0 s), so the bench also times Django's own start-up in the
same project (``manage.py version``: settings, ``django.setup()``, the Celery app) with and
without the ``reconciler`` app installed: the first is what any management command of the
project pays, whatever it does; the difference is what installing the reconciler adds to it.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.generate import write_tree
from bench.harness import REPO, fresh_database

PARSE = (
    "import sys, time, yaml, pathlib\n"
    "files = sorted(pathlib.Path(sys.argv[1]).glob('*.yaml'))\n"
    "start = time.perf_counter()\n"
    "for path in files: yaml.load(path.read_text(encoding='utf-8'), Loader=yaml.CSafeLoader)\n"
    "print(time.perf_counter() - start)\n"
)
# (label, subcommand and its arguments ({tree}, {empty}), the exit codes that mean it worked,
# the target: a ratio to the parse ("x") or seconds ("s"))
STEPS: tuple[tuple[str, str, tuple[int, ...], tuple[float, str] | None], ...] = (
    ("validate, empty folder, empty database", "validate --path {empty}", (0,), (1.0, "s")),
    ("first apply (cold cache)", "apply --path {tree}", (0,), (2.5, "x")),
    ("no-op apply", "apply --path {tree}", (0,), (0.25, "x")),
    ("apply after one file changed", "apply --path {tree}", (0,), (0.3, "x")),
    ("plan of the tree (no change)", "plan --path {tree}", (0,), None),
    ("plan, empty folder, every row in the database", "plan --path {empty}", (0,), (1.0, "s")),
    ("validate, empty folder, every row in the database", "validate --path {empty}", (0,), (1.0, "s")),
)
PEAK_TARGET_MB = 1024
FLOOR_RUNS = 5
STARTUP_RUNS = 5  # the steps with an absolute target (about 1 s each): one run is a noisy figure
PARSE_RUNS = 3  # a shared machine's speed drifts by a third within an hour: one parse is a noisy baseline


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--backends", default="sqlite")
    parser.add_argument("--first-runs", type=int, default=3, help="first applies per backend (median ratio)")
    options = parser.parse_args()
    compiled = compile_bytecode()
    with tempfile.TemporaryDirectory() as tmp:
        tree, empty = Path(tmp) / "schedules", Path(tmp) / "empty"
        files = write_tree(tree, options.count)
        empty.mkdir()
        parses = sorted(bare_parse(tree) for _ in range(PARSE_RUNS))
        parse = statistics.median(parses)
        print(f"{options.count:,} declarations in {len(files):,} files; {os.cpu_count()} core(s); "
              f"bare C-loader parse {parse:.2f} s (median of {PARSE_RUNS} processes, "
              f"{parses[0]:.2f}-{parses[-1]:.2f} s; each first apply is compared with the parses run just before "
              f"and after it, the later steps with the median of every parse so far); "
              f"{compiled} modules of reconciler/ and project/ compiled to bytecode first")
        for backend in options.backends.split(","):
            run(backend, tree, empty, files, parses, max(1, options.first_runs))


def print_floor(env: dict[str, str], tmp: Path) -> None:
    """Django's own start-up in this project, with and without the reconciler app (medians of 5).
    Per backend: on PostgreSQL, Django's auth models import psycopg (about 0.1 s) whatever runs."""
    (tmp / "without_reconciler.py").write_text(
        "from project.settings import *  # noqa: F403\n"
        "INSTALLED_APPS = [app for app in INSTALLED_APPS if app != 'reconciler']  # noqa: F405\n"
    )
    figures = {}
    for label, settings in (("without", "without_reconciler"), ("with", "project.settings")):
        floor_env = {**env, "DJANGO_SETTINGS_MODULE": settings, "PYTHONPATH": f"{tmp}{os.pathsep}{REPO}"}
        figures[label] = statistics.median(
            command_run(["version"], floor_env, (0,), manage=())[0] for _ in range(FLOOR_RUNS)
        )
    print(f"  Django's own start-up in this project (manage.py version, median of {FLOOR_RUNS}): "
          f"{figures['without']:.2f} s without the reconciler app, {figures['with']:.2f} s with it "
          f"({figures['with'] - figures['without']:+.2f} s): the floor under the 1.0 s start-up targets")


def compile_bytecode() -> int:
    """Compile the project's modules, as ``pip install`` does for a wheel and as any first run
    does (Python writes ``__pycache__``): else, under ``PYTHONDONTWRITEBYTECODE`` (set in some
    shells and containers), every command would compile them from source, 0.1-0.2 s each time."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", "reconciler", "project"], cwd=REPO, check=True,
                   env={**os.environ, "PYTHONDONTWRITEBYTECODE": ""}, stdout=subprocess.DEVNULL)
    return sum(1 for folder in ("reconciler", "project") for _ in (REPO / folder).rglob("*.py"))


def bare_parse(tree: Path) -> float:
    out = subprocess.run([sys.executable, "-c", PARSE, str(tree)], capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def run(backend: str, tree: Path, empty: Path, files: list[Path], parses: list[float], first_runs: int) -> None:
    """The steps in order, against one database; the first apply ``first_runs`` times. The later
    steps' baseline is the median of every parse so far, the first applies' included."""
    print(f"\n{backend}: each command a new process")
    first = next(command for label, command, _, _ in STEPS if label.startswith("first apply"))
    firsts = [first_apply(backend, first.format(tree=tree).split(), tree) for _ in range(first_runs - 1)]
    parse = statistics.median(parses)
    with fresh_database(backend) as (url, tmp):
        env = migrated(url, tmp)
        print_floor(env, Path(tmp))
        for label, command, ok, target in STEPS:
            if label.startswith("first apply"):
                firsts.append(timed_beside_parse(command.format(tree=tree).split(), env, ok, tree))
                print_firsts(label, firsts, target)
                parse = statistics.median([*parses, *(p for _, _, p in firsts)])
                print(f"  {'':<52} the steps below: against the median of every parse so far, {parse:.2f} s")
                continue
            if label.startswith("apply after one file"):
                changed = files[len(files) // 2]
                text = changed.read_text()  # changed back and forth: each backend sees a change
                edited = text.replace("description: Digest for", "description: The digest for")
                changed.write_text(edited if edited != text else text.replace("The digest for", "Digest for"))
            args = command.format(tree=tree, empty=empty).split()
            runs = STARTUP_RUNS if target and target[1] == "s" else 1
            timed = sorted(command_run(args, env, ok) for _ in range(runs))
            seconds, peak_mb = statistics.median(t for t, _ in timed), max(mb for _, mb in timed)
            spread = f"  (median of {runs}: {timed[0][0]:.2f}-{timed[-1][0]:.2f} s)" if runs > 1 else ""
            print(f"  {label:<52} {seconds:7.2f} s {seconds / parse:6.2f}x the parse  "
                  f"peak {peak_mb:6.0f} MB  {verdict(seconds, parse, peak_mb, target)}{spread}", flush=True)


def migrated(url: str, tmp: str) -> dict[str, str]:
    """The environment of commands against a fresh database (migrated here) with a cold cache."""
    env = {**os.environ, "DATABASE_URL": url, "PROJECT_VAR_DIR": tmp, "DJANGO_SETTINGS_MODULE": "project.settings"}
    done = subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], env=env, cwd=REPO, capture_output=True,
                          text=True, check=False)  # its system-check warnings are the demo's, not figures
    if done.returncode != 0:
        raise SystemExit(f"migrate: exit {done.returncode}\n{done.stderr[-3000:]}")
    return env


def first_apply(backend: str, args: list[str], tree: Path) -> tuple[float, float, float]:
    """One more first apply (``args``), in a database and a cache folder of its own."""
    with fresh_database(backend) as (url, tmp):
        return timed_beside_parse(args, migrated(url, tmp), (0,), tree)


def timed_beside_parse(
    args: list[str], env: dict[str, str], ok: tuple[int, ...], tree: Path,
) -> tuple[float, float, float]:
    """(seconds, peak MB, the mean of a bare parse run just before it and one just after): the
    machine's speed drifts by a third within an hour, much less within the minute of the three."""
    before = bare_parse(tree)
    seconds, peak_mb = command_run(args, env, ok)
    return seconds, peak_mb, (before + bare_parse(tree)) / 2


def print_firsts(label: str, firsts: list[tuple[float, float, float]], target: tuple[float, str] | None) -> None:
    """The first apply, run several times: its median ratio to the parse run just before each."""
    ratios = sorted(seconds / parse for seconds, _, parse in firsts)
    ratio, peak_mb = statistics.median(ratios), max(peak for _, peak, _ in firsts)
    seconds = statistics.median(seconds for seconds, _, _ in firsts)
    each = ", ".join(f"{s:.2f}/{p:.2f} s" for s, _, p in firsts)
    print(f"  {label:<52} {seconds:7.2f} s {ratio:6.2f}x the parse  peak {peak_mb:6.0f} MB  "
          f"{verdict(ratio, 1.0, peak_mb, target)}\n"  # the ratio, against a parse of 1: the median ratio
          f"  {'':<52} median of {len(firsts)} runs, each against the mean of a parse just before and after it "
          f"(apply/mean parse: {each}; ratios {ratios[0]:.2f}-{ratios[-1]:.2f}x)", flush=True)


def command_run(
    args: list[str], env: dict[str, str], ok: tuple[int, ...], manage: tuple[str, ...] = ("reconcile",),
) -> tuple[float, float]:
    """(seconds, peak resident MB) of ``manage.py reconcile ARGS`` (``manage.py ARGS`` with
    ``manage=()``) as a new process."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "manage.py", *manage, *args], env=env, cwd=REPO,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    assert proc.stderr is not None
    errors = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in ok:
        raise SystemExit(f"{' '.join([*manage, *args])}: exit {proc.returncode}\n{errors.decode()[-3000:]}")
    return seconds, usage.ru_maxrss / 1024


def verdict(seconds: float, parse: float, peak_mb: float, target: tuple[float, str] | None) -> str:
    memory = "" if peak_mb < PEAK_TARGET_MB else f"; peak NOT < {PEAK_TARGET_MB} MB"
    if target is None:
        return memory.lstrip("; ")
    limit, unit = target
    value = seconds / parse if unit == "x" else seconds
    return f"target <= {limit}{unit}: {'met' if value <= limit else 'NOT met'}{memory}"


if __name__ == "__main__":
    main()
