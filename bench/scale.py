"""Benchmark: the engine at 100,000 declarations (issue 13), against the bare parse.

Usage: .venv/bin/python bench/scale.py [--count 100000] [--backends sqlite,postgres]

Generates ``bench/generate.py``'s tree (100 declarations a file), then, per backend, in a
fresh database and a fresh validation cache, in one child process: the bare PyYAML C-loader
parse of the same files (the baseline), the first apply (cold cache), a no-op apply, an
apply after one file changed, ``validate`` cold (no cache) and warm; the peak resident
memory of the child after the first apply. Prints absolute times and the ratios, each with
its target.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.generate import write_tree
from bench.harness import fresh_database

TARGETS = {  # ratio to the bare parse, at most
    "noop": 0.5, "one_file": 1.0, "first": 3.0, "validate_cold": 1.5,
}
LABELS = {
    "first": "first apply (empty database, cold cache)", "noop": "no-op apply",
    "one_file": "apply after one file changed",
    "validate_cold": "validate, cold (--no-cache)", "validate_warm": "validate, warm cache",
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        print(json.dumps(measure(Path(options.child))))
        return
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "schedules"
        files = write_tree(tree, options.count)
        size = sum(f.stat().st_size for f in files)
        print(f"{options.count:,} declarations in {len(files):,} files ({size / 1e6:.1f} MB); "
              f"{os.cpu_count()} core(s)")
        for backend in options.backends.split(","):
            report(backend, run(backend, tree))


def run(backend: str, tree: Path) -> dict[str, Any]:
    import subprocess

    with fresh_database(backend) as (url, tmp):
        env = {**os.environ, "DATABASE_URL": url, "PROJECT_VAR_DIR": tmp, "DJANGO_SETTINGS_MODULE": "project.settings"}
        proc = subprocess.run([sys.executable, __file__, "--child", str(tree)], env=env, capture_output=True,
                              text=True, check=False, cwd=Path(__file__).resolve().parent.parent)
        if proc.returncode != 0:
            raise SystemExit(proc.stderr[-3000:])
        return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def report(backend: str, m: dict[str, Any]) -> None:
    parse = m["parse"]
    print(f"\n{backend}: bare C-loader parse {parse:.2f} s (the baseline)")
    for key, label in LABELS.items():
        ratio = m[key] / parse
        target = TARGETS.get(key)
        verdict = f"target <= {target}x: {'met' if ratio <= target else 'NOT met'}" if target else ""
        print(f"  {label:<44} {m[key]:8.2f} s  {ratio:5.2f}x the parse   {verdict}")
    print(f"  peak resident memory after the first apply: {m['peak_mb']:.0f} MB (target < 1024 MB: "
          f"{'met' if m['peak_mb'] < 1024 else 'NOT met'})")


def measure(tree: Path) -> dict[str, Any]:
    import django

    django.setup()
    import yaml
    from django.core.management import call_command

    from reconciler.apply import ApplyOptions
    from reconciler.pipeline import apply_paths, default_registry, validate_paths

    call_command("migrate", verbosity=0)
    registry = default_registry()
    files = sorted(tree.glob("*.yaml"))

    def parse() -> None:
        for path in files:
            yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)

    def apply() -> Any:
        outcome = apply_paths([tree], options=ApplyOptions(revision="bench"), registry=registry)
        assert outcome.result is not None, outcome.validation.diagnostics[:3]
        return outcome

    m: dict[str, Any] = {"parse": timed(parse)}
    m["first"] = timed(apply)
    m["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    m["noop"] = timed(apply)
    changed = files[len(files) // 2]
    changed.write_text(changed.read_text().replace("every: 30s", "every: 31s").replace("every: 45\n", "every: 46\n"))
    m["one_file"] = timed(apply)
    m["validate_cold"] = timed(lambda: validate_paths([tree], registry=registry, use_cache=False))
    m["validate_warm"] = timed(lambda: validate_paths([tree], registry=registry))
    return m


def timed(fn: Any) -> float:
    import gc

    gc.collect()
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


if __name__ == "__main__":
    main()
