"""The cold path on every core gives exactly what one process gives."""
from __future__ import annotations

import threading
import time
from pathlib import Path

from reconciler.declare import parallel
from reconciler.pipeline import validate_paths
from tests.conftest import FIXTURES
from tests.support.engine import NOW, registry


def test_a_pool_of_workers_gives_the_same_result_as_one_process(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    tree = tmp_path / "tree"
    tree.mkdir()
    for folder in ("valid", "invalid", "hostile"):
        for path in (FIXTURES / folder).glob("*.yaml"):
            (tree / f"{folder}-{path.name}").write_bytes(path.read_bytes())
    monkeypatch.setattr(parallel, "_workers", lambda sources: 1)
    serial = validate_paths([tree], registry=registry(), now=NOW, use_cache=False)
    pools: list[int] = []
    real_pool = parallel.ProcessPoolExecutor

    def pool(workers: int, **kwargs):  # type: ignore[no-untyped-def]
        pools.append(workers)
        return real_pool(workers, **kwargs)

    monkeypatch.setattr(parallel, "_workers", lambda sources: 2)  # however many threads the test run has
    monkeypatch.setattr(parallel, "ProcessPoolExecutor", pool)
    monkeypatch.setattr(parallel, "_validate_chunk", _slow_here)  # the worker gets files of its own
    pooled = validate_paths([tree], registry=registry(), now=NOW, use_cache=False)
    assert pools == [1]  # one worker process; the calling process is the second
    assert pooled.declared == serial.declared
    assert pooled.diagnostics == serial.diagnostics and pooled.checked == serial.checked


def test_a_pool_with_the_cache_sends_entries_that_decode_to_the_same_result(
    tmp_path: Path, monkeypatch, settings,  # type: ignore[no-untyped-def]
) -> None:
    """With the cache, a worker sends each file without error of its own as its cache entry: the
    result decoded from it is the one a single process builds, and the entries the cache holds
    afterwards are byte for byte those a single process stores."""
    tree = tmp_path / "tree"
    tree.mkdir()
    for folder in ("valid", "invalid", "hostile"):
        for path in (FIXTURES / folder).glob("*.yaml"):
            (tree / f"{folder}-{path.name}").write_bytes(path.read_bytes())
    real_decode, decoded = parallel.decode, []

    def decode(data):  # type: ignore[no-untyped-def]
        decoded.append(data["name"])
        return real_decode(data)

    monkeypatch.setattr(parallel, "_validate_chunk", _slow_here)
    monkeypatch.setattr(parallel, "decode", decode)
    entries: dict[int, dict[str, bytes]] = {}
    for workers in (1, 2):
        settings.RECONCILER_CACHE_DIR = tmp_path / f"cache-{workers}"
        monkeypatch.setattr(parallel, "_workers", lambda sources, n=workers: n)
        result = validate_paths([tree], registry=registry(), now=NOW)
        parallel.settle()
        assert result.cached == 0
        if workers == 1:
            serial = result
        entries[workers] = {p.name: p.read_bytes() for p in (tmp_path / f"cache-{workers}").rglob("*.json")}
    assert result.declared == serial.declared and len(serial.declared.tasks) > 10
    assert [d.spec.digest() for d in result.declared.tasks] == [d.spec.digest() for d in serial.declared.tasks]
    assert result.diagnostics == serial.diagnostics and result.checked == serial.checked
    assert entries[2] == entries[1] and len(entries[1]) >= 3  # the files without any error
    assert decoded, "the worker sent entries"


_REAL_CHUNK = parallel._validate_chunk


def _slow_here(sources, context, entries, here=False):  # type: ignore[no-untyped-def]
    """``_validate_chunk``, the calling process's slowed down: it leaves a worker its share of a
    small tree (a worker pickles this function by name: it lives here, not in a test)."""
    if here:
        time.sleep(0.05)
    return _REAL_CHUNK(sources, context, entries, here)


def test_small_trees_and_threaded_callers_stay_in_process(tmp_path: Path) -> None:
    from reconciler.declare.files import SourceFile

    big = [SourceFile(f"f{i}.yaml", b"x" * 40_000) for i in range(40)]
    assert parallel._workers(big[:3]) == 1, "too few files to pay for a pool"
    blocker = threading.Event()
    thread = threading.Thread(target=blocker.wait)
    thread.start()
    try:
        assert parallel._workers(big) == 1, "never fork a process that runs other threads"
    finally:
        blocker.set()
        thread.join()


def test_work_in_the_background_runs_in_a_child_that_is_waited_for(tmp_path: Path) -> None:
    """``in_background``: a large piece of work runs in a forked child (this process's pid is
    not the one that writes), ``settle`` waits for it; a failing child leaves this process alone."""
    import os

    done = tmp_path / "done"
    parallel.in_background(lambda: done.write_text(str(os.getpid())), large=True)
    parallel.in_background(lambda: 1 / 0, large=True)  # type: ignore[func-returns-value]
    assert len(parallel._pending) == 2
    parallel.settle()
    assert parallel._pending == [] and int(done.read_text()) != os.getpid()


def test_work_in_the_background_stays_in_process_when_small_or_threaded(tmp_path: Path) -> None:
    import os

    small = tmp_path / "small"
    parallel.in_background(lambda: small.write_text(str(os.getpid())), large=False)
    assert int(small.read_text()) == os.getpid() and parallel._pending == []
    blocker = threading.Event()
    thread = threading.Thread(target=blocker.wait)
    thread.start()
    try:
        threaded = tmp_path / "threaded"
        parallel.in_background(lambda: threaded.write_text(str(os.getpid())), large=True)
        assert int(threaded.read_text()) == os.getpid() and parallel._pending == []
    finally:
        blocker.set()
        thread.join()
