"""Benchmark: `reconcile validate` over 10,000 declarations vs PyYAML's bare C loader.

Usage: .venv/bin/python bench/validate.py [--count 10000]
Target (issue 2): the validation work (everything after Django and Celery have started)
costs at most 1.5x the bare C-loader parse of the same files, all rules included.
"""
from __future__ import annotations

import argparse
import gc
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")


def best_of(runs: int, fn) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(runs):
        gc.collect()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    options = parser.parse_args()

    import django
    import yaml

    django.setup()
    from bench.generate import write_tree
    from reconciler.pipeline import default_registry, validate_paths

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "schedules"
        files = write_tree(root, options.count)
        size = sum(p.stat().st_size for p in files)
        registry = default_registry()

        def bare() -> None:
            for path in files:
                yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)

        def validate(use_cache: bool = False) -> None:
            result = validate_paths([root], registry=registry, use_cache=use_cache)
            assert result.valid and len(result.declared.tasks) == options.count, result.diagnostics[:3]

        validate()  # warm-up: imports and lazily built pydantic validators
        bare_s = best_of(options.runs, bare)
        validate_s = best_of(options.runs, validate)  # cold: every file parsed (the cache bypassed)
        validate(use_cache=True)
        warm_s = best_of(options.runs, lambda: validate(use_cache=True))
        gc.disable()
        bare_nogc_s = best_of(options.runs, bare)
        gc.enable()
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, str(REPO / "manage.py"), "reconcile", "validate", "--no-cache", "--path", str(root)],
            cwd=REPO, capture_output=True, text=True, check=False,
        )
        command_s = time.perf_counter() - start
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]

    print(f"declarations: {options.count:,} in {len(files)} files, {size / 1e6:.1f} MB of YAML")
    print(f"bare C-loader parse (yaml.load CSafeLoader): {bare_s:.3f} s")
    print(f"bare C-loader parse, GC paused as we do:     {bare_nogc_s:.3f} s")
    ratio = validate_s / bare_s
    print(f"validation work (load+validate+resolve):    {validate_s:.3f} s  ratio {ratio:.2f}x (target <= 1.5x)")
    print(f"  ratio against the bare parse with GC paused too: {validate_s / bare_nogc_s:.2f}x")
    print(f"validation with a warm cache (no file changed): {warm_s:.3f} s  ratio {warm_s / bare_s:.2f}x")
    print(f"whole command (process start to exit):      {command_s:.3f} s")


if __name__ == "__main__":
    main()
