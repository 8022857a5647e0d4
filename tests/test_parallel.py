"""The cold path on every core gives exactly what one process gives."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from reconciler import parallel
from reconciler.pipeline import validate_paths

from .conftest import FIXTURES
from .engine import NOW, registry


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="one core: the pool is never used")
def test_a_pool_of_workers_gives_the_same_result_as_one_process(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    tree = tmp_path / "tree"
    tree.mkdir()
    for folder in ("valid", "invalid", "hostile"):
        for path in (FIXTURES / folder).glob("*.yaml"):
            (tree / f"{folder}-{path.name}").write_bytes(path.read_bytes())
    serial = validate_paths([tree], registry=registry(), now=NOW, use_cache=False)
    monkeypatch.setattr(parallel, "MIN_FILES", 2)
    monkeypatch.setattr(parallel, "MIN_BYTES", 1)
    used: list[int] = []
    workers = parallel._workers
    monkeypatch.setattr(parallel, "_workers", lambda sources: used.append(workers(sources)) or used[-1])
    pooled = validate_paths([tree], registry=registry(), now=NOW, use_cache=False)
    assert used and used[0] >= 2
    assert pooled.declared == serial.declared
    assert pooled.diagnostics == serial.diagnostics and pooled.checked == serial.checked
